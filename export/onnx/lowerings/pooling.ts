import { AvgPool, GlobalAvgPool, MaxPool } from '../../../src/nn/pooling';
import { Lowering, output } from '../lowering';
import { windowPads } from '../layout';

function windowAttrs(
  layer: MaxPool | AvgPool,
  shape: readonly number[],
): { kernel_shape: { ints: number[] }; strides: { ints: number[] }; pads: { ints: number[] } } {
  const [h, w] = shape as [number, number, number];
  return {
    kernel_shape: { ints: [layer.poolSize, layer.poolSize] },
    strides: { ints: [layer.stride, layer.stride] },
    pads: { ints: windowPads(h, w, layer.poolSize, layer.stride, layer.padding) },
  };
}

export const lowerMaxPool: Lowering<MaxPool> = (layer, input, { graph }) =>
  output(layer, input, graph.node('MaxPool', [input.name], layer.name, windowAttrs(layer, input.shape)));

/** count_include_pad = 0 matches tfjs, which averages over the real cells of a padded window. */
export const lowerAvgPool: Lowering<AvgPool> = (layer, input, { graph }) =>
  output(layer, input, graph.node('AveragePool', [input.name], layer.name, { ...windowAttrs(layer, input.shape), count_include_pad: { i: 0 } }));

/** GlobalAveragePool keeps [N, C, 1, 1]; tfjs gives [N, C]. */
export const lowerGlobalAvgPool: Lowering<GlobalAvgPool> = (layer, input, { graph }) => {
  const pooled = graph.node('GlobalAveragePool', [input.name], layer.name);
  return output(layer, input, graph.node('Flatten', [pooled], layer.name, { axis: { i: 1 } }));
};
