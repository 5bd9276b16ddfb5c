import { Standardize } from '../../../src/nn/standardize';
import { Lowering, output } from '../lowering';
import { isImageShape } from '../layout';

/** (x - mean) / std as Sub then Div, the same two operations tfjs runs; per-channel constants broadcast over NCHW as [C, 1, 1]. */
export const lowerStandardize: Lowering<Standardize> = (layer, input, { graph }) => {
  const dims = layer.channels === 1 ? [] : isImageShape(input.shape) ? [layer.channels, 1, 1] : [layer.channels];
  const mean = graph.floatInitializer(`${layer.name}.mean`, layer.mean, dims);
  const std = graph.floatInitializer(`${layer.name}.std`, layer.std, dims);
  const centered = graph.node('Sub', [input.name, mean], layer.name);
  return output(layer, input, graph.node('Div', [centered, std], layer.name));
};
