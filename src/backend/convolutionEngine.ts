/**
 * Which engine runs the wasm backend's convolutions (forward, input and filter gradients):
 * onnxruntime's native CPU kernels when onnxruntime-node loads (several times faster here than XNNPACK's
 * 128-bit wasm SIMD), else XNNPACK through tfjs's own Conv2D and our gradient kernels
 * (wasmKernels.ts). `LATEPHASE_CONV=auto|onnxruntime|xnnpack` overrides; a forced engine that cannot
 * start is an error, and the engine in use is always part of the backend report.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { ConfigError } from '../errors';
import { ConvGeometry2D, HostTensor, OrtConvolution } from './ortConvolution';
import { ConvGradAttrs, FilterGradAttrs, InputGradAttrs } from './wasmConvGradients';
import { asTensor4D, isWasmBackend, requireNHWC } from './kernels/kernelOverride';
import { replaceKernel, stockKernel } from './kernels/registry';
import { conv2DBackpropFilterOverride } from './kernels/conv2DBackpropFilter';
import { conv2DBackpropInputOverride } from './kernels/conv2DBackpropInput';

type ConvKernel = 'Conv2D' | 'Conv2DBackpropFilter' | 'Conv2DBackpropInput';

/** The convolution kernels on XNNPACK: tfjs-backend-wasm's forward kernel and our gradient overrides. */
function xnnpackConvolutionKernels(): Record<ConvKernel, tf.KernelFunc> {
  const forward = stockKernel(tf.Conv2D);
  if (!forward) throw new Error('tfjs-backend-wasm has no Conv2D kernel');
  return {
    Conv2D: forward.kernelFunc,
    Conv2DBackpropFilter: conv2DBackpropFilterOverride.make(undefined),
    Conv2DBackpropInput: conv2DBackpropInputOverride.make(undefined),
  };
}

function registerXnnpackConvolutions(): void {
  for (const [name, kernelFunc] of Object.entries(xnnpackConvolutionKernels())) replaceKernel(name, kernelFunc);
}

export const CONVOLUTION_ENGINES = ['auto', 'onnxruntime', 'xnnpack'] as const;
export type ConvolutionEngine = (typeof CONVOLUTION_ENGINES)[number];

/** The engine `value` names (undefined or empty: auto); ConfigError for anything else. */
export function parseConvolutionEngine(value: string | undefined): ConvolutionEngine {
  const choice = (value ?? 'auto').trim().toLowerCase() || 'auto';
  const known = CONVOLUTION_ENGINES.find((e) => e === choice);
  if (!known) throw new ConfigError(`LATEPHASE_CONV: unknown convolution engine '${value}'; expected one of ${CONVOLUTION_ENGINES.join(', ')}`);
  return known;
}

let engine: OrtConvolution | null = null;

function heapTensor(backend: BackendWasm, t: tf.Tensor4D): HostTensor {
  return { values: backend.typedArrayFromHeap(t) as Float32Array, shape: t.shape };
}

/** Copy an engine result into a new wasm tensor (allocated after the run: allocation may move the heap). */
function wasmOutput(backend: BackendWasm, r: HostTensor): tf.TensorInfo {
  const out = backend.makeOutput([...r.shape], 'float32');
  (backend.typedArrayFromHeap(out) as Float32Array).set(r.values);
  return out;
}

function geometry(info: tf.backend_util.Conv2DInfo): ConvGeometry2D {
  const p = info.padInfo;
  return {
    strides: [info.strideHeight, info.strideWidth],
    dilations: [info.dilationHeight, info.dilationWidth],
    pads: [p.top, p.left, p.bottom, p.right],
  };
}

function wasmBackendOf(backend: unknown, kernel: string): BackendWasm {
  if (!isWasmBackend(backend)) throw new Error(`${kernel}: registered for the wasm backend only`);
  return backend;
}

/** Forward convolutions with fewer input channels than this run on XNNPACK (see registerOrtConvolutions). */
const FEW_CHANNELS = 8;

/**
 * Register `kernel` on wasm as `run` over its two rank-4 inputs' heap views, writing the result to
 * a new wasm tensor. Empty tensors, and calls `onXnnpack` picks, go to the XNNPACK kernel instead.
 */
function registerHostConvolution<A extends ConvGradAttrs>(
  kernel: ConvKernel,
  inputs: readonly [string, string],
  run: (a: tf.Tensor4D, b: tf.Tensor4D, attrs: A, wasm: BackendWasm) => HostTensor,
  onXnnpack: (a: tf.Tensor4D, b: tf.Tensor4D) => boolean = () => false,
): void {
  const xnnpack = xnnpackConvolutionKernels()[kernel];
  replaceKernel(kernel, (args) => {
    const attrs = args.attrs as unknown as A;
    requireNHWC(attrs.dataFormat, kernel);
    const wasm = wasmBackendOf(args.backend, kernel);
    const [a, b] = inputs.map((name) => asTensor4D(args.inputs[name]!, name)) as [tf.Tensor4D, tf.Tensor4D];
    if (a.size === 0 || b.size === 0 || onXnnpack(a, b)) return xnnpack(args);
    return wasmOutput(wasm, run(a, b, attrs, wasm));
  });
}

function registerOrtConvolutions(ort: OrtConvolution): void {
  const conv2DInfo = (
    x: readonly number[],
    w: readonly number[],
    a: ConvGradAttrs,
    dilations: [number, number] | number = 1,
  ): tf.backend_util.Conv2DInfo =>
    tf.backend_util.computeConv2DInfo(
      x as [number, number, number, number],
      w as [number, number, number, number],
      a.strides,
      dilations,
      a.pad,
      a.dimRoundingMode,
      false,
      'channelsLast',
    );
  // Forward convolutions with few input channels (a network's first layer) are faster on XNNPACK;
  // their gradients, and everything wider, on onnxruntime (bench/README.md#onnxruntime-convolutions).
  registerHostConvolution<ConvGradAttrs & { dilations: [number, number] | number }>(
    tf.Conv2D as ConvKernel,
    ['x', 'filter'],
    (x, w, a, wasm) => ort.conv2d(heapTensor(wasm, x), heapTensor(wasm, w), geometry(conv2DInfo(x.shape, w.shape, a, a.dilations))),
    (_, w) => w.shape[2] < FEW_CHANNELS,
  );
  registerHostConvolution<InputGradAttrs>(tf.Conv2DBackpropInput as ConvKernel, ['dy', 'filter'], (dy, w, a, wasm) => {
    const info = conv2DInfo(a.inputShape, w.shape, a);
    return ort.inputGradient(heapTensor(wasm, dy), heapTensor(wasm, w), geometry(info), [info.inHeight, info.inWidth]);
  });
  registerHostConvolution<FilterGradAttrs>(tf.Conv2DBackpropFilter as ConvKernel, ['x', 'dy'], (x, dy, a, wasm) => {
    const info = conv2DInfo(x.shape, a.filterShape, a);
    return ort.filterGradient(heapTensor(wasm, x), heapTensor(wasm, dy), geometry(info), [info.filterHeight, info.filterWidth]);
  });
}

/**
 * Register the convolution kernels of the engine `requested` names (default: `LATEPHASE_CONV`, then
 * auto) on the wasm backend; returns what runs, for the backend report.
 */
export function useConvolutionEngine(requested: string | undefined = process.env['LATEPHASE_CONV'], threads = 1): string {
  const choice = parseConvolutionEngine(requested);
  engine?.dispose();
  engine = null;
  if (choice === 'xnnpack') {
    registerXnnpackConvolutions();
    return 'convolutions on XNNPACK (forced)';
  }
  const ort = OrtConvolution.create(threads);
  if (ort instanceof Error) {
    if (choice === 'onnxruntime') throw new ConfigError(`LATEPHASE_CONV: onnxruntime convolutions could not start (${ort.message.split('\n')[0]})`);
    registerXnnpackConvolutions();
    return `convolutions on XNNPACK (onnxruntime unavailable: ${ort.message.split('\n')[0]})`;
  }
  engine = ort;
  registerOrtConvolutions(ort);
  return `convolutions on onnxruntime CPU (${threads} thread${threads > 1 ? 's' : ''})`;
}
