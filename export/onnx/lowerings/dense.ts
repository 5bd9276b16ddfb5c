import { Dense } from '../../../src/nn/dense';
import { Lowering, output, weightData } from '../lowering';

/**
 * Gemm(x, W[in, out], b) for vectors: tfjs's kernel layout is already Gemm's B. Inputs with more
 * axes (a dense layer per time step) use MatMul, which broadcasts over them, then Add.
 */
export const lowerDense: Lowering<Dense> = (layer, input, { graph }) => {
  const w = graph.floatInitializer(`${layer.name}.weight`, weightData(layer, layer.kernel), [layer.inUnits, layer.outUnits]);
  const bias = layer.bias ? graph.floatInitializer(`${layer.name}.bias`, weightData(layer, layer.bias), [layer.outUnits]) : null;
  if (input.shape.length === 1) return output(layer, input, graph.node('Gemm', bias ? [input.name, w, bias] : [input.name, w], layer.name));
  const product = graph.node('MatMul', [input.name, w], layer.name);
  return output(layer, input, bias ? graph.node('Add', [product, bias], layer.name) : product);
};
