import { Pad2d } from '../../../src/nn/pad';
import { Lowering, output } from '../lowering';

/** ONNX Pad on NCHW: pads are [N, C, H, W begins, then ends]; the constant as a scalar input. */
export const lowerPad2d: Lowering<Pad2d> = (layer, input, { graph }) => {
  const [t, l, b, r] = layer.pads;
  const pads = graph.int64Initializer(`${layer.name}.pads`, [0, 0, t, l, 0, 0, b, r]);
  const value = graph.floatInitializer(`${layer.name}.value`, [layer.value], []);
  return output(layer, input, graph.node('Pad', [input.name, pads, value], layer.name, { mode: { s: 'constant' } }));
};
