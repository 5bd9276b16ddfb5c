import { LSTM } from '../../../src/nn/lstm';
import { Lowering, output, weightData } from '../lowering';

/** [rows, cols] row-major -> [cols, rows]. */
function transpose2d(values: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c]!;
  return out;
}

/**
 * The ONNX LSTM op (forward, one direction, default sigmoid/tanh/tanh activations). Our gates are
 * already in ONNX's i, o, f, c order, so W = input^T, R = recurrent^T, B = [bias, 0]. The op is
 * sequence-major: batch-major [N, T, D] is transposed in, and Y [T, 1, N, H] squeezed and transposed out.
 */
export const lowerLSTM: Lowering<LSTM> = (layer, input, { graph }) => {
  const { inputSize: d, hidden: h } = layer;
  const w = graph.floatInitializer(`${layer.name}.W`, transpose2d(weightData(layer, layer.input), d, 4 * h), [1, 4 * h, d]);
  const r = graph.floatInitializer(`${layer.name}.R`, transpose2d(weightData(layer, layer.recurrent), h, 4 * h), [1, 4 * h, h]);
  const bias = new Float32Array(8 * h);
  bias.set(weightData(layer, layer.bias));
  const b = graph.floatInitializer(`${layer.name}.B`, bias, [1, 8 * h]);
  const seqMajor = graph.node('Transpose', [input.name], layer.name, { perm: { ints: [1, 0, 2] } });
  const y = graph.node('LSTM', [seqMajor, w, r, b], layer.name, { hidden_size: { i: h }, direction: { s: 'forward' } });
  const squeezed = graph.node('Squeeze', [y, graph.int64Initializer(`${layer.name}.axes`, [1])], layer.name);
  return output(layer, input, graph.node('Transpose', [squeezed], layer.name, { perm: { ints: [1, 0, 2] } }));
};
