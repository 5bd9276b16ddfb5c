/**
 * ReLU. In training, where the backend has the native gradient kernel (src/backend/nativeRelu.ts),
 * the gradient is one kernel from the saved output instead of tfjs's step(x) and a product.
 */
import * as tf from '@tensorflow/tfjs-core';
import { RELU_BACKWARD_KERNEL } from '../nativeRelu';

export function relu(x: tf.Tensor, training: boolean): tf.Tensor {
  return training && tf.getKernel(RELU_BACKWARD_KERNEL, tf.getBackend()) ? reluWithFusedGradient(x) : tf.relu(x);
}

const reluWithFusedGradient = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  const y = tf.relu(x);
  save([y]);
  return {
    value: y,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel(RELU_BACKWARD_KERNEL, { dy, y: saved[0]! }) as tf.Tensor,
  };
}) as (x: tf.Tensor) => tf.Tensor;
