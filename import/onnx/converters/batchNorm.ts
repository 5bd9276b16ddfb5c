/**
 * BatchNormalization -> the factory's BatchNorm (late-phase where the chosen kinds say so), its
 * scale, bias and running statistics set from the file. The epsilon must be ours (1e-5, PyTorch's
 * and the exporter's), the momentum is PyTorch's convention after conversion (1 - ONNX's).
 */
import * as tf from '@tensorflow/tfjs-core';
import { BN_EPSILON } from '../../../src/nn/batchNorm';
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
  if (Math.abs(epsilon - BN_EPSILON) > 1e-9) ctx.fail(`epsilon ${epsilon}: latephase's BatchNorm uses ${BN_EPSILON}`);
  if (ctx.node.output && ctx.node.output.length > 1 && ctx.node.output.slice(1).some((o) => o))
    ctx.fail('training-mode outputs (running mean and variance) are not supported');
  const layer = ctx.factory.batchNorm(ctx.name, channels);
  // gamma, beta, then the running mean and variance, in the same order for plain and late-phase BatchNorm
  const targets = [...layer.params().map((p) => p.variable), ...layer.state().map((s) => s.variable)];
  if (targets.length !== 4) ctx.fail(`the BatchNorm made for it holds ${targets.length} tensors, not 4`);
  [scale, bias, mean, variance].forEach((t, i) => targets[i]!.assign(tf.tensor1d(Float32Array.from(t!.data))));
  return ctx.addLayer(layer, x);
};
