/**
 * A first layer's convolution, ReLU and max pool as one wasm kernel on the native module, and its
 * filter gradient from the pooled gradient: the full-resolution convolution output (and its
 * gradient, three quarters zeros) is never written or read back, and the bits are the unfused
 * kernels' (bench/README.md#native-kernels). Registered only where the native kernels load;
 * src/backend/operations/convReluMaxPool.ts uses them in train mode where the geometry fits.
 */
import * as tf from '@tensorflow/tfjs-core';
import { wasmBackendOf } from './kernels/kernelOverride';
import { NativeConvGeometry, NativeKernelMakers } from './nativeKernels';
import type { MaxPoolAttrs } from './nativeMaxPool';

/**
 * inputs {x [n, h, w, c], filter [kh, kw, c, o], bias? [o], indices}, attrs ConvPoolAttrs; output y.
 * `indices` (int32, y's shape, from `emptyIndices`) is a buffer the kernel fills with the flat index
 * into the convolution's output of each maximum. It is an input rather than a second output because
 * tfjs fills a zero gradient for every output the backward pass reaches without one: an int32 y-sized
 * tensor allocated, zeroed and copied into the heap each step (0.3 ms of a 3.5 ms bench CNN b32 step).
 */
export const CONV_POOL_FORWARD_KERNEL = 'LatephaseConvReluMaxPool';
/** inputs {x, dy, y, indices} (dy, y, indices: the pooled), attrs ConvPoolAttrs and {filterShape}; outputs [dfilter] or [dfilter, dbias]. */
export const CONV_POOL_FILTER_GRAD_KERNEL = 'LatephaseConvReluMaxPoolFilterGrad';

export interface ConvPoolAttrs {
  /** The convolution's (one stride for both axes, no dilation). */
  readonly strides: number;
  readonly pad: 'valid' | 'same';
  readonly pool: MaxPoolAttrs;
  /** Whether the convolution adds a bias (the forward's input `bias`; the gradient then outputs dbias). */
  readonly bias: boolean;
}

export interface ConvPoolGeometries {
  readonly conv: NativeConvGeometry;
  readonly pool: NativeConvGeometry;
}

/** The largest kh * kw * c the fusion takes (the few-channel filter gradient's limit, native SMALL_ROWS). */
const SMALL_ROWS = 32;

/**
 * The native geometries of conv(x, filter) then the pool, or null where the fusion does not apply
 * (the C side's conv_pool_applies): few input channels (kh * kw * c <= 32, not the Winograd shape),
 * output channels in 16s, a 'valid' pool whose stride is its window.
 */
export function convPoolGeometries(
  xShape: readonly number[],
  filterShape: readonly number[],
  attrs: Omit<ConvPoolAttrs, 'bias'>,
): ConvPoolGeometries | null {
  if (xShape.length !== 4 || filterShape.length !== 4) return null;
  const [kh, kw, c, o] = filterShape as [number, number, number, number];
  const winograd = kh === 3 && kw === 3 && attrs.strides === 1 && c % 16 === 0 && o % 16 === 0;
  const { filterSize, strides, pad } = attrs.pool;
  if (kh * kw * c > SMALL_ROWS || winograd || o % 16 !== 0 || pad !== 'valid' || strides !== filterSize || xShape[3] !== c) return null;
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
  );
  const [n, h, w] = xShape as [number, number, number, number];
  const [oh, ow] = [info.outHeight, info.outWidth];
  const [poh, pow] = [Math.floor(oh / filterSize), Math.floor(ow / filterSize)];
  // the indices are int32, flat into the convolution's output
  if (poh < 1 || pow < 1 || n * oh * ow * o > 2 ** 31 - 1) return null;
  return {
    conv: {
      ...{ n, h, w, c, oh, ow, o, kh, kw },
      strides: [attrs.strides, attrs.strides],
      dilations: [1, 1],
      padTopLeft: [info.padInfo.top, info.padInfo.left],
    },
    pool: {
      ...{ n, h: oh, w: ow, c: o, oh: poh, ow: pow, o, kh: filterSize, kw: filterSize },
      strides: [filterSize, filterSize],
      dilations: [1, 1],
      padTopLeft: [0, 0],
    },
  };
}

/** An int32 tensor of `shape` on the wasm backend, not initialised: the forward kernel's indices buffer. */
export function emptyIndices(shape: readonly number[]): tf.Tensor {
  const wasm = wasmBackendOf(tf.backend(), CONV_POOL_FORWARD_KERNEL);
  return tf.engine().makeTensorFromTensorInfo(wasm.makeOutput([...shape], 'int32'), wasm);
}

function geometriesOf(x: tf.TensorInfo, filterShape: readonly number[], attrs: Omit<ConvPoolAttrs, 'bias'>, kernel: string): ConvPoolGeometries {
  const g = x.dtype === 'float32' ? convPoolGeometries(x.shape, filterShape, attrs) : null;
  if (!g) throw new Error(`${kernel}: x ${x.dtype} [${x.shape}] and filter [${filterShape}] are not a fusable convolution and pool`);
  return g;
}

/** The two kernels, by name (registered from nativeKernelTable.ts). */
export const CONV_POOL_KERNELS: NativeKernelMakers = {
  [CONV_POOL_FORWARD_KERNEL]:
    (nat) =>
    ({ inputs, attrs, backend }) => {
      const wasm = wasmBackendOf(backend, CONV_POOL_FORWARD_KERNEL);
      const { x, filter, bias, indices } = inputs as { x: tf.TensorInfo; filter: tf.TensorInfo; bias?: tf.TensorInfo; indices: tf.TensorInfo };
      const a = attrs as unknown as ConvPoolAttrs;
      const { conv, pool } = geometriesOf(x, filter.shape, a, CONV_POOL_FORWARD_KERNEL);
      if (a.bias !== (bias !== undefined))
        throw new Error(`${CONV_POOL_FORWARD_KERNEL}: attrs.bias is ${a.bias} but a bias was${bias ? '' : ' not'} given`);
      const y = wasm.makeOutput([pool.n, pool.oh, pool.ow, pool.c], 'float32');
      if (indices.dtype !== 'int32' || !tf.util.arraysEqual(indices.shape, y.shape))
        throw new Error(`${CONV_POOL_FORWARD_KERNEL}: indices must be int32 [${y.shape}], got ${indices.dtype} [${indices.shape}]`);
      const view = (t: tf.TensorInfo): Float32Array => wasm.typedArrayFromHeap(t) as Float32Array;
      nat.convReluMaxPool(view(x), view(filter), bias ? view(bias) : null, view(y), wasm.typedArrayFromHeap(indices) as Int32Array, conv, pool);
      return y;
    },
  [CONV_POOL_FILTER_GRAD_KERNEL]:
    (nat) =>
    ({ inputs, attrs, backend }) => {
      const wasm = wasmBackendOf(backend, CONV_POOL_FILTER_GRAD_KERNEL);
      const { x, dy, y, indices } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo; y: tf.TensorInfo; indices: tf.TensorInfo };
      const a = attrs as unknown as ConvPoolAttrs & { readonly filterShape: [number, number, number, number] };
      const { conv, pool } = geometriesOf(x, a.filterShape, a, CONV_POOL_FILTER_GRAD_KERNEL);
      const dw = wasm.makeOutput([...a.filterShape], 'float32');
      const db = a.bias ? wasm.makeOutput([conv.o], 'float32') : null;
      const view = (t: tf.TensorInfo): Float32Array => wasm.typedArrayFromHeap(t) as Float32Array;
      nat.convReluMaxPoolFilterGradient(
        view(x),
        view(dy),
        view(y),
        wasm.typedArrayFromHeap(indices) as Int32Array,
        view(dw),
        db ? view(db) : null,
        conv,
        pool,
      );
      return db ? [dw, db] : [dw];
    },
};
