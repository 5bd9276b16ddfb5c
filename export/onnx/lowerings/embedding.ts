import { Embedding } from '../../../src/nn/embedding';
import { Lowering, output, weightData } from '../lowering';
import { onnx } from 'onnx-proto';

/** The model takes float-coded ids (like every latephase input); Cast to int64, then Gather rows of the table. */
export const lowerEmbedding: Lowering<Embedding> = (layer, input, { graph }) => {
  const table = graph.floatInitializer(`${layer.name}.table`, weightData(layer, layer.table), [layer.vocab, layer.dim]);
  const ids = graph.node('Cast', [input.name], layer.name, { to: { i: onnx.TensorProto.DataType.INT64 } });
  return output(layer, input, graph.node('Gather', [table, ids], layer.name, { axis: { i: 0 } }));
};
