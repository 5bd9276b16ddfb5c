import * as tf from '@tensorflow/tfjs-core';
import { ForwardContext, StatelessLayer } from './layer';
import { RELU_BACKWARD_KERNEL } from '../backend/nativeRelu';

export class ReLU extends StatelessLayer {
  readonly kind = 'relu';
  outputShape(input: readonly number[]): number[] {
    return [...input];
  }
  forward(x: tf.Tensor, ctx?: ForwardContext): tf.Tensor {
    return ctx?.training && tf.getKernel(RELU_BACKWARD_KERNEL, tf.getBackend()) ? reluWithFusedGradient(x) : tf.relu(x);
  }
}

/** tfjs's ReLU forward; the gradient one kernel from the saved output (src/backend/nativeRelu.ts). */
const reluWithFusedGradient = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  const y = tf.relu(x);
  save([y]);
  return {
    value: y,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel(RELU_BACKWARD_KERNEL, { dy, y: saved[0]! }) as tf.Tensor,
  };
}) as (x: tf.Tensor) => tf.Tensor;
