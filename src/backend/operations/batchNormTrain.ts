/**
 * Train-mode BatchNorm with batch statistics, optionally followed by a ReLU: the backend's fused
 * kernels where they are registered (src/backend/nativeBatchNorm.ts: one pass forward, one back,
 * the ReLU included), else tfjs ops with the standard backward written out:
 *   dbeta = sum(dy), dgamma = sum(dy * xhat), dx = gamma / sigma * (dy - (dbeta + xhat * dgamma) / M).
 * The two give the same bits (tested); the choice is the backend's, never the layer's.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BATCH_NORM_BACKWARD_KERNEL, BATCH_NORM_FORWARD_KERNEL } from '../nativeBatchNorm';
import { relu as reluOp } from './relu';
import { globalAvgPool } from './globalAvgPool';
import { GLOBAL_AVG_POOL_FORWARD_KERNEL } from '../nativeGlobalAvgPool';

/** Receives the batch mean, biased variance and the count they are over (for the running statistics). */
export type OnBatchStatistics = (mean: tf.Tensor, variance: tf.Tensor, count: number) => void;

export interface BatchNormTrainArgs {
  readonly x: tf.Tensor;
  readonly gamma: tf.Tensor;
  readonly beta: tf.Tensor;
  readonly epsilon: number;
  /** Apply max(y, 0) after the normalisation (a ReLU that follows the BatchNorm). */
  readonly relu: boolean;
  /**
   * Return the mean of the result over [h, w] of x [n, h, w, c] (a global average pool that follows):
   * the pool's gradient then reaches the backward kernel as one row per image, never written out
   * at x's size (the same values, so the same bits as the separate pool).
   */
  readonly globalAvgPool?: boolean;
  readonly onStatistics: OnBatchStatistics;
}

export function batchNormTrain(args: BatchNormTrainArgs): tf.Tensor {
  if (tf.getKernel(BATCH_NORM_FORWARD_KERNEL, tf.getBackend()) && tf.getKernel(GLOBAL_AVG_POOL_FORWARD_KERNEL, tf.getBackend())) return fused(args);
  const y = composite(args);
  return args.globalAvgPool ? globalAvgPool(y, true) : y;
}

/** One forward and one backward kernel; the backward recomputes xhat from the saved input instead of saving xhat. */
function fused({ x, gamma, beta, epsilon, relu, globalAvgPool: pooled, onStatistics }: BatchNormTrainArgs): tf.Tensor {
  const count = x.size / x.shape[x.rank - 1]!;
  if (pooled && x.rank !== 4) throw new Error(`batchNormTrain: a global average pool needs x [n, h, w, c], got [${x.shape}]`);
  const pixels = pooled ? x.shape[1]! * x.shape[2]! : 1;
  const normalize = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xIn, g, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const [y, mean, variance, invStd] = tf
      .engine()
      .runKernel(BATCH_NORM_FORWARD_KERNEL, { x: xIn, gamma: g, beta: b }, { epsilon, relu }) as tf.Tensor[];
    onStatistics(mean!, variance!, count);
    save(relu ? [xIn, g, mean!, invStd!, y!] : [xIn, g, mean!, invStd!]);
    return {
      value: pooled ? (tf.engine().runKernel(GLOBAL_AVG_POOL_FORWARD_KERNEL, { x: y! }) as tf.Tensor) : y!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, gs, ms, is, ys] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
        // the pool's gradient dy / pixels at every pixel, as one row per image (the backward kernel reads it per image)
        const rows = pooled ? tf.div(dy, pixels) : dy;
        const inputs = { dy: rows, x: xs, gamma: gs, mean: ms, invStd: is, ...(ys ? { y: ys } : {}) };
        return tf.engine().runKernel(BATCH_NORM_BACKWARD_KERNEL, inputs) as tf.Tensor[];
      },
    };
  });
  return normalize(x, gamma, beta);
}

/**
 * With tfjs ops. tfjs's own gradients of mean and variance multiply by host-made arrays of ones the
 * size of x, which cost more than the arithmetic (bench/README.md#batchnorm-backward): hence the
 * written-out backward.
 */
function composite({ x, gamma, beta, epsilon, relu, onStatistics }: BatchNormTrainArgs): tf.Tensor {
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
  return relu ? reluOp(y, true) : y;
}
