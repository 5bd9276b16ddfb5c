/**
 * Which engine runs the wasm backend's convolutions (forward, input and filter gradients): our
 * native kernels (native/kernels.c, where built), else onnxruntime's CPU kernels where
 * onnxruntime-node loads (both several times faster here than XNNPACK's 128-bit wasm SIMD), else
 * XNNPACK through tfjs's own Conv2D and our gradient kernels. The native module's training kernels
 * (BatchNorm, max pooling, ReLU, additions, SGD step) run exactly when its convolutions do.
 * `LATEPHASE_CONV=auto|onnxruntime|xnnpack` and `LATEPHASE_NATIVE=off` override; a forced engine
 * that cannot start is an error, and the engine in use is always part of the backend report.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { ConfigError } from '../errors';
import { ConvGeometry2D, HostTensor, OrtConvolution } from './ortConvolution';
import { NativeConvGeometry, NativeKernels, nativeKernels, nativeModuleSource } from './nativeKernels';
import { kernelThreads, useKernelThreads } from './kernelThreads';
import { useNativeKernels } from './nativeKernelTable';
import { ConvGradAttrs, FilterGradAttrs, InputGradAttrs } from './wasmConvGradients';
import { asTensor4D, requireNHWC, wasmBackendOf } from './kernels/kernelOverride';
import { replaceKernel, stockKernel } from './kernels/registry';
import { conv2DBackpropFilterOverride } from './kernels/conv2DBackpropFilter';
import { conv2DBackpropInputOverride } from './kernels/conv2DBackpropInput';

type ConvKernel = 'Conv2D' | 'Conv2DBackpropFilter' | 'Conv2DBackpropInput';

/**
 * tfjs-backend-wasm hands 'same' padding to XNNPACK as a flag, and XNNPACK then pads wrongly where
 * the total padding would be negative (a 3x3 filter, stride 4, a size the stride divides: tfjs pads
 * 0, XNNPACK's output is garbage). The pads tfjs computes, passed explicitly, are right everywhere.
 */
function explicitSamePadding(args: Parameters<tf.KernelFunc>[0]): Parameters<tf.KernelFunc>[0] {
  const attrs = args.attrs as unknown as tf.Conv2DAttrs;
  if (attrs.pad !== 'same') return args;
  const { x, filter } = args.inputs as unknown as { x: tf.Tensor4D; filter: tf.Tensor4D };
  const info = tf.backend_util.computeConv2DInfo(x.shape, filter.shape, attrs.strides, attrs.dilations, 'same', attrs.dimRoundingMode);
  const p = info.padInfo;
  const pad = [
    [0, 0],
    [p.top, p.bottom],
    [p.left, p.right],
    [0, 0],
  ] as tf.backend_util.ExplicitPadding;
  return { ...args, attrs: { ...args.attrs, pad } as unknown as tf.NamedAttrMap };
}

/** The convolution kernels on XNNPACK: tfjs-backend-wasm's forward kernel and our gradient overrides. */
function xnnpackConvolutionKernels(): Record<ConvKernel, tf.KernelFunc> {
  const forward = stockKernel(tf.Conv2D);
  if (!forward) throw new Error('tfjs-backend-wasm has no Conv2D kernel');
  return {
    Conv2D: (args) => forward.kernelFunc(explicitSamePadding(args)),
    Conv2DBackpropFilter: conv2DBackpropFilterOverride.make(undefined),
    Conv2DBackpropInput: conv2DBackpropInputOverride.make(undefined),
  };
}

function registerXnnpackConvolutions(): void {
  for (const [name, kernelFunc] of Object.entries(xnnpackConvolutionKernels())) replaceKernel(name, kernelFunc);
}

const CONVOLUTION_ENGINES = ['auto', 'onnxruntime', 'xnnpack'] as const;
type ConvolutionEngine = (typeof CONVOLUTION_ENGINES)[number];

/** The engine `value` names (undefined or empty: auto); ConfigError for anything else. */
export function parseConvolutionEngine(value: string | undefined): ConvolutionEngine {
  const choice = (value ?? 'auto').trim().toLowerCase() || 'auto';
  const known = CONVOLUTION_ENGINES.find((e) => e === choice);
  if (!known) throw new ConfigError(`LATEPHASE_CONV: unknown convolution engine '${value}'; expected one of ${CONVOLUTION_ENGINES.join(', ')}`);
  return known;
}

let engine: OrtConvolution | null = null;

function heapTensor(backend: BackendWasm, t: tf.TensorInfo): HostTensor {
  return { values: backend.typedArrayFromHeap(t) as Float32Array, shape: t.shape as unknown as HostTensor['shape'] };
}

function geometry(info: tf.backend_util.Conv2DInfo): ConvGeometry2D {
  const p = info.padInfo;
  return {
    strides: [info.strideHeight, info.strideWidth],
    dilations: [info.dilationHeight, info.dilationWidth],
    pads: [p.top, p.left, p.bottom, p.right],
  };
}

/** Without the native kernels, forward convolutions with fewer input channels than this run on XNNPACK (see registerNativeOrOrtConvolutions). */
const FEW_CHANNELS = 8;

/**
 * Register `kernel` on wasm as `run` over its two rank-4 inputs' heap views, writing into a new
 * wasm tensor of shape `outShape` allocated first (allocation may grow and move the heap, so the
 * views are taken after it). Empty tensors, and calls `onXnnpack` picks, go to XNNPACK instead.
 */
function registerHostConvolution<A extends ConvGradAttrs>(
  kernel: ConvKernel,
  inputs: readonly [string, string],
  outShape: (a: tf.Tensor4D, b: tf.Tensor4D, attrs: A) => number[],
  run: (a: HostTensor, b: HostTensor, out: HostTensor, attrs: A) => void,
  onXnnpack: (a: tf.Tensor4D, b: tf.Tensor4D) => boolean = () => false,
): void {
  const xnnpack = xnnpackConvolutionKernels()[kernel];
  replaceKernel(kernel, (args) => {
    const attrs = args.attrs as unknown as A;
    requireNHWC(attrs.dataFormat, kernel);
    const wasm = wasmBackendOf(args.backend, kernel);
    const [a, b] = inputs.map((name) => asTensor4D(args.inputs[name]!, name)) as [tf.Tensor4D, tf.Tensor4D];
    if (a.size === 0 || b.size === 0 || onXnnpack(a, b)) return xnnpack(args);
    const out = wasm.makeOutput(outShape(a, b, attrs), 'float32');
    run(heapTensor(wasm, a), heapTensor(wasm, b), heapTensor(wasm, out), attrs);
    return out;
  });
}

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

type ForwardAttrs = ConvGradAttrs & { dilations: [number, number] | number };

/** The native kernels' view of a convolution of x [n, h, w, c] giving y [n, oh, ow, o] with a kh x kw filter. */
function nativeGeometry(x: HostTensor['shape'], y: HostTensor['shape'], filterHW: readonly [number, number], g: ConvGeometry2D): NativeConvGeometry {
  const [n, h, w, c] = x;
  const [, oh, ow, o] = y;
  return { n, h, w, c, oh, ow, o, kh: filterHW[0], kw: filterHW[1], strides: g.strides, dilations: g.dilations, padTopLeft: [g.pads[0], g.pads[1]] };
}

/**
 * Convolutions on the native kernels where built (forward, input and filter gradients: faster than
 * onnxruntime's, bench/README.md#native-kernels), else onnxruntime (`ort`, required then).
 */
function registerHostConvolutions(nat: NativeKernels | null, ort: OrtConvolution | null): void {
  const onOrt = (): OrtConvolution => {
    if (!ort) throw new Error('convolution engine: neither the native kernels nor onnxruntime are running');
    return ort;
  };
  // Forward convolutions with few input channels (a network's first layer) are faster on XNNPACK
  // than on onnxruntime (bench/README.md#onnxruntime-convolutions); the native kernels match XNNPACK
  // on one thread and beat it on more, so they take those too.
  registerHostConvolution<ForwardAttrs>(
    tf.Conv2D as ConvKernel,
    ['x', 'filter'],
    (x, w, a) => conv2DInfo(x.shape, w.shape, a, a.dilations).outShape,
    (x, w, out, a) => {
      const g = geometry(conv2DInfo(x.shape, w.shape, a, a.dilations));
      if (!nat) return onOrt().conv2d(x, w, g, out);
      nat.conv2d(x.values, w.values, out.values, nativeGeometry(x.shape, out.shape, [w.shape[0], w.shape[1]], g));
    },
    (_, w) => !nat && w.shape[2] < FEW_CHANNELS,
  );
  registerHostConvolution<InputGradAttrs>(
    tf.Conv2DBackpropInput as ConvKernel,
    ['dy', 'filter'],
    (_dy, _w, a) => [...a.inputShape],
    (dy, w, out, a) => {
      const g = geometry(conv2DInfo(a.inputShape, w.shape, a));
      if (!nat) return onOrt().inputGradient(dy, w, g, out);
      nat.inputGradient(dy.values, w.values, out.values, nativeGeometry(out.shape, dy.shape, [w.shape[0], w.shape[1]], g));
    },
  );
  registerHostConvolution<FilterGradAttrs>(
    tf.Conv2DBackpropFilter as ConvKernel,
    ['x', 'dy'],
    (_x, _dy, a) => [...a.filterShape],
    (x, dy, out, a) => {
      const g = geometry(conv2DInfo(x.shape, a.filterShape, a));
      if (!nat) return onOrt().filterGradient(x, dy, g, out);
      nat.filterGradient(x.values, dy.values, out.values, nativeGeometry(x.shape, dy.shape, [out.shape[0], out.shape[1]], g));
    },
  );
}

let nativeRunning = false;

/** Whether the native kernels run the wasm backend's convolutions (and the other kernels they carry). */
export function nativeKernelsInUse(): boolean {
  return nativeRunning;
}

/**
 * Register the convolution kernels of the engine `requested` names (default: `LATEPHASE_CONV`, then
 * auto) on the wasm backend, the native kernels split over `threads` threads where they run (unchanged
 * when undefined); returns what runs, for the backend report. `onnxruntime` and `auto` mean the host
 * engines: the native kernels where built (they need no onnxruntime), else onnxruntime on one thread
 * (data-parallel gradient workers take the other cores then). The native module's other kernels
 * (nativeKernelTable.ts) run exactly when its convolutions do, so the report is always what runs.
 * `startOnnxruntime` is for tests (an onnxruntime that fails to start).
 */
export function useConvolutionEngine(
  requested: string | undefined = process.env['LATEPHASE_CONV'],
  threads?: number,
  startOnnxruntime: () => OrtConvolution | Error = () => OrtConvolution.create(1),
): string {
  const choice = parseConvolutionEngine(requested);
  engine?.dispose();
  engine = null;
  nativeRunning = false;
  const native = choice === 'xnnpack' ? new Error('convolutions forced to XNNPACK') : nativeKernels(true);
  useNativeKernels(native);
  if (choice === 'xnnpack') {
    registerXnnpackConvolutions();
    return 'convolutions on XNNPACK (forced)';
  }
  if (!(native instanceof Error)) {
    registerHostConvolutions(native, null);
    nativeRunning = true;
    const running = threads === undefined ? kernelThreads() : useKernelThreads(threads);
    return `convolutions, BatchNorm, pooling, ReLU, additions and SGD on native kernels (${running} thread${running > 1 ? 's' : ''}; ${nativeModuleSource()})`;
  }
  const ort = startOnnxruntime();
  if (ort instanceof Error) {
    if (choice === 'onnxruntime') throw new ConfigError(`LATEPHASE_CONV: onnxruntime convolutions could not start (${ort.message.split('\n')[0]})`);
    registerXnnpackConvolutions();
    return `convolutions on XNNPACK (onnxruntime unavailable: ${ort.message.split('\n')[0]}; native kernels: ${native.message})`;
  }
  engine = ort;
  registerHostConvolutions(null, ort);
  return `convolutions on onnxruntime CPU (1 thread; native kernels: ${native.message})`;
}
