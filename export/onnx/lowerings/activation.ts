import { Clip, HardSigmoid, HardSwish, LeakyReLU, ReLU, Sigmoid, Tanh } from '../../../src/nn/activation';
import { Lowering, output } from '../lowering';

export const lowerReLU: Lowering<ReLU> = (layer, input, { graph }) => output(layer, input, graph.node('Relu', [input.name], layer.name));

/** Clip takes its bounds as scalar inputs (opset 11 on). */
export const lowerClip: Lowering<Clip> = (layer, input, { graph }) => {
  const min = graph.floatInitializer(`${layer.name}.min`, [layer.min], []);
  const max = graph.floatInitializer(`${layer.name}.max`, [layer.max], []);
  return output(layer, input, graph.node('Clip', [input.name, min, max], layer.name));
};

export const lowerLeakyReLU: Lowering<LeakyReLU> = (layer, input, { graph }) =>
  output(layer, input, graph.node('LeakyRelu', [input.name], layer.name, { alpha: { f: layer.alpha } }));

export const lowerSigmoid: Lowering<Sigmoid> = (layer, input, { graph }) => output(layer, input, graph.node('Sigmoid', [input.name], layer.name));

export const lowerTanh: Lowering<Tanh> = (layer, input, { graph }) => output(layer, input, graph.node('Tanh', [input.name], layer.name));

export const lowerHardSigmoid: Lowering<HardSigmoid> = (layer, input, { graph }) =>
  output(layer, input, graph.node('HardSigmoid', [input.name], layer.name, { alpha: { f: layer.alpha }, beta: { f: layer.beta } }));

export const lowerHardSwish: Lowering<HardSwish> = (layer, input, { graph }) =>
  output(layer, input, graph.node('HardSwish', [input.name], layer.name));
