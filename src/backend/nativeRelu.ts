/**
 * ReLU's gradient as one wasm kernel on the native module: dx = y > 0 ? dy : 0 from the saved
 * output, in place of tfjs's step(x) and a product (two passes and a temporary the size of x).
 * Registered only where the native kernels load; src/nn/activation.ts uses it when the backend has it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { isWasmBackend } from './kernels/kernelOverride';
import { NativeKernels } from './nativeKernels';

/** inputs {dy, y}; output dx. */
export const RELU_BACKWARD_KERNEL = 'LatephaseReluGrad';

export function useNativeRelu(native: NativeKernels | Error): void {
  if (tf.getKernel(RELU_BACKWARD_KERNEL, 'wasm')) tf.unregisterKernel(RELU_BACKWARD_KERNEL, 'wasm');
  if (native instanceof Error) return;
  tf.registerKernel({
    kernelName: RELU_BACKWARD_KERNEL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      if (!isWasmBackend(backend)) throw new Error('native ReLU gradient runs on the wasm backend only');
      const { dy, y } = inputs as { dy: tf.TensorInfo; y: tf.TensorInfo };
      const dx = backend.makeOutput([...y.shape], 'float32');
      const view = (t: tf.TensorInfo): Float32Array => backend.typedArrayFromHeap(t) as Float32Array;
      native.reluBackward(view(dy), view(y), view(dx));
      return dx;
    },
  });
}
