import { ReLU } from '../../../src/nn/activation';
import { Lowering, output } from '../lowering';

export const lowerReLU: Lowering<ReLU> = (layer, input, { graph }) => output(layer, input, graph.node('Relu', [input.name], layer.name));
