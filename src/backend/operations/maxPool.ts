/**
 * Max pooling over NHWC windows, optionally of a ReLU's output (`reluBefore`: computed as the ReLU
 * of the pool, which is the same bits since the maximum commutes with the ReLU, on a quarter of the
 * cells). In training, where the backend has the native kernels (src/backend/nativeMaxPool.ts), the
 * forward records the index of each maximum and the gradient scatters dy by them (where the pooled
 * output is positive, with the ReLU); elsewhere tfjs's MaxPool and its gradient.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MAX_POOL_BACKWARD_KERNEL, MAX_POOL_FORWARD_KERNEL, MaxPoolAttrs } from '../nativeMaxPool';

export type { MaxPoolAttrs } from '../nativeMaxPool';

export function maxPool(x: tf.Tensor, attrs: MaxPoolAttrs, training: boolean, reluBefore = false): tf.Tensor {
  if (training && tf.getKernel(MAX_POOL_FORWARD_KERNEL, tf.getBackend())) return maxPoolWithIndices(x, attrs, reluBefore);
  const pooled = tf.maxPool(x as tf.Tensor4D, attrs.filterSize, attrs.strides, attrs.pad);
  return reluBefore ? tf.relu(pooled) : pooled;
}

function maxPoolWithIndices(x: tf.Tensor, attrs: MaxPoolAttrs, relu: boolean): tf.Tensor {
  const pool = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xIn, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const [y, indices] = tf.engine().runKernel(MAX_POOL_FORWARD_KERNEL, { x: xIn }, { ...attrs, relu }) as [tf.Tensor, tf.Tensor];
    save(relu ? [indices, y] : [indices]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf
          .engine()
          .runKernel(
            MAX_POOL_BACKWARD_KERNEL,
            { dy, indices: saved[0]!, ...(relu && { y: saved[1]! }) },
            { ...attrs, inputShape: xIn.shape },
          ) as tf.Tensor,
    };
  });
  return pool(x);
}
