/**
 * Max pooling for training as two wasm kernels on the native module: the forward records where each
 * maximum came from, and the gradient is one scatter of dy by those indices, in place of tfjs's
 * MaxPoolGrad, which searches every window again (bench/README.md#native-kernels). Registered only
 * where the native kernels load; src/nn/pooling.ts uses them in train mode when the backend has them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { wasmBackendOf } from './kernels/kernelOverride';
import { NativeConvGeometry, NativeKernelMakers } from './nativeKernels';

/** inputs {x [n, h, w, c]}, attrs MaxPoolAttrs and {relu}; outputs [y, indices (int32, flat into x)]. */
export const MAX_POOL_FORWARD_KERNEL = 'LatephaseMaxPoolWithIndices';
/** inputs {dy, indices, y?} (y: the forward's output when it ran with relu), attrs MaxPoolAttrs and {inputShape}; output dx. */
export const MAX_POOL_BACKWARD_KERNEL = 'LatephaseMaxPoolGradFromIndices';

export interface MaxPoolAttrs {
  readonly filterSize: number;
  readonly strides: number;
  readonly pad: 'valid' | 'same';
}

/** The two kernels, by name (registered from nativeKernelTable.ts). */
export const MAX_POOL_KERNELS: NativeKernelMakers = {
  [MAX_POOL_FORWARD_KERNEL]:
    (nat) =>
    ({ inputs, attrs, backend }) => {
      const wasm = wasmBackendOf(backend, MAX_POOL_FORWARD_KERNEL);
      const { x } = inputs as { x: tf.TensorInfo };
      const a = attrs as unknown as MaxPoolAttrs & { readonly relu?: boolean };
      if (x.shape.length !== 4 || x.dtype !== 'float32')
        throw new Error(`native max pool: expected a float32 [n, h, w, c] tensor, got ${x.dtype} [${x.shape}]`);
      const g = poolGeometry(x.shape as [number, number, number, number], a);
      const y = wasm.makeOutput([g.n, g.oh, g.ow, g.c], 'float32');
      const indices = wasm.makeOutput([g.n, g.oh, g.ow, g.c], 'int32');
      nat.maxPoolForward(
        wasm.typedArrayFromHeap(x) as Float32Array,
        wasm.typedArrayFromHeap(y) as Float32Array,
        wasm.typedArrayFromHeap(indices) as Int32Array,
        g,
        a.relu === true,
      );
      return [y, indices];
    },
  [MAX_POOL_BACKWARD_KERNEL]:
    (nat) =>
    ({ inputs, attrs, backend }) => {
      const wasm = wasmBackendOf(backend, MAX_POOL_BACKWARD_KERNEL);
      const { dy, indices, y } = inputs as { dy: tf.TensorInfo; indices: tf.TensorInfo; y?: tf.TensorInfo };
      const a = attrs as unknown as MaxPoolAttrs & { readonly inputShape: [number, number, number, number] };
      const dx = wasm.makeOutput([...a.inputShape], 'float32');
      nat.maxPoolBackward(
        wasm.typedArrayFromHeap(dy) as Float32Array,
        wasm.typedArrayFromHeap(indices) as Int32Array,
        wasm.typedArrayFromHeap(dx) as Float32Array,
        y ? (wasm.typedArrayFromHeap(y) as Float32Array) : null,
        poolGeometry(a.inputShape, a),
      );
      return dx;
    },
};

/** The native geometry of a pool of x [n, h, w, c] (tfjs's padding rules). */
function poolGeometry(shape: readonly [number, number, number, number], a: MaxPoolAttrs): NativeConvGeometry {
  const info = tf.backend_util.computePool2DInfo([...shape], a.filterSize, a.strides, 1, a.pad);
  const [n, h, w, c] = shape;
  return {
    ...{ n, h, w, c, oh: info.outHeight, ow: info.outWidth, o: c, kh: info.filterHeight, kw: info.filterWidth },
    strides: [info.strideHeight, info.strideWidth],
    dilations: [1, 1],
    padTopLeft: [info.padInfo.top, info.padInfo.left],
  };
}
