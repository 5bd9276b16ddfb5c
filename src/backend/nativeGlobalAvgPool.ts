/**
 * Global average pooling as two wasm kernels on the native module: the mean over the pixels in one
 * pass, and its gradient broadcast in one pass, in place of tfjs's Mean (an average pool, a cast
 * and reshapes here) and of a tensor of ones filled and multiplied. Registered only where the
 * native kernels load; src/backend/operations/globalAvgPool.ts uses them when the backend has them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { wasmBackendOf } from './kernels/kernelOverride';
import { NativeKernelMakers } from './nativeKernels';

/** inputs {x [n, h, w, c]}; output [n, c]. */
export const GLOBAL_AVG_POOL_FORWARD_KERNEL = 'LatephaseGlobalAvgPool';
/** inputs {dy [n, c]}, attrs {inputShape}; output dx [n, h, w, c]. */
export const GLOBAL_AVG_POOL_BACKWARD_KERNEL = 'LatephaseGlobalAvgPoolGrad';

const floats = (wasm: ReturnType<typeof wasmBackendOf>, t: tf.TensorInfo): Float32Array => wasm.typedArrayFromHeap(t) as Float32Array;

/** The two kernels, by name (registered from nativeKernelTable.ts). */
export const GLOBAL_AVG_POOL_KERNELS: NativeKernelMakers = {
  [GLOBAL_AVG_POOL_FORWARD_KERNEL]:
    (nat) =>
    ({ inputs, backend }) => {
      const wasm = wasmBackendOf(backend, GLOBAL_AVG_POOL_FORWARD_KERNEL);
      const { x } = inputs as { x: tf.TensorInfo };
      if (x.shape.length !== 4 || x.dtype !== 'float32')
        throw new Error(`native global average pool: expected a float32 [n, h, w, c] tensor, got ${x.dtype} [${x.shape}]`);
      const [n, , , c] = x.shape as [number, number, number, number];
      const y = wasm.makeOutput([n, c], 'float32');
      nat.globalAvgPool(floats(wasm, x), floats(wasm, y), c);
      return y;
    },
  [GLOBAL_AVG_POOL_BACKWARD_KERNEL]:
    (nat) =>
    ({ inputs, attrs, backend }) => {
      const wasm = wasmBackendOf(backend, GLOBAL_AVG_POOL_BACKWARD_KERNEL);
      const { dy } = inputs as { dy: tf.TensorInfo };
      const shape = [...(attrs as { inputShape: number[] }).inputShape];
      const dx = wasm.makeOutput(shape, 'float32');
      nat.globalAvgPoolGrad(floats(wasm, dy), floats(wasm, dx), shape[3]!);
      return dx;
    },
};
