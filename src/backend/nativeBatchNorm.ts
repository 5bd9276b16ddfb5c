/**
 * Train-mode BatchNorm as two fused wasm kernels on the native module: forward (batch statistics
 * and normalisation in three passes over x) and backward (both sums in one pass, then dx), in place
 * of about fifteen elementwise and reduction kernels with a tensor each (bench/README.md#native-kernels).
 * Both can include a ReLU that follows the BatchNorm (`relu`; its gradient through the saved
 * output, bit for bit what the separate ReLU kernels give), which saves a pass each way. They are
 * registered only where the native kernels load; src/nn/batchNorm.ts uses them when the active
 * backend has them and its composite otherwise (which the tests compare them against).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { wasmBackendOf } from './kernels/kernelOverride';
import { NativeKernelMakers } from './nativeKernels';

/** inputs {x [.., C], gamma [C], beta [C]}, attrs {epsilon, relu}; outputs [y (after a ReLU with relu), mean, variance (biased), invStd]. */
export const BATCH_NORM_FORWARD_KERNEL = 'LatephaseBatchNormForward';
/**
 * inputs {dy, x, gamma, mean, invStd, and y where the forward ran with relu}; outputs [dx, dgamma,
 * dbeta]. dy is x's shape, or [n, C] for x [n, h, w, C]: a global average pool's gradient divided
 * by h * w, one row per image (batchNormTrain's `globalAvgPool`).
 */
export const BATCH_NORM_BACKWARD_KERNEL = 'LatephaseBatchNormBackward';

/** Float views of `tensors` on the wasm heap, taken after every allocation (allocation may move the heap). */
const views = (wasm: BackendWasm, tensors: readonly tf.TensorInfo[]): Float32Array[] =>
  tensors.map((t) => wasm.typedArrayFromHeap(t) as Float32Array);

function channels(t: tf.TensorInfo): number {
  const c = t.shape[t.shape.length - 1];
  if (!c || t.dtype !== 'float32') throw new Error(`native BatchNorm: expected a float32 tensor with channels last, got ${t.dtype} [${t.shape}]`);
  return c;
}

/** The two kernels, by name (registered from nativeKernelTable.ts). */
export const BATCH_NORM_KERNELS: NativeKernelMakers = {
  [BATCH_NORM_FORWARD_KERNEL]:
    (n) =>
    ({ inputs, attrs, backend }) => {
      const wasm = wasmBackendOf(backend, BATCH_NORM_FORWARD_KERNEL);
      const { x, gamma, beta } = inputs as { x: tf.TensorInfo; gamma: tf.TensorInfo; beta: tf.TensorInfo };
      const c = channels(x);
      const outs = [wasm.makeOutput([...x.shape], 'float32'), ...[0, 1, 2].map(() => wasm.makeOutput([c], 'float32'))];
      const [xv, gv, bv, y, mean, variance, invStd] = views(wasm, [x, gamma, beta, ...outs]);
      const { epsilon, relu } = attrs as { epsilon: number; relu?: boolean };
      n.batchNormForward(xv!, gv!, bv!, y!, mean!, variance!, invStd!, epsilon, relu === true);
      return outs;
    },
  [BATCH_NORM_BACKWARD_KERNEL]:
    (n) =>
    ({ inputs, backend }) => {
      const wasm = wasmBackendOf(backend, BATCH_NORM_BACKWARD_KERNEL);
      const { dy, x, gamma, mean, invStd, y } = inputs as Record<'dy' | 'x' | 'gamma' | 'mean' | 'invStd', tf.TensorInfo> & { y?: tf.TensorInfo };
      const c = channels(x);
      const outs = [wasm.makeOutput([...x.shape], 'float32'), wasm.makeOutput([c], 'float32'), wasm.makeOutput([c], 'float32')];
      const [dyv, xv, gv, mv, iv, dx, dgamma, dbeta, mask] = views(wasm, [dy, x, gamma, mean, invStd, ...outs, ...(y ? [y] : [])]);
      n.batchNormBackward(dyv!, xv!, gv!, mv!, iv!, dx!, dgamma!, dbeta!, mask ?? null);
      return outs;
    },
};
