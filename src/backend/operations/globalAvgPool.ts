/**
 * The mean of x [n, h, w, c] over [h, w]. In training, where the backend has the native kernels
 * (src/backend/nativeGlobalAvgPool.ts), the forward and the gradient are one pass each; elsewhere
 * tfjs's Mean, with its gradient written out as dy / (h * w) times a device-filled tensor of ones
 * (tfjs's own Mean gradient builds that tensor of ones as a host array on every step). The two
 * agree to float rounding (the sums' order differs), so inference keeps tfjs's Mean: an imported
 * model predicts what tfjs's own predict gives, to the last bit where the rest is the same.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GLOBAL_AVG_POOL_BACKWARD_KERNEL, GLOBAL_AVG_POOL_FORWARD_KERNEL } from '../nativeGlobalAvgPool';

export function globalAvgPool(x: tf.Tensor, training: boolean): tf.Tensor {
  return training && tf.getKernel(GLOBAL_AVG_POOL_FORWARD_KERNEL, tf.getBackend()) ? native(x) : composite(x);
}

const native = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const x = args[0] as tf.Tensor;
  return {
    value: tf.engine().runKernel(GLOBAL_AVG_POOL_FORWARD_KERNEL, { x }) as tf.Tensor,
    gradFunc: (dy: tf.Tensor) => tf.engine().runKernel(GLOBAL_AVG_POOL_BACKWARD_KERNEL, { dy }, { inputShape: x.shape }) as tf.Tensor,
  };
});

const composite = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const x = args[0] as tf.Tensor;
  const [n, h, w, c] = x.shape as [number, number, number, number];
  return {
    value: tf.mean(x, [1, 2]),
    gradFunc: (dy: tf.Tensor) => tf.mul(tf.reshape(tf.div(dy, h * w), [n, 1, 1, c]), tf.fill([n, h, w, c], 1)),
  };
});
