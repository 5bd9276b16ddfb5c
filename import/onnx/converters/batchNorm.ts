/**
 * BatchNormalization -> the factory's BatchNorm (late-phase where the chosen kinds say so), its
 * scale, bias and running statistics set from the file, with the file's epsilon (the exporter writes
 * it back) and its momentum in PyTorch's convention (1 - ONNX's).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Converter } from '../converter';

export const convertBatchNormalization: Converter = (ctx) => {
  const x = ctx.graphInput(0);
  const channels = x.shape[x.shape.length - 1]!;
  const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => ctx.constInput(i));
  for (const [what, t] of [
    ['scale', scale],
    ['bias', bias],
    ['mean', mean],
    ['var', variance],
  ] as const)
    if (t!.data.length !== channels) ctx.fail(`${what} holds ${t!.data.length} values for ${channels} channels`);
  const epsilon = ctx.attrFloat('epsilon', 1e-5);
  if (!(epsilon > 0)) ctx.fail(`epsilon ${epsilon} must be positive`);
  // ONNX's momentum weighs the old running value (0.9 by default); latephase's, like PyTorch's, the batch
  const momentum = 1 - ctx.attrFloat('momentum', 0.9);
  if (ctx.node.output && ctx.node.output.length > 1 && ctx.node.output.slice(1).some((o) => o))
    ctx.fail('training-mode outputs (running mean and variance) are not supported');
  const layer = ctx.factory.batchNorm(ctx.name, channels, { epsilon, momentum });
  // gamma, beta, then the running mean and variance, in the same order for plain and late-phase BatchNorm
  const targets = [...layer.params().map((p) => p.variable), ...layer.state().map((s) => s.variable)];
  if (targets.length !== 4) ctx.fail(`the BatchNorm made for it holds ${targets.length} tensors, not 4`);
  [scale, bias, mean, variance].forEach((t, i) => targets[i]!.assign(tf.tensor1d(Float32Array.from(t!.data))));
  return ctx.addLayer(layer, x);
};
