/**
 * The optional native kernels (native/kernels.c, built by native/build.js): loaded once, or the
 * reason they are not, for the backend report. `LATEPHASE_NATIVE=off` turns them off (the
 * onnxruntime formulations run; tests compare the two paths).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';

/** Geometry of one convolution as the native filter gradient reads it (NHWC input, HWIO filter). */
export interface NativeConvGeometry {
  readonly n: number;
  readonly h: number;
  readonly w: number;
  readonly c: number;
  readonly oh: number;
  readonly ow: number;
  readonly o: number;
  readonly kh: number;
  readonly kw: number;
  readonly strides: readonly [number, number];
  readonly dilations: readonly [number, number];
  /** top, left (bottom and right follow from the sizes) */
  readonly padTopLeft: readonly [number, number];
}

type NativeConvKernel = (a: Float32Array, b: Float32Array, out: Float32Array, geometry: Int32Array) => void;
const KERNEL_NAMES = [
  'conv2d',
  'inputGradient',
  'filterGradient',
  'batchNormForward',
  'batchNormBackward',
  'maxPoolForward',
  'maxPoolBackward',
  'reluBackward',
  'sgdStep',
  'reluForward',
  'add',
  'setThreads',
] as const;
type NativeModule = Record<'conv2d' | 'inputGradient' | 'filterGradient', NativeConvKernel> &
  Pick<
    NativeKernels,
    'batchNormForward' | 'batchNormBackward' | 'maxPoolBackward' | 'reluBackward' | 'sgdStep' | 'reluForward' | 'add' | 'setThreads'
  > & {
    maxPoolForward(x: Float32Array, y: Float32Array, indices: Int32Array, geometry: Int32Array): void;
  };

/** Each writes into `out`; the arrays' lengths must match the geometry (else a thrown Error). */
export interface NativeKernels {
  /** y [n, oh, ow, o] of the convolution `g` of x [n, h, w, c] with w [kh, kw, c, o]. */
  conv2d(x: Float32Array, w: Float32Array, out: Float32Array, g: NativeConvGeometry): void;
  /** dx [n, h, w, c] from dy [n, oh, ow, o] and w. */
  inputGradient(dy: Float32Array, w: Float32Array, out: Float32Array, g: NativeConvGeometry): void;
  /** dW [kh, kw, c, o] from x [n, h, w, c] and dy [n, oh, ow, o]. */
  filterGradient(x: Float32Array, dy: Float32Array, out: Float32Array, g: NativeConvGeometry): void;
  /**
   * Train-mode BatchNorm over x's last axis (C = gamma's length): y, batch mean, biased variance,
   * 1 / sqrt(variance + epsilon); with `relu`, y = max(BatchNorm(x), 0) in the same pass.
   */
  batchNormForward(
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    y: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    invStd: Float32Array,
    epsilon: number,
    relu: boolean,
  ): void;
  /**
   * batchNormForward's gradient: dx, dgamma, dbeta from dy and the forward's x, gamma, mean,
   * invStd; `mask` is the forward's y when it ran with `relu` (dy counts where y > 0), else null.
   */
  batchNormBackward(
    dy: Float32Array,
    x: Float32Array,
    gamma: Float32Array,
    mean: Float32Array,
    invStd: Float32Array,
    dx: Float32Array,
    dgamma: Float32Array,
    dbeta: Float32Array,
    mask: Float32Array | null,
  ): void;
  /**
   * Max pooling of x [n, h, w, c] into y [n, oh, ow, c] (the geometry's o = c, kh x kw window),
   * with the flat index into x of each output's maximum (first in window order; -1: empty window).
   */
  maxPoolForward(x: Float32Array, y: Float32Array, indices: Int32Array, g: NativeConvGeometry): void;
  /** dx = 0, then dx[indices[i]] += dy[i]. */
  maxPoolBackward(dy: Float32Array, indices: Int32Array, dx: Float32Array): void;
  /** ReLU's gradient from its output: dx = y > 0 ? dy : 0. */
  reluBackward(dy: Float32Array, y: Float32Array, dx: Float32Array): void;
  /** y = x < 0 ? 0 : x (a NaN stays a NaN). */
  reluForward(x: Float32Array, y: Float32Array): void;
  /** out = a + b, elementwise over arrays of one length. */
  add(a: Float32Array, b: Float32Array, out: Float32Array): void;
  /**
   * One SGD step of src/train/sgd.ts in one pass, bit-identical to its tfjs ops: writes the new
   * parameter into pOut and the new momentum buffer into bufOut (buf and bufOut null without momentum).
   */
  sgdStep(
    p: Float32Array,
    grad: Float32Array,
    buf: Float32Array | null,
    pOut: Float32Array,
    bufOut: Float32Array | null,
    lr: number,
    momentum: number,
    weightDecay: number,
    nesterov: boolean,
    gradScale: number,
  ): void;
  /**
   * The threads every kernel splits its work over from now on, the caller included (1 at load);
   * returns the count running. Results are the same bits for every count (see native/kernels.c).
   */
  setThreads(threads: number): number;
}

const geometryArray = (g: NativeConvGeometry): Int32Array =>
  Int32Array.of(g.n, g.h, g.w, g.c, g.oh, g.ow, g.o, g.kh, g.kw, ...g.strides, ...g.dilations, ...g.padTopLeft);

interface BuildScript {
  cpuKey(): string;
  MODULE_FILE: string;
  INFO_FILE: string;
}

/** native/build.js, from dist/src/backend (a checkout) or the package root (an install). */
const BUILD_SCRIPT = path.join(__dirname, '..', '..', '..', 'native', 'build.js');

function load(): NativeKernels | Error {
  const setting = (process.env['LATEPHASE_NATIVE'] ?? 'auto').trim().toLowerCase();
  if (['off', '0', 'false', 'no'].includes(setting)) return new Error('turned off by LATEPHASE_NATIVE');
  if (!fs.existsSync(BUILD_SCRIPT)) return new Error(`native/build.js not found at ${BUILD_SCRIPT}`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const build = require(BUILD_SCRIPT) as BuildScript;
  if (!fs.existsSync(build.MODULE_FILE)) return new Error(`not built; run \`node ${path.relative(process.cwd(), BUILD_SCRIPT)}\``);
  let info: { cpuKey?: unknown };
  try {
    info = JSON.parse(fs.readFileSync(build.INFO_FILE, 'utf8')) as { cpuKey?: unknown };
  } catch {
    return new Error(`${build.INFO_FILE} is missing or unreadable; rebuild with \`node ${BUILD_SCRIPT}\``);
  }
  if (info.cpuKey !== build.cpuKey()) return new Error(`built for another CPU; rebuild here with \`node ${BUILD_SCRIPT}\``);
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(build.MODULE_FILE) as Partial<NativeModule>;
    const missing = KERNEL_NAMES.filter((name) => typeof mod[name] !== 'function');
    if (missing.length) return new Error(`${build.MODULE_FILE} lacks ${missing.join(', ')}; rebuild with \`node ${BUILD_SCRIPT}\``);
    const native = mod as NativeModule;
    return {
      conv2d: (x, w, out, g) => native.conv2d(x, w, out, geometryArray(g)),
      inputGradient: (dy, w, out, g) => native.inputGradient(dy, w, out, geometryArray(g)),
      filterGradient: (x, dy, out, g) => native.filterGradient(x, dy, out, geometryArray(g)),
      batchNormForward: native.batchNormForward,
      batchNormBackward: native.batchNormBackward,
      maxPoolForward: (x, y, indices, g) => native.maxPoolForward(x, y, indices, geometryArray(g)),
      maxPoolBackward: native.maxPoolBackward,
      reluBackward: native.reluBackward,
      sgdStep: native.sgdStep,
      reluForward: native.reluForward,
      add: native.add,
      setThreads: native.setThreads,
    };
  } catch (err) {
    return new Error(`could not load ${build.MODULE_FILE}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
}

let loaded: NativeKernels | Error | undefined;

/** The native kernels, or why they are unavailable (loaded once per process; `reload` re-reads LATEPHASE_NATIVE). */
export function nativeKernels(reload = false): NativeKernels | Error {
  if (reload || loaded === undefined) loaded = load();
  return loaded;
}

/** Wasm kernels built on the native module, by kernel name; `stock` is tfjs's own kernel of that name, where there is one. */
export type NativeKernelMakers = Readonly<Record<string, (n: NativeKernels, stock: tf.KernelConfig | undefined) => tf.KernelFunc>>;
