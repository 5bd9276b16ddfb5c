/** Relu -> ReLU; Identity and Dropout (inference: the identity) pass their input on. */
import { ReLU } from '../../../src/nn/activation';
import { Converter } from '../converter';

export const convertRelu: Converter = (ctx) => ctx.addLayer(new ReLU(ctx.name), ctx.graphInput(0));

export const convertIdentity: Converter = (ctx) => ctx.input(0);
