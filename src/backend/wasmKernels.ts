/**
 * Gradient kernels for the wasm backend (convolutions here, max pooling in wasmMaxPoolGradient.ts).
 *
 * tfjs-backend-wasm 4.22 has no `Conv2DBackpropFilter` kernel, so the stock `tf.conv2d` gradient
 * throws there; its `Conv2DBackpropInput` is a naive loop ~10x slower than a forward convolution.
 * Both gradients are convolutions in disguise, so we register kernels that run them as forward
 * `Conv2D` calls, which the wasm backend executes through XNNPACK:
 *
 * - filter gradient: dW[i,j,c,o] = sum_{n,y,x} xPad[n, y*s+i, x*s+j, c] * dy[n,y,x,o], i.e. a
 *   convolution of x^T ([c, H, W, n]) with dy^T ([oh, ow, n, o]) at dilation s (measured 5-30x faster
 *   than im2col + matmul or the wasm Conv3D filter gradient on the MNIST CNN's shapes);
 * - input gradient: a forward convolution of dy (zero-inserted for strides), padded by (k-1-pad),
 *   with the filter flipped in space and its channel axes swapped.
 *
 * Nested ops inside a kernel are not recorded on the gradient tape (tfjs only records at kernel
 * depth 0), so these kernels are safe to call from backprop.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { maxPoolGradientInto, MaxPoolGradAttrs } from './wasmMaxPoolGradient';
import { reduceLeadingBlock, ReduceAttrs } from './wasmReductions';

function isWasmBackend(backend: unknown): backend is BackendWasm {
  return backend instanceof tf.KernelBackend && typeof (backend as Partial<BackendWasm>).typedArrayFromHeap === 'function';
}

type Conv2DPad = 'same' | 'valid' | number | ExplicitPadding;
type ExplicitPadding = [[number, number], [number, number], [number, number], [number, number]];

/** Attributes tfjs passes to both convolution gradient kernels. */
interface ConvGradAttrs {
  strides: [number, number] | number;
  pad: Conv2DPad;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}
interface FilterGradAttrs extends ConvGradAttrs {
  filterShape: [number, number, number, number];
}
interface InputGradAttrs extends ConvGradAttrs {
  inputShape: [number, number, number, number];
}

/** Kernels receive the engine's Tensor objects; this narrows the KernelFunc's loose input type. */
function asTensor4D(info: tf.TensorInfo, what: string): tf.Tensor4D {
  if (!(info instanceof tf.Tensor) || info.rank !== 4) throw new Error(`wasm kernel: ${what} must be a rank-4 tensor`);
  return info as tf.Tensor4D;
}

/** Hand a tensor made by nested ops to the engine as a kernel output (ref count 1, owned by the caller). */
function toKernelOutput(t: tf.Tensor, backend: unknown): tf.TensorInfo {
  if (!(backend instanceof tf.KernelBackend)) throw new Error('wasm kernel called without a backend');
  backend.incRef(t.dataId);
  const info = { dataId: t.dataId, shape: t.shape, dtype: t.dtype };
  t.dispose();
  return info;
}

function requireNHWC(dataFormat: string, kernel: string): void {
  if (dataFormat !== 'NHWC') throw new Error(`${kernel} on wasm supports NHWC only, got ${dataFormat}`);
}

export function conv2dFilterGradient(x: tf.Tensor4D, dy: tf.Tensor4D, attrs: FilterGradAttrs): tf.Tensor4D {
  const info = tf.backend_util.computeConv2DInfo(
    x.shape, attrs.filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast',
  );
  const { top, bottom, left, right } = info.padInfo;
  const [fh, fw, ci, co] = attrs.filterShape;
  return tf.tidy(() => {
    const xPad = top || bottom || left || right ? tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]]) : x;
    const xT = tf.transpose(xPad, [3, 1, 2, 0]);
    const dyT = tf.transpose(dy, [1, 2, 0, 3]);
    const full = tf.conv2d(xT, dyT, 1, 'valid', 'NHWC', [info.strideHeight, info.strideWidth]);
    const taps = full.shape[1] === fh && full.shape[2] === fw ? full : tf.slice(full, [0, 0, 0, 0], [ci, fh, fw, co]);
    return tf.transpose(taps, [1, 2, 0, 3]);
  });
}

/**
 * [kh, kw, in, out] -> [kh, kw, out, in] flipped in space, in one host pass (the wasm Reverse kernel
 * cost more than the convolution it feeds on WRN shapes).
 */
function flippedFilter(filter: tf.Tensor4D): tf.Tensor4D {
  const [kh, kw, ci, co] = filter.shape;
  const src = filter.dataSync();
  const out = new Float32Array(src.length);
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let c = 0; c < ci; c++)
        for (let o = 0; o < co; o++) out[(((kh - 1 - i) * kw + (kw - 1 - j)) * co + o) * ci + c] = src[((i * kw + j) * ci + c) * co + o]!;
  return tf.tensor4d(out, [kh, kw, co, ci]);
}

/** dy [n, oh, ow, c] with (s - 1) zeros inserted between rows and columns: [n, (oh-1)s+1, (ow-1)s+1, c]. */
function zeroInserted(dy: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return dy;
  const [n, oh, ow, c] = dy.shape;
  const spread = tf.pad(tf.reshape(dy, [n, oh, 1, ow, 1, c]), [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
  return tf.slice(tf.reshape(spread, [n, oh * sh, ow * sw, c]) as tf.Tensor4D, [0, 0, 0, 0], [n, (oh - 1) * sh + 1, (ow - 1) * sw + 1, c]);
}

/**
 * dx as a forward convolution: dy with zeros inserted for the stride, padded by (k - 1 - pad),
 * convolved with the spatially flipped, channel-swapped filter. Measured 2x faster than the stock
 * wasm kernel on strided WRN shapes, and ~5x on stride 1.
 */
export function conv2dInputGradient(dy: tf.Tensor4D, filter: tf.Tensor4D, attrs: InputGradAttrs): tf.Tensor4D {
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape, filter.shape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast',
  );
  const [fh, fw] = [info.filterHeight, info.filterWidth];
  const dilatedH = (info.outHeight - 1) * info.strideHeight + 1;
  const dilatedW = (info.outWidth - 1) * info.strideWidth + 1;
  const top = fh - 1 - info.padInfo.top;
  const left = fw - 1 - info.padInfo.left;
  const bottom = info.inHeight + fh - 1 - dilatedH - top;
  const right = info.inWidth + fw - 1 - dilatedW - left;
  return tf.tidy(() => {
    let spread: tf.Tensor4D = zeroInserted(dy, info.strideHeight, info.strideWidth);
    // Negative padding (input rows no output reads) crops instead.
    if (Math.min(top, left, bottom, right) < 0) {
      const [n, h, w, c] = spread.shape;
      spread = tf.slice(spread, [0, Math.max(0, -top), Math.max(0, -left), 0], [n, h - Math.max(0, -top) - Math.max(0, -bottom), w - Math.max(0, -left) - Math.max(0, -right), c]);
    }
    const pads: Array<[number, number]> = [[0, 0], [Math.max(0, top), Math.max(0, bottom)], [Math.max(0, left), Math.max(0, right)], [0, 0]];
    const padded = pads.some(([a, b]) => a || b) ? tf.pad(spread, pads) : spread;
    return tf.conv2d(padded, flippedFilter(filter), 1, 'valid');
  });
}

let registered = false;

/** Register `kernelFunc` for `name` on wasm, replacing a stock kernel (the registry warns on plain re-registration). */
function replaceKernel(name: string, kernelFunc: tf.KernelFunc): void {
  const stock = tf.getKernel(name, 'wasm');
  if (stock) tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ ...(stock ?? {}), kernelName: name, backendName: 'wasm', kernelFunc });
}

/** Swap the last two axes (a matrix transpose, batched for rank 3). */
function transposeLastTwo(t: tf.Tensor): tf.Tensor {
  const perm = t.shape.map((_, i) => i);
  [perm[perm.length - 2], perm[perm.length - 1]] = [perm[perm.length - 1]!, perm[perm.length - 2]!];
  return tf.transpose(t, perm);
}

/**
 * Idempotent: registers the missing filter gradient and replaces the slow input gradient, the
 * incorrect max-pool gradient, the slow transposed matmuls and the slow leading-axes reductions on `wasm`.
 */
export function registerWasmKernels(): void {
  if (registered) return;
  registered = true;
  // The stock BatchMatMul is ~9x slower with transposeA/transposeB (every dense gradient uses
  // them) than an explicit Transpose followed by a plain matmul (measured on 128x784x256).
  const stockMatMul = tf.getKernel(tf.BatchMatMul, 'wasm');
  if (stockMatMul) {
    replaceKernel(tf.BatchMatMul, (args) => {
      const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
      if (!transposeA && !transposeB) return stockMatMul.kernelFunc(args);
      const a = transposeA ? transposeLastTwo(args.inputs['a'] as tf.Tensor) : (args.inputs['a'] as tf.Tensor);
      const b = transposeB ? transposeLastTwo(args.inputs['b'] as tf.Tensor) : (args.inputs['b'] as tf.Tensor);
      const out = stockMatMul.kernelFunc({ ...args, inputs: { a, b }, attrs: { ...args.attrs, transposeA: false, transposeB: false } });
      if (transposeA) a.dispose();
      if (transposeB) b.dispose();
      return out;
    });
  }
  for (const [name, mean] of [[tf.Sum, false], [tf.Mean, true]] as const) {
    const stock = tf.getKernel(name, 'wasm');
    if (!stock) continue;
    replaceKernel(name, (args) => {
      const x = args.inputs['x'];
      const fast = x instanceof tf.Tensor ? reduceLeadingBlock(x, args.attrs as unknown as ReduceAttrs, mean) : null;
      return fast ? toKernelOutput(fast, args.backend) : stock.kernelFunc(args);
    });
  }
  replaceKernel(tf.MaxPoolGrad, ({ inputs, backend, attrs }) => {
    if (!isWasmBackend(backend)) throw new Error('MaxPoolGrad: registered for the wasm backend only');
    const x = asTensor4D(inputs['input']!, 'input');
    const dy = asTensor4D(inputs['dy']!, 'dy');
    // Work on views of the wasm heap (no copies); the output is allocated first because an
    // allocation may grow the heap and detach earlier views.
    const out = backend.makeOutput([...x.shape], 'float32');
    const dx = backend.typedArrayFromHeap(out) as Float32Array;
    dx.fill(0);
    maxPoolGradientInto(dx, backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(dy), x.shape, attrs as unknown as MaxPoolGradAttrs);
    return out;
  });
  replaceKernel(tf.Conv2DBackpropFilter, ({ inputs, backend, attrs }) => {
    const a = attrs as unknown as FilterGradAttrs;
    requireNHWC(a.dataFormat, 'Conv2DBackpropFilter');
    const dw = conv2dFilterGradient(asTensor4D(inputs['x']!, 'x'), asTensor4D(inputs['dy']!, 'dy'), a);
    return toKernelOutput(dw, backend);
  });
  replaceKernel(tf.Conv2DBackpropInput, ({ inputs, backend, attrs }) => {
    const a = attrs as unknown as InputGradAttrs;
    requireNHWC(a.dataFormat, 'Conv2DBackpropInput');
    return toKernelOutput(conv2dInputGradient(asTensor4D(inputs['dy']!, 'dy'), asTensor4D(inputs['filter']!, 'filter'), a), backend);
  });
}
