/**
 * Activations -> the latephase layers of the same name (Relu -> ReLU, Clip -> Clip: ReLU6 is
 * Clip(0, 6), LeakyRelu, Sigmoid, Tanh, HardSigmoid, HardSwish); Identity and Dropout (inference:
 * the identity) pass their input on.
 */
import { Clip, HardSigmoid, HardSwish, LeakyReLU, ReLU, Sigmoid, Tanh } from '../../../src/nn/activation';
import { Converter } from '../converter';

export const convertRelu: Converter = (ctx) => ctx.addLayer(new ReLU(ctx.name), ctx.graphInput(0));

/** Bounds as inputs (opset 11 on); an absent bound is unbounded. */
export const convertClip: Converter = (ctx) => {
  const x = ctx.graphInput(0);
  const min = ctx.has(1) ? ctx.constInput(1).data[0]! : -Infinity;
  const max = ctx.has(2) ? ctx.constInput(2).data[0]! : Infinity;
  if (min === -Infinity && max === Infinity) return x;
  return ctx.addLayer(new Clip(ctx.name, min, max), x);
};

export const convertLeakyRelu: Converter = (ctx) => ctx.addLayer(new LeakyReLU(ctx.name, ctx.attrFloat('alpha', 0.01)), ctx.graphInput(0));

export const convertSigmoid: Converter = (ctx) => ctx.addLayer(new Sigmoid(ctx.name), ctx.graphInput(0));

export const convertTanh: Converter = (ctx) => ctx.addLayer(new Tanh(ctx.name), ctx.graphInput(0));

export const convertHardSigmoid: Converter = (ctx) =>
  ctx.addLayer(new HardSigmoid(ctx.name, ctx.attrFloat('alpha', 0.2), ctx.attrFloat('beta', 0.5)), ctx.graphInput(0));

export const convertHardSwish: Converter = (ctx) => ctx.addLayer(new HardSwish(ctx.name), ctx.graphInput(0));

export const convertIdentity: Converter = (ctx) => ctx.input(0);
