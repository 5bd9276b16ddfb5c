/**
 * Where a minibatch's loss and gradients come from. The trainer asks a GradientSource and never
 * knows whether they were computed in this thread (`LocalGradients`) or split across worker threads
 * (`DataParallelGradients` in dataParallel.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Model } from '../nn/model';
import { NamedVariable, Param, TRAIN } from '../nn/layer';
import { softmaxCrossEntropy } from '../nn/loss';

export interface LossAndGrads {
  readonly loss: tf.Scalar;
  /** One gradient per requested parameter, in the same order. */
  readonly grads: tf.Tensor[];
}

/** Loss and gradients of `params` (in order) on one minibatch, in train mode (BatchNorm updates its running statistics). */
export function lossAndGrads(model: Model, xb: tf.Tensor, yb: tf.Tensor, params: readonly Param[]): LossAndGrads {
  const { value, grads } = tf.variableGrads(
    () => softmaxCrossEntropy(model.forward(xb, TRAIN), yb),
    params.map((p) => p.variable),
  );
  return { loss: value, grads: params.map((p) => grads[p.variable.name]!) };
}

export interface GradientSource {
  /**
   * Loss and gradients of `params` on the training rows `rows`, with late-phase member `member`
   * selected in `model`; `state` is the state the step may update (stepState). The caller owns the
   * returned tensors.
   */
  compute(model: Model, rows: Int32Array, params: readonly Param[], member: number, state: readonly NamedVariable[]): Promise<LossAndGrads>;
  /** Called after the trainer released `model` into `k` members. */
  released(model: Model, k: number): Promise<void>;
  close(): Promise<void>;
}

/** The whole minibatch in this thread, gathered from the training tensors on the device. */
export class LocalGradients implements GradientSource {
  constructor(
    private readonly x: tf.Tensor,
    private readonly y: tf.Tensor,
  ) {}

  compute(model: Model, rows: Int32Array, params: readonly Param[]): Promise<LossAndGrads> {
    return Promise.resolve(this.computeNow(model, rows, params));
  }

  /** The synchronous form, for callers that overlap it with other threads' work. */
  computeNow(model: Model, rows: Int32Array, params: readonly Param[]): LossAndGrads {
    return tf.tidy(() => {
      const idx = tf.tensor1d(rows, 'int32');
      const { loss, grads } = lossAndGrads(model, tf.gather(this.x, idx), tf.gather(this.y, idx), params);
      return { loss, grads };
    });
  }

  released(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
