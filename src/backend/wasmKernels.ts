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
 * - input gradient (stride 1): a forward convolution of dy, padded by (k-1-pad), with the filter
 *   flipped in space and its channel axes swapped. Strided cases fall back to the stock kernel.
 *
 * Nested ops inside a kernel are not recorded on the gradient tape (tfjs only records at kernel
 * depth 0), so these kernels are safe to call from backprop.
 */
import * as tf from '@tensorflow/tfjs-core';
import { maxPoolGradientValues, MaxPoolGradAttrs } from './wasmMaxPoolGradient';

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

/** Returns null where the forward-convolution form does not apply (strides or dilations > 1). */
export function conv2dInputGradient(dy: tf.Tensor4D, filter: tf.Tensor4D, attrs: InputGradAttrs): tf.Tensor4D | null {
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape, filter.shape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast',
  );
  if (info.strideHeight !== 1 || info.strideWidth !== 1) return null;
  const [fh, fw] = [info.filterHeight, info.filterWidth];
  const top = fh - 1 - info.padInfo.top;
  const left = fw - 1 - info.padInfo.left;
  const bottom = info.inHeight + fh - 1 - info.outHeight - top;
  const right = info.inWidth + fw - 1 - info.outWidth - left;
  if (Math.min(top, left, bottom, right) < 0) return null;
  return tf.tidy(() => {
    const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]);
    const dyPad = top || bottom || left || right ? tf.pad(dy, [[0, 0], [top, bottom], [left, right], [0, 0]]) : dy;
    return tf.conv2d(dyPad, flipped as tf.Tensor4D, 1, 'valid');
  });
}

let registered = false;

/** Replace a kernel the wasm backend has (the registry warns on plain re-registration). */
function replaceKernel(name: string, kernelFunc: tf.KernelFunc): tf.KernelFunc | null {
  const stock = tf.getKernel(name, 'wasm');
  if (stock) tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ ...(stock ?? {}), kernelName: name, backendName: 'wasm', kernelFunc });
  return stock?.kernelFunc ?? null;
}

/**
 * Idempotent: registers the missing filter gradient and replaces the slow input gradient and the
 * incorrect max-pool gradient on `wasm`.
 */
export function registerWasmKernels(): void {
  if (registered) return;
  registered = true;
  replaceKernel(tf.MaxPoolGrad, ({ inputs, backend, attrs }) => {
    if (!(backend instanceof tf.KernelBackend)) throw new Error('MaxPoolGrad: kernel called without a backend');
    const x = asTensor4D(inputs['input']!, 'input');
    const dy = asTensor4D(inputs['dy']!, 'dy');
    const values = maxPoolGradientValues(backend.readSync(x.dataId) as Float32Array, backend.readSync(dy.dataId) as Float32Array, x.shape, attrs as unknown as MaxPoolGradAttrs);
    return { dataId: backend.write(values, x.shape, 'float32'), shape: x.shape, dtype: 'float32' };
  });
  replaceKernel(tf.Conv2DBackpropFilter, ({ inputs, backend, attrs }) => {
    const a = attrs as unknown as FilterGradAttrs;
    requireNHWC(a.dataFormat, 'Conv2DBackpropFilter');
    const dw = conv2dFilterGradient(asTensor4D(inputs['x']!, 'x'), asTensor4D(inputs['dy']!, 'dy'), a);
    return toKernelOutput(dw, backend);
  });
  const stockInputGradient: tf.KernelFunc | null = replaceKernel(tf.Conv2DBackpropInput, (args) => {
    const a = args.attrs as unknown as InputGradAttrs;
    requireNHWC(a.dataFormat, 'Conv2DBackpropInput');
    const dx = conv2dInputGradient(asTensor4D(args.inputs['dy']!, 'dy'), asTensor4D(args.inputs['filter']!, 'filter'), a);
    if (dx) return toKernelOutput(dx, args.backend);
    if (!stockInputGradient) throw new Error('Conv2DBackpropInput: strided case needs the stock wasm kernel, which is missing');
    return stockInputGradient(args);
  });
}
