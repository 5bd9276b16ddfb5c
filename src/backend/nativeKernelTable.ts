/**
 * The one table of the native module (native/kernels.c): every C entry point with why it exists
 * and a check that runs it once on seeded inputs, and every wasm kernel built on it. Registration
 * reads the table (`useNativeKernels`); the tests run every check (the same bits on 1, 2 and 3
 * threads) and fail when the module has an entry point the table lacks.
 */
import * as tf from '@tensorflow/tfjs-core';
import { NativeConvGeometry, NativeKernelMakers, NativeKernels } from './nativeKernels';
import { BATCH_NORM_BACKWARD_KERNEL, BATCH_NORM_FORWARD_KERNEL, BATCH_NORM_KERNELS } from './nativeBatchNorm';
import { MAX_POOL_BACKWARD_KERNEL, MAX_POOL_FORWARD_KERNEL, MAX_POOL_KERNELS } from './nativeMaxPool';
import { RELU_BACKWARD_KERNEL, RELU_KERNELS } from './nativeRelu';
import { CONV_POOL_FILTER_GRAD_KERNEL, CONV_POOL_FORWARD_KERNEL, CONV_POOL_KERNELS, convPoolGeometries, ConvPoolGeometries } from './nativeConvPool';
import { SGD_KERNELS, SGD_STEP_KERNEL } from './nativeSgd';
import { ELEMENTWISE_KERNELS } from './nativeElementwise';
import { GLOBAL_AVG_POOL_BACKWARD_KERNEL, GLOBAL_AVG_POOL_FORWARD_KERNEL, GLOBAL_AVG_POOL_KERNELS } from './nativeGlobalAvgPool';
import { SOFTMAX_CROSS_ENTROPY_KERNEL, SOFTMAX_CROSS_ENTROPY_KERNELS } from './nativeSoftmaxCrossEntropy';
import { replaceKernel, stockKernel } from './kernels/registry';

/** A C entry point that computes (setThreads only configures). */
export type NativeEntry = Exclude<keyof NativeKernels, 'setThreads'>;

/** Seeded standard-normal values (times `scale`), for the checks. */
type SeededArray = (length: number, scale?: number) => Float32Array;

interface NativeEntryPoint {
  /** What it replaces and why (the figures: bench/README.md#native-kernels). */
  readonly reason: string;
  /** Runs it once on seeded inputs big enough to split over threads; returns every output. */
  readonly check: (n: NativeKernels, random: SeededArray) => Float32Array[];
}

const CONV_GEOMETRIES: readonly NativeConvGeometry[] = [
  { n: 5, h: 33, w: 30, c: 24, oh: 33, ow: 30, o: 40, kh: 3, kw: 3, strides: [1, 1], dilations: [1, 1], padTopLeft: [1, 1] },
  { n: 3, h: 17, w: 16, c: 9, oh: 9, ow: 8, o: 70, kh: 3, kw: 3, strides: [2, 2], dilations: [1, 1], padTopLeft: [1, 1] },
  { n: 2, h: 20, w: 20, c: 136, oh: 18, ow: 18, o: 33, kh: 3, kw: 3, strides: [1, 1], dilations: [1, 1], padTopLeft: [0, 0] },
  // few channels: the filter gradient's pixel chunks
  { n: 4, h: 30, w: 29, c: 3, oh: 30, ow: 29, o: 20, kh: 3, kw: 3, strides: [1, 1], dilations: [1, 1], padTopLeft: [1, 1] },
  // Winograd: more tiles than one block, three 16-channel chunks to split
  { n: 6, h: 23, w: 21, c: 48, oh: 23, ow: 21, o: 32, kh: 3, kw: 3, strides: [1, 1], dilations: [1, 1], padTopLeft: [1, 1] },
];
const POOL: NativeConvGeometry = {
  n: 4,
  h: 31,
  w: 29,
  c: 17,
  oh: 16,
  ow: 15,
  o: 17,
  kh: 3,
  kw: 3,
  strides: [2, 2],
  dilations: [1, 1],
  padTopLeft: [1, 1],
};
/** 2 x 2, stride 2: windows that tile x (one row and column left over), the gradient's in-place path. */
const TILED_POOL: NativeConvGeometry = { ...POOL, h: 31, w: 29, oh: 15, ow: 14, kh: 2, kw: 2, padTopLeft: [0, 0] };
/** A first layer's convolution, ReLU and 2 x 2 pool: 'same' with a row and column left over, and a 5 x 5 'valid' one. */
const CONV_POOLS: readonly ConvPoolGeometries[] = [
  convPoolGeometries([3, 29, 27, 3], [3, 3, 3, 48], { strides: 1, pad: 'same', pool: { filterSize: 2, strides: 2, pad: 'valid' } })!,
  convPoolGeometries([2, 20, 21, 1], [5, 5, 1, 32], { strides: 1, pad: 'valid', pool: { filterSize: 2, strides: 2, pad: 'valid' } })!,
];
const [ROWS, CHANNELS] = [3000, 48];
const size = (g: NativeConvGeometry, of: 'x' | 'w' | 'y'): number =>
  of === 'x' ? g.n * g.h * g.w * g.c : of === 'w' ? g.kh * g.kw * g.c * g.o : g.n * g.oh * g.ow * g.o;

/** A convolution entry point over every geometry: two seeded inputs and an output, each an x, w or y of the geometry. */
function convolutionCheck(
  random: SeededArray,
  [a, b, out]: readonly ['x' | 'w' | 'y', 'x' | 'w' | 'y', 'x' | 'w' | 'y'],
  run: (a: Float32Array, b: Float32Array, out: Float32Array, g: NativeConvGeometry) => void,
): Float32Array[] {
  return CONV_GEOMETRIES.map((g) => {
    const result = new Float32Array(size(g, out));
    run(random(size(g, a)), random(size(g, b)), result, g);
    return result;
  });
}

/** convReluMaxPool on seeded data (with a bias or not): y, indices and the inputs. */
function convPoolOnce(n: NativeKernels, random: SeededArray, { conv, pool }: ConvPoolGeometries, bias: boolean) {
  const [x, w] = [random(size(conv, 'x')), random(size(conv, 'w'))];
  const y = new Float32Array(size(pool, 'y'));
  const indices = new Int32Array(y.length);
  n.convReluMaxPool(x, w, bias ? random(conv.o) : null, y, indices, conv, pool);
  return { x, y, indices };
}

/** Train-mode BatchNorm forward on seeded data, with or without the ReLU: [y, mean, variance, invStd] and the inputs. */
function batchNormForwardOnce(n: NativeKernels, random: SeededArray, relu: boolean): { x: Float32Array; gamma: Float32Array; outs: Float32Array[] } {
  const x = random(ROWS * CHANNELS, 2);
  const gamma = random(CHANNELS);
  const outs = [ROWS * CHANNELS, CHANNELS, CHANNELS, CHANNELS].map((len) => new Float32Array(len));
  n.batchNormForward(x, gamma, random(CHANNELS), outs[0]!, outs[1]!, outs[2]!, outs[3]!, 1e-5, relu);
  return { x, gamma, outs };
}

export const NATIVE_ENTRY_POINTS: Readonly<Record<NativeEntry, NativeEntryPoint>> = {
  conv2d: {
    reason:
      "forward convolutions (the Conv2D kernel through convolutionEngine.ts): faster than XNNPACK's 128-bit wasm SIMD and onnxruntime's CPU kernels",
    check: (n, random) => convolutionCheck(random, ['x', 'w', 'y'], (a, b, out, g) => n.conv2d(a, b, out, g)),
  },
  inputGradient: {
    reason: 'convolution input gradients (Conv2DBackpropInput), for the same reason',
    check: (n, random) => convolutionCheck(random, ['y', 'w', 'x'], (a, b, out, g) => n.inputGradient(a, b, out, g)),
  },
  filterGradient: {
    reason: 'convolution filter gradients (Conv2DBackpropFilter), for the same reason',
    check: (n, random) => convolutionCheck(random, ['x', 'y', 'w'], (a, b, out, g) => n.filterGradient(a, b, out, g)),
  },
  batchNormForward: {
    reason: 'train-mode BatchNorm (and a following ReLU) in three passes instead of about fifteen elementwise and reduction kernels',
    check: (n, random) => [false, true].flatMap((relu) => batchNormForwardOnce(n, random, relu).outs),
  },
  batchNormBackward: {
    reason: "BatchNorm's gradient (masked by a fused ReLU's output; from a global average pool's gradient, one row per image) in two passes",
    check: (n, random) =>
      [false, true, 'pooled' as const].flatMap((mode) => {
        const { x, gamma, outs } = batchNormForwardOnce(n, random, mode !== false);
        const grads = [ROWS * CHANNELS, CHANNELS, CHANNELS].map((len) => new Float32Array(len));
        const dy = random(mode === 'pooled' ? (ROWS / 100) * CHANNELS : ROWS * CHANNELS); // 30 images of 100 pixels
        n.batchNormBackward(dy, x, gamma, outs[1]!, outs[3]!, grads[0]!, grads[1]!, grads[2]!, mode !== false ? outs[0]! : null);
        return grads;
      }),
  },
  maxPoolForward: {
    reason: 'max pooling that records the index of each maximum, so the gradient is a scatter; with a ReLU before it, the ReLU on the pooled quarter',
    check: (n, random) =>
      [false, true].flatMap((relu) => {
        const y = new Float32Array(size(POOL, 'y'));
        const indices = new Int32Array(y.length);
        n.maxPoolForward(random(size(POOL, 'x')), y, indices, POOL, relu);
        return [y, new Float32Array(indices)];
      }),
  },
  maxPoolBackward: {
    reason: "max pooling's gradient from the recorded indices, instead of tfjs's MaxPoolGrad search over every window",
    check: (n, random) =>
      [POOL, TILED_POOL].flatMap((g) =>
        [false, true].map((relu) => {
          const y = new Float32Array(size(g, 'y'));
          const indices = new Int32Array(y.length);
          n.maxPoolForward(random(size(g, 'x')), y, indices, g, relu);
          const dx = new Float32Array(size(g, 'x'));
          n.maxPoolBackward(random(y.length), indices, dx, relu ? y : null, g);
          return dx;
        }),
      ),
  },
  convReluMaxPool: {
    reason: "a first layer's convolution, ReLU and max pool in one pass: the full-resolution convolution output is never written and read back",
    check: (n, random) =>
      CONV_POOLS.flatMap((g) =>
        [false, true].flatMap((bias) => {
          const { y, indices } = convPoolOnce(n, random, g, bias);
          return [y, new Float32Array(indices)];
        }),
      ),
  },
  convReluMaxPoolFilterGradient: {
    reason: "that fusion's filter (and bias) gradient from the pooled gradient, without writing the full-resolution one",
    check: (n, random) =>
      CONV_POOLS.flatMap((g) =>
        [false, true].flatMap((bias) => {
          const { x, y, indices } = convPoolOnce(n, random, g, false);
          const [dw, db] = [new Float32Array(size(g.conv, 'w')), new Float32Array(g.conv.o)];
          n.convReluMaxPoolFilterGradient(x, random(y.length), y, indices, dw, bias ? db : null, g.conv, g.pool);
          return bias ? [dw, db] : [dw];
        }),
      ),
  },
  globalAvgPool: {
    reason: "global average pooling in one pass (tfjs's Mean over two axes ran as an average pool, a cast and reshapes)",
    check: (n, random) => {
      const y = new Float32Array(POOL.n * CHANNELS);
      n.globalAvgPool(random(POOL.n * 300 * CHANNELS), y, CHANNELS);
      return [y];
    },
  },
  globalAvgPoolGrad: {
    reason: "global average pooling's gradient in one pass, instead of a tensor of ones filled and multiplied",
    check: (n, random) => {
      const dx = new Float32Array(POOL.n * 300 * CHANNELS);
      n.globalAvgPoolGrad(random(POOL.n * CHANNELS), dx, CHANNELS);
      return [dx];
    },
  },
  softmaxCrossEntropy: {
    reason: 'the loss and its gradient in one call, instead of about forty small kernels on the tape',
    check: (n, random) => {
      const classes = 10;
      const logits = random(ROWS * classes, 3);
      const targets = new Float32Array(logits.length);
      for (let r = 0; r < ROWS; r++) targets[r * classes + (r % classes)] = 1;
      const dlogits = new Float32Array(logits.length);
      const loss = n.softmaxCrossEntropy(logits, targets, dlogits, classes);
      return [Float32Array.of(loss), dlogits];
    },
  },
  reluBackward: {
    reason: "ReLU's gradient from its output in one pass, instead of step(x) and a product",
    check: (n, random) => {
      const dx = new Float32Array(ROWS * CHANNELS);
      n.reluBackward(random(dx.length), random(dx.length), dx);
      return [dx];
    },
  },
  reluForward: {
    reason: "ReLU split over the kernel threads (tfjs-backend-wasm's runs on one)",
    check: (n, random) => {
      const y = new Float32Array(ROWS * CHANNELS);
      n.reluForward(random(y.length), y);
      return [y];
    },
  },
  add: {
    reason: 'same-shape additions (residual adds, the gradient tape) split over the kernel threads',
    check: (n, random) => {
      const out = new Float32Array(ROWS * CHANNELS);
      n.add(random(out.length), random(out.length), out);
      return [out];
    },
  },
  sgdStep: {
    reason: 'the SGD update of a parameter group in one pass per tensor, instead of about eight kernels each',
    check: (n, random) => {
      const len = ROWS * CHANNELS;
      const [p, buf] = [new Float32Array(len), new Float32Array(len)];
      n.sgdStep(random(len), random(len), random(len), p, buf, 0.05, 0.9, 5e-4, true, 0.5);
      return [p, buf];
    },
  },
};

interface NativeWasmKernel {
  readonly kernelName: string;
  /** The entry points it calls. */
  readonly entries: readonly NativeEntry[];
  readonly make: NativeKernelMakers[string];
}

function kernel(makers: NativeKernelMakers, kernelName: string, entries: readonly NativeEntry[]): NativeWasmKernel {
  const make = makers[kernelName];
  if (!make) throw new Error(`native kernel table: no kernel '${kernelName}'`);
  return { kernelName, entries, make };
}

/** Every wasm kernel built on the native module. (The convolutions are convolutionEngine.ts's: they also have onnxruntime and XNNPACK forms.) */
export const NATIVE_WASM_KERNELS: readonly NativeWasmKernel[] = [
  kernel(BATCH_NORM_KERNELS, BATCH_NORM_FORWARD_KERNEL, ['batchNormForward']),
  kernel(BATCH_NORM_KERNELS, BATCH_NORM_BACKWARD_KERNEL, ['batchNormBackward']),
  kernel(MAX_POOL_KERNELS, MAX_POOL_FORWARD_KERNEL, ['maxPoolForward']),
  kernel(MAX_POOL_KERNELS, MAX_POOL_BACKWARD_KERNEL, ['maxPoolBackward']),
  kernel(CONV_POOL_KERNELS, CONV_POOL_FORWARD_KERNEL, ['convReluMaxPool']),
  kernel(CONV_POOL_KERNELS, CONV_POOL_FILTER_GRAD_KERNEL, ['convReluMaxPoolFilterGradient']),
  kernel(GLOBAL_AVG_POOL_KERNELS, GLOBAL_AVG_POOL_FORWARD_KERNEL, ['globalAvgPool']),
  kernel(GLOBAL_AVG_POOL_KERNELS, GLOBAL_AVG_POOL_BACKWARD_KERNEL, ['globalAvgPoolGrad']),
  kernel(SOFTMAX_CROSS_ENTROPY_KERNELS, SOFTMAX_CROSS_ENTROPY_KERNEL, ['softmaxCrossEntropy']),
  kernel(RELU_KERNELS, RELU_BACKWARD_KERNEL, ['reluBackward']),
  kernel(SGD_KERNELS, SGD_STEP_KERNEL, ['sgdStep']),
  kernel(ELEMENTWISE_KERNELS, tf.Relu, ['reluForward']),
  kernel(ELEMENTWISE_KERNELS, tf.Add, ['add']),
];

/**
 * Register every kernel of the table on wasm, built on `native`; where the module is unavailable
 * (`native` is the reason), tfjs's own kernel of that name is put back, or ours removed, so the
 * tfjs-op paths of src/backend/operations.ts run.
 */
export function useNativeKernels(native: NativeKernels | Error): void {
  for (const k of NATIVE_WASM_KERNELS) {
    const stock = stockKernel(k.kernelName);
    if (!(native instanceof Error)) replaceKernel(k.kernelName, k.make(native, stock));
    else if (stock) replaceKernel(k.kernelName, stock.kernelFunc);
    else if (tf.getKernel(k.kernelName, 'wasm')) tf.unregisterKernel(k.kernelName, 'wasm');
  }
}
