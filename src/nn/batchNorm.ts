/**
 * BatchNorm over the last (channel) axis.
 *
 * Conventions, stated once here and written explicitly into ONNX:
 * - y = gamma * (x - mean) / sqrt(var + epsilon) + beta, epsilon default 1e-5;
 * - train mode normalises with the batch's biased variance; eval mode uses running statistics;
 * - running updates use PyTorch's momentum convention: running = (1 - momentum) * running +
 *   momentum * batch, momentum default 0.1, and the running variance takes the unbiased batch
 *   variance (n / (n - 1)), as PyTorch does.
 */
import * as tf from '@tensorflow/tfjs-core';
import { cloneVariable, ForwardContext, Layer, makeParam, makeState, NamedVariable, Param, ReluFollowed, ReluGlobalAvgPoolFollowed } from './layer';
import { constant } from './init';
import { expectLastDim, expectRank } from './shape';
import { batchNormTrain, globalAvgPool } from '../backend/operations';

export const BN_EPSILON = 1e-5;
export const BN_MOMENTUM = 0.1;

interface BatchNormTensors {
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;
}

export interface BatchNormConfig {
  readonly epsilon: number;
  readonly momentum: number;
}

/**
 * Shared by plain and late-phase BatchNorm: one implementation of the math and the running update.
 * `relu`: a ReLU follows (Sequential hands both over); `pool`: then a global average pool; in
 * train mode the backend computes them together where it has fused kernels.
 */
export function batchNormForward(
  x: tf.Tensor,
  t: BatchNormTensors,
  cfg: BatchNormConfig,
  ctx: ForwardContext,
  relu = false,
  pool = false,
): tf.Tensor {
  if (!ctx.training) {
    const evaluate = (): tf.Tensor => batchNormEval(x, t.gamma, t.beta, t.runningMean, t.runningVar, cfg.epsilon);
    if (!relu) return evaluate();
    const activated = tf.tidy(() => tf.relu(evaluate()));
    return pool ? globalAvgPoolOf(activated, ctx) : activated;
  }
  return batchNormTrain({
    x,
    gamma: t.gamma,
    beta: t.beta,
    epsilon: cfg.epsilon,
    relu,
    globalAvgPool: pool,
    onStatistics: (mean, variance, n) => {
      const m = ctx.runningMomentum ?? cfg.momentum;
      const unbiased = n > 1 ? tf.mul(variance, n / (n - 1)) : variance;
      t.runningMean.assign(tf.add(tf.mul(t.runningMean, 1 - m), tf.mul(mean, m)));
      t.runningVar.assign(tf.add(tf.mul(t.runningVar, 1 - m), tf.mul(unbiased, m)));
    },
  });
}

/** The global average pool of `activated` (computed apart: eval mode, a late-phase average), which it disposes. */
export function globalAvgPoolOf(activated: tf.Tensor, ctx: ForwardContext): tf.Tensor {
  const pooled = globalAvgPool(activated, ctx.training);
  activated.dispose();
  return pooled;
}

export function batchNormEval(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, epsilon: number): tf.Tensor {
  return tf.tidy(() => {
    const scale = tf.mul(gamma, tf.rsqrt(tf.add(variance, epsilon)));
    return tf.add(tf.mul(x, scale), tf.sub(beta, tf.mul(mean, scale)));
  });
}

export function checkBatchNormInput(name: string, channels: number, input: readonly number[]): number[] {
  expectRank(name, input, [1, 3]);
  expectLastDim(name, input, channels);
  return [...input];
}

/** Plain BatchNorm layer: what a late-phase BatchNorm folds into. */
export class BatchNorm implements Layer, ReluFollowed, ReluGlobalAvgPoolFollowed {
  readonly kind = 'batchnorm';
  readonly gamma: Param;
  readonly beta: Param;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;
  readonly config: BatchNormConfig;

  constructor(
    readonly name: string,
    readonly channels: number,
    opts: Partial<BatchNormConfig> & { tensors?: BatchNormTensors } = {},
  ) {
    this.config = { epsilon: opts.epsilon ?? BN_EPSILON, momentum: opts.momentum ?? BN_MOMENTUM };
    const t = opts.tensors;
    this.gamma = t ? { name: `${name}.gamma`, variable: t.gamma, decay: true } : makeParam(`${name}.gamma`, constant([channels], 1));
    this.beta = t ? { name: `${name}.beta`, variable: t.beta, decay: true } : makeParam(`${name}.beta`, constant([channels], 0));
    this.runningMean = t ? t.runningMean : makeState(constant([channels], 0));
    this.runningVar = t ? t.runningVar : makeState(constant([channels], 1));
  }

  get tensors(): BatchNormTensors {
    return { gamma: this.gamma.variable, beta: this.beta.variable, runningMean: this.runningMean, runningVar: this.runningVar };
  }

  outputShape(input: readonly number[]): number[] {
    return checkBatchNormInput(this.name, this.channels, input);
  }

  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    return batchNormForward(x, this.tensors, this.config, ctx);
  }

  forwardThenRelu(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    return batchNormForward(x, this.tensors, this.config, ctx, true);
  }

  forwardThenReluGlobalAvgPool(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    return batchNormForward(x, this.tensors, this.config, ctx, true, true);
  }

  params(): Param[] {
    return [this.gamma, this.beta];
  }

  state(): NamedVariable[] {
    return [
      { name: `${this.name}.runningMean`, variable: this.runningMean },
      { name: `${this.name}.runningVar`, variable: this.runningVar },
    ];
  }

  children(): readonly Layer[] {
    return [];
  }

  clone(): BatchNorm {
    return new BatchNorm(this.name, this.channels, {
      ...this.config,
      tensors: {
        gamma: cloneVariable(this.gamma.variable, true),
        beta: cloneVariable(this.beta.variable, true),
        runningMean: cloneVariable(this.runningMean, false),
        runningVar: cloneVariable(this.runningVar, false),
      },
    });
  }

  dispose(): void {
    for (const v of Object.values(this.tensors)) v.dispose();
  }
}
