import { BatchNorm } from '../../../src/nn/batchNorm';
import { Lowering, output } from '../lowering';

/** Inference-mode BatchNormalization; epsilon and training_mode = 0 are always written. */
export const lowerBatchNorm: Lowering<BatchNorm> = (layer, input, { graph }) => {
  const c = [layer.channels];
  const t = layer.tensors;
  const inputs = [
    input.name,
    graph.floatInitializer(`${layer.name}.gamma`, t.gamma.dataSync(), c),
    graph.floatInitializer(`${layer.name}.beta`, t.beta.dataSync(), c),
    graph.floatInitializer(`${layer.name}.running_mean`, t.runningMean.dataSync(), c),
    graph.floatInitializer(`${layer.name}.running_var`, t.runningVar.dataSync(), c),
  ];
  const out = graph.node('BatchNormalization', inputs, layer.name, {
    epsilon: { f: layer.config.epsilon },
    momentum: { f: 1 - layer.config.momentum }, // ONNX's momentum weighs the running value; unused at inference
    training_mode: { i: 0 },
  });
  return output(layer, input, out);
};
