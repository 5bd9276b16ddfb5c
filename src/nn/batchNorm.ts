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
import { cloneVariable, ForwardContext, Layer, makeParam, makeState, NamedVariable, Param, ReluFusing } from './layer';
import { constant } from './init';
import { expectLastDim, expectRank } from './shape';
import { BATCH_NORM_BACKWARD_KERNEL, BATCH_NORM_FORWARD_KERNEL } from '../backend/nativeBatchNorm';

export const BN_EPSILON = 1e-5;
export const BN_MOMENTUM = 0.1;

export interface BatchNormTensors {
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
 * Whether BatchNorm applies a ReLU that follows it itself (ForwardContext.reluAfter): in train mode
 * where the fused kernels run, whose passes take the ReLU and its gradient along.
 */
export function batchNormFusesRelu(ctx: ForwardContext): boolean {
  return ctx.training && tf.getKernel(BATCH_NORM_FORWARD_KERNEL, tf.getBackend()) !== undefined;
}

/** Shared by plain and late-phase BatchNorm: one implementation of the math and the running update (then a ReLU with ctx.reluAfter). */
export function batchNormForward(x: tf.Tensor, t: BatchNormTensors, cfg: BatchNormConfig, ctx: ForwardContext): tf.Tensor {
  const relu = ctx.reluAfter === true;
  if (!ctx.training) {
    const evaluate = (): tf.Tensor => batchNormEval(x, t.gamma, t.beta, t.runningMean, t.runningVar, cfg.epsilon);
    return relu ? tf.tidy(() => tf.relu(evaluate())) : evaluate();
  }
  return batchNormTrain(x, t.gamma, t.beta, cfg.epsilon, relu, (mean, variance, n) => {
    const m = ctx.runningMomentum ?? cfg.momentum;
    const unbiased = n > 1 ? tf.mul(variance, n / (n - 1)) : variance;
    t.runningMean.assign(tf.add(tf.mul(t.runningMean, 1 - m), tf.mul(mean, m)));
    t.runningVar.assign(tf.add(tf.mul(t.runningVar, 1 - m), tf.mul(unbiased, m)));
  });
}

/** Train-mode normalisation of x; `onStatistics` receives the batch mean, biased variance and the count they are over. */
type TrainNormalize = (
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  epsilon: number,
  relu: boolean,
  onStatistics: (mean: tf.Tensor, variance: tf.Tensor, count: number) => void,
) => tf.Tensor;

/**
 * Train-mode normalisation with batch statistics, with the standard BatchNorm backward written out:
 *   dbeta = sum(dy), dgamma = sum(dy * xhat), dx = gamma / sigma * (dy - (dbeta + xhat * dgamma) / M).
 * Fused kernels where the backend has them, else tfjs ops.
 */
const batchNormTrain: TrainNormalize = (x, gamma, beta, epsilon, relu, onStatistics) => {
  return tf.getKernel(BATCH_NORM_FORWARD_KERNEL, tf.getBackend())
    ? fusedBatchNormTrain(x, gamma, beta, epsilon, relu, onStatistics)
    : compositeBatchNormTrain(x, gamma, beta, epsilon, relu, onStatistics);
};

/**
 * The same with the backend's fused kernels (src/backend/nativeBatchNorm.ts): one forward and one
 * backward kernel; the backward recomputes xhat from the saved input instead of saving xhat. With
 * `relu` both kernels include the ReLU (its gradient masked by the saved output, as ReLU's own).
 */
const fusedBatchNormTrain: TrainNormalize = (x, gamma, beta, epsilon, relu, onStatistics) => {
  const count = x.size / x.shape[x.rank - 1]!;
  const normalize = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xIn, g, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const [y, mean, variance, invStd] = tf
      .engine()
      .runKernel(BATCH_NORM_FORWARD_KERNEL, { x: xIn, gamma: g, beta: b }, { epsilon, relu }) as tf.Tensor[];
    onStatistics(mean!, variance!, count);
    save(relu ? [xIn, g, mean!, invStd!, y!] : [xIn, g, mean!, invStd!]);
    return {
      value: y!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, gs, ms, is, ys] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
        const inputs = { dy, x: xs, gamma: gs, mean: ms, invStd: is, ...(ys ? { y: ys } : {}) };
        return tf.engine().runKernel(BATCH_NORM_BACKWARD_KERNEL, inputs) as tf.Tensor[];
      },
    };
  });
  return normalize(x, gamma, beta);
};

/**
 * With tfjs ops. tfjs's own gradients of mean and variance multiply by host-made arrays of ones the
 * size of x, which cost more than the arithmetic (bench/README.md#batchnorm-backward): hence the
 * written-out backward.
 */
const compositeBatchNormTrain: TrainNormalize = (x, gamma, beta, epsilon, relu, onStatistics) => {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const count = x.size / x.shape[x.rank - 1]!;
  const normalize = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xIn, g, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const mean = tf.mean(xIn, axes);
    const centred = tf.sub(xIn, mean);
    const variance = tf.mean(tf.square(centred), axes);
    const invStd = tf.rsqrt(tf.add(variance, epsilon));
    const xhat = tf.mul(centred, invStd);
    onStatistics(mean, variance, count);
    save([xhat, invStd, g]);
    return {
      value: tf.add(tf.mul(xhat, g), b),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xh, inv, gam] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        const dbeta = tf.sum(dy, axes);
        const dgamma = tf.sum(tf.mul(dy, xh), axes);
        const correction = tf.div(tf.add(tf.mul(xh, dgamma), dbeta), count);
        return [tf.mul(tf.sub(dy, correction), tf.mul(gam, inv)), dgamma, dbeta];
      },
    };
  });
  const y = normalize(x, gamma, beta);
  return relu ? tf.relu(y) : y;
};

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
export class BatchNorm implements Layer, ReluFusing {
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

  fusesRelu(ctx: ForwardContext): boolean {
    return batchNormFusesRelu(ctx);
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
