/**
 * Max pooling over NHWC windows. In training, where the backend has the native kernels
 * (src/backend/nativeMaxPool.ts), the forward records the index of each maximum and the gradient
 * scatters dy by them; elsewhere tfjs's MaxPool and its gradient.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MAX_POOL_BACKWARD_KERNEL, MAX_POOL_FORWARD_KERNEL, MaxPoolAttrs } from '../nativeMaxPool';

export type { MaxPoolAttrs } from '../nativeMaxPool';

export function maxPool(x: tf.Tensor, attrs: MaxPoolAttrs, training: boolean): tf.Tensor {
  if (training && tf.getKernel(MAX_POOL_FORWARD_KERNEL, tf.getBackend())) return maxPoolWithIndices(x, attrs);
  return tf.maxPool(x as tf.Tensor4D, attrs.filterSize, attrs.strides, attrs.pad);
}

function maxPoolWithIndices(x: tf.Tensor, attrs: MaxPoolAttrs): tf.Tensor {
  const pool = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xIn, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const [y, indices] = tf.engine().runKernel(MAX_POOL_FORWARD_KERNEL, { x: xIn }, { ...attrs }) as [tf.Tensor, tf.Tensor];
    save([indices]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.engine().runKernel(MAX_POOL_BACKWARD_KERNEL, { dy, indices: saved[0]! }, { inputShape: xIn.shape }) as tf.Tensor,
    };
  });
  return pool(x);
}
