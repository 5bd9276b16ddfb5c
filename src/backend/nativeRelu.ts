/**
 * ReLU's gradient as one wasm kernel on the native module: dx = y > 0 ? dy : 0 from the saved
 * output, in place of tfjs's step(x) and a product (two passes and a temporary the size of x).
 * Registered only where the native kernels load; src/nn/activation.ts uses it when the backend has it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { wasmBackendOf } from './kernels/kernelOverride';
import { NativeKernelMakers } from './nativeKernels';

/** inputs {dy, y}; output dx. */
export const RELU_BACKWARD_KERNEL = 'LatephaseReluGrad';

/** The kernel, by name (registered from nativeKernelTable.ts). */
export const RELU_KERNELS: NativeKernelMakers = {
  [RELU_BACKWARD_KERNEL]:
    (n) =>
    ({ inputs, backend }) => {
      const wasm = wasmBackendOf(backend, RELU_BACKWARD_KERNEL);
      const { dy, y } = inputs as { dy: tf.TensorInfo; y: tf.TensorInfo };
      const dx = wasm.makeOutput([...y.shape], 'float32');
      const view = (t: tf.TensorInfo): Float32Array => wasm.typedArrayFromHeap(t) as Float32Array;
      n.reluBackward(view(dy), view(y), view(dx));
      return dx;
    },
};
