import { Dense } from '../../../src/nn/dense';
import { Lowering, output } from '../lowering';

/** Gemm(x, W[in, out], b): tfjs's kernel layout is already Gemm's B without transposition. */
export const lowerDense: Lowering<Dense> = (layer, input, { graph }) => {
  const w = graph.floatInitializer(`${layer.name}.weight`, layer.kernel.variable.dataSync(), [layer.inUnits, layer.outUnits]);
  const inputs = [input.name, w];
  if (layer.bias) inputs.push(graph.floatInitializer(`${layer.name}.bias`, layer.bias.variable.dataSync(), [layer.outUnits]));
  return output(layer, input, graph.node('Gemm', inputs, layer.name));
};
