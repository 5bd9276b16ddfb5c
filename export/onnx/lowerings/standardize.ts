import { Standardize } from '../../../src/nn/standardize';
import { Lowering, output } from '../lowering';

/** (x - mean) / std as Sub then Div, the same two operations tfjs runs. */
export const lowerStandardize: Lowering<Standardize> = (layer, input, { graph }) => {
  const mean = graph.floatInitializer(`${layer.name}.mean`, [layer.mean], []);
  const std = graph.floatInitializer(`${layer.name}.std`, [layer.std], []);
  const centered = graph.node('Sub', [input.name, mean], layer.name);
  return output(layer, input, graph.node('Div', [centered, std], layer.name));
};
