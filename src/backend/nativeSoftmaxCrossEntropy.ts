/**
 * The training loss as one wasm kernel on the native module: mean softmax cross-entropy and its
 * gradient with respect to the logits in one call (native/kernels/loss.c), in place of the forty-odd
 * small kernels the tape records for log-softmax, product, sum, mean and their gradients. Registered
 * only where the native kernels load; src/backend/operations/softmaxCrossEntropy.ts uses it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { wasmBackendOf } from './kernels/kernelOverride';
import { NativeKernelMakers } from './nativeKernels';

/** inputs {logits [n, c], targets [n, c]}; outputs [loss [], dlogits [n, c]]. */
export const SOFTMAX_CROSS_ENTROPY_KERNEL = 'LatephaseSoftmaxCrossEntropy';

/** The kernel, by name (registered from nativeKernelTable.ts). */
export const SOFTMAX_CROSS_ENTROPY_KERNELS: NativeKernelMakers = {
  [SOFTMAX_CROSS_ENTROPY_KERNEL]:
    (nat) =>
    ({ inputs, backend }) => {
      const wasm = wasmBackendOf(backend, SOFTMAX_CROSS_ENTROPY_KERNEL);
      const { logits, targets } = inputs as { logits: tf.TensorInfo; targets: tf.TensorInfo };
      if (logits.shape.length !== 2 || !tf.util.arraysEqual(logits.shape, targets.shape) || logits.dtype !== 'float32' || targets.dtype !== 'float32')
        throw new Error(
          `native softmax cross-entropy: expected float32 logits and targets of one [n, c] shape, got [${logits.shape}] and [${targets.shape}]`,
        );
      const loss = wasm.makeOutput([], 'float32');
      const dlogits = wasm.makeOutput([...logits.shape], 'float32');
      const view = (t: tf.TensorInfo): Float32Array => wasm.typedArrayFromHeap(t) as Float32Array;
      const value = nat.softmaxCrossEntropy(view(logits), view(targets), view(dlogits), logits.shape[1]!);
      view(loss)[0] = value;
      return [loss, dlogits];
    },
};
