/**
 * The optional native kernels (native/kernels.c, built by native/build.js): loaded once, or the
 * reason they are not, for the backend report. `LATEPHASE_NATIVE=off` turns them off (the
 * onnxruntime formulations run; tests compare the two paths).
 */
import * as crypto from 'crypto';
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

const KERNEL_NAMES = [
  'conv2d',
  'inputGradient',
  'filterGradient',
  'batchNormForward',
  'batchNormBackward',
  'maxPoolForward',
  'maxPoolBackward',
  'convReluMaxPool',
  'convReluMaxPoolFilterGradient',
  'reluBackward',
  'sgdStep',
  'reluForward',
  'add',
  'globalAvgPool',
  'globalAvgPoolGrad',
  'softmaxCrossEntropy',
  'setThreads',
] as const;
/** A kernel as the binary exports it: each geometry argument as its Int32Array (geometryArray). */
type WithRawGeometry<F> = F extends (...args: infer A) => infer R
  ? (...args: { [I in keyof A]: A[I] extends NativeConvGeometry ? Int32Array : A[I] }) => R
  : never;
type NativeModule = { [K in (typeof KERNEL_NAMES)[number]]: WithRawGeometry<NativeKernels[K]> };

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
   * dy is [rows, C] like x, or [images, C] (rows a multiple of images): each of its rows then
   * serves rows / images consecutive rows of x (a global average pool's gradient, already divided).
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
   * with the flat index into x of each output's maximum (first in window order; -1: empty window);
   * with `relu`, y = max(pool, 0): the pool of a ReLU's output, bit for bit.
   */
  maxPoolForward(x: Float32Array, y: Float32Array, indices: Int32Array, g: NativeConvGeometry, relu: boolean): void;
  /**
   * dx = 0, then dx[indices[i]] += dy[i], where `mask` (the forward's y when it ran with relu) is > 0
   * (mask null: everywhere); `g` is the forward's geometry (windows that tile x are written in place).
   */
  maxPoolBackward(dy: Float32Array, indices: Int32Array, dx: Float32Array, mask: Float32Array | null, g: NativeConvGeometry): void;
  /**
   * y = maxPoolForward(ReLU(conv2d(x, w) + bias)) with its indices (flat into the convolution's
   * output), without writing that output: the same bits as the three unfused. Only where
   * `convReluMaxPoolApplies(conv, pool)` (few input channels, output channels in 16s, a pool that
   * tiles the convolution's output); bias may be null.
   */
  convReluMaxPool(
    x: Float32Array,
    w: Float32Array,
    bias: Float32Array | null,
    y: Float32Array,
    indices: Int32Array,
    conv: NativeConvGeometry,
    pool: NativeConvGeometry,
  ): void;
  /**
   * convReluMaxPool's filter gradient dw from x and the pooled dy, y and indices (the unfused bits,
   * the full-resolution dy never written); with db, the bias gradient too.
   */
  convReluMaxPoolFilterGradient(
    x: Float32Array,
    dy: Float32Array,
    y: Float32Array,
    indices: Int32Array,
    dw: Float32Array,
    db: Float32Array | null,
    conv: NativeConvGeometry,
    pool: NativeConvGeometry,
  ): void;
  /** y [n, c] = the mean of x [n, pixels, c] over the pixels (each channel summed in pixel order, then divided). */
  globalAvgPool(x: Float32Array, y: Float32Array, channels: number): void;
  /** dx [n, pixels, c] = dy [n, c] / pixels at every pixel. */
  globalAvgPoolGrad(dy: Float32Array, dx: Float32Array, channels: number): void;
  /**
   * Mean softmax cross-entropy of logits [rows, classes] against targets [rows, classes] (one-hot or
   * non-negative weights); writes its gradient with respect to the logits, (softmax * sum t - t) / rows,
   * into dlogits and returns the loss.
   */
  softmaxCrossEntropy(logits: Float32Array, targets: Float32Array, dlogits: Float32Array, classes: number): number;
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
  build(opts: { nodedir?: string; strict?: boolean }): string | null;
  cpuKey(): string;
  supportedLevels(): string[];
  prebuiltFile(level: string): string;
  MODULE_FILE: string;
  INFO_FILE: string;
  LEVEL_ORDER: string[];
}

/** Which binary runs: a build for this machine (a clone's `npm run build`, `build-native`), or a prebuilt level. */
interface ModuleChoice {
  readonly file: string;
  /** For the backend report: 'built here (-march=native)', 'prebuilt x86-64-v4'. */
  readonly what: string;
}

/** native/build.js, from dist/src/backend (a checkout) or the package root (an install). */
const BUILD_SCRIPT = path.join(__dirname, '..', '..', '..', 'native', 'build.js');

const BUILD_HINT = 'build them with `npx latephase build-native`';

/**
 * The binary to load: LATEPHASE_NATIVE_ISA=v2|v3|v4 forces a prebuilt level (refused above what
 * this CPU runs); else a build for this machine where its CPU key matches; else the best prebuilt
 * level this CPU runs (the packed package ships them: no compiler, headers or install scripts).
 */
function chooseModule(build: BuildScript): ModuleChoice | Error {
  const levels = cpuLevels(build);
  const forced = (process.env['LATEPHASE_NATIVE_ISA'] ?? '').trim().toLowerCase();
  if (forced) {
    if (!build.LEVEL_ORDER.includes(forced)) return new Error(`LATEPHASE_NATIVE_ISA=${forced} is not a level (${build.LEVEL_ORDER.join(', ')})`);
    if (!levels.includes(forced))
      return new Error(`LATEPHASE_NATIVE_ISA=${forced} is refused: this CPU runs ${levels.length ? levels.join(', ') : 'none of the x86-64 levels'}`);
    const file = build.prebuiltFile(forced);
    return fs.existsSync(file) ? { file, what: `prebuilt x86-64-${forced}, forced` } : new Error(`no prebuilt ${forced} binary at ${file}`);
  }
  if (fs.existsSync(build.MODULE_FILE)) {
    let key: unknown;
    try {
      key = (JSON.parse(fs.readFileSync(build.INFO_FILE, 'utf8')) as { cpuKey?: unknown }).cpuKey;
    } catch {
      key = undefined;
    }
    if (key === build.cpuKey()) return { file: build.MODULE_FILE, what: 'built here, -march=native' };
  }
  for (const level of [...levels].reverse()) {
    const file = build.prebuiltFile(level);
    if (fs.existsSync(file)) return { file, what: `prebuilt x86-64-${level}` };
  }
  const local = fs.existsSync(build.MODULE_FILE) ? 'the local build is for another CPU; ' : '';
  return new Error(
    `not built: ${local}no prebuilt binary for ${process.platform}-${process.arch}${levels.length ? ` (${levels.join(', ')})` : ''}; ${BUILD_HINT}`,
  );
}

let chosen: ModuleChoice | null = null;

/**
 * The x86-64 levels this CPU executes, lowest first: from CPUID, asked through the baseline (v2)
 * prebuilt binary, which any x86-64-v2 CPU loads safely; /proc/cpuinfo's flags where that binary is
 * absent. CPUID is what counts: an emulator (qemu-user) or a hypervisor may show other flags there.
 */
function cpuLevels(build: BuildScript): string[] {
  const baseline = build.prebuiltFile('v2');
  const flagLevels = build.supportedLevels();
  if (!flagLevels.includes('v2') || !fs.existsSync(baseline)) return flagLevels;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const probe = require(baseline) as { cpuLevel?: () => number };
    const level = probe.cpuLevel?.();
    return typeof level === 'number' ? build.LEVEL_ORDER.slice(0, Math.max(0, level - 1)) : flagLevels;
  } catch {
    return flagLevels;
  }
}

/** This CPU's x86-64 levels as the loader sees them (CPUID through the baseline binary, else /proc/cpuinfo). */
export function nativeCpuLevels(): string[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return fs.existsSync(BUILD_SCRIPT) ? cpuLevels(require(BUILD_SCRIPT) as BuildScript) : [];
}

/**
 * Compile the kernels for this machine (`latephase build-native`: platforms without a prebuilt
 * binary, or a CPU-tuned build); returns null on success, else why not (no compiler, no headers).
 */
export function buildNativeKernels(nodedir?: string): string | null {
  if (!fs.existsSync(BUILD_SCRIPT)) return `native/build.js not found at ${BUILD_SCRIPT}`;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const build = require(BUILD_SCRIPT) as BuildScript;
  return build.build(nodedir === undefined ? {} : { nodedir });
}

/** Which native binary is loaded ('built here, -march=native', 'prebuilt x86-64-v4'), or null when none is. */
export function nativeModuleSource(): string | null {
  return chosen?.what ?? null;
}

/**
 * The loaded binary's identity: its source and a hash of its bytes (a rebuild in a clone keeps the
 * source's words but may run at another speed), or null when none is loaded.
 */
export function nativeModuleIdentity(): string | null {
  if (!chosen) return null;
  let digest: string;
  try {
    digest = crypto.createHash('sha256').update(fs.readFileSync(chosen.file)).digest('hex').slice(0, 16);
  } catch {
    digest = 'unreadable';
  }
  return `${chosen.what} ${digest}`;
}

function load(): NativeKernels | Error {
  chosen = null;
  const setting = (process.env['LATEPHASE_NATIVE'] ?? 'auto').trim().toLowerCase();
  if (['off', '0', 'false', 'no'].includes(setting)) return new Error('turned off by LATEPHASE_NATIVE');
  if (!fs.existsSync(BUILD_SCRIPT)) return new Error(`native/build.js not found at ${BUILD_SCRIPT}`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const build = require(BUILD_SCRIPT) as BuildScript;
  const choice = chooseModule(build);
  if (choice instanceof Error) return choice;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(choice.file) as Partial<NativeModule>;
    const missing = KERNEL_NAMES.filter((name) => typeof mod[name] !== 'function');
    if (missing.length) return new Error(`${choice.file} lacks ${missing.join(', ')}; ${BUILD_HINT}`);
    chosen = choice;
    const native = mod as NativeModule;
    return {
      conv2d: (x, w, out, g) => native.conv2d(x, w, out, geometryArray(g)),
      inputGradient: (dy, w, out, g) => native.inputGradient(dy, w, out, geometryArray(g)),
      filterGradient: (x, dy, out, g) => native.filterGradient(x, dy, out, geometryArray(g)),
      batchNormForward: native.batchNormForward,
      batchNormBackward: native.batchNormBackward,
      maxPoolForward: (x, y, indices, g, relu) => native.maxPoolForward(x, y, indices, geometryArray(g), relu),
      maxPoolBackward: (dy, indices, dx, mask, g) => native.maxPoolBackward(dy, indices, dx, mask, geometryArray(g)),
      convReluMaxPool: (x, w, bias, y, indices, conv, pool) =>
        native.convReluMaxPool(x, w, bias, y, indices, geometryArray(conv), geometryArray(pool)),
      convReluMaxPoolFilterGradient: (x, dy, y, indices, dw, db, conv, pool) =>
        native.convReluMaxPoolFilterGradient(x, dy, y, indices, dw, db, geometryArray(conv), geometryArray(pool)),
      reluBackward: native.reluBackward,
      sgdStep: native.sgdStep,
      reluForward: native.reluForward,
      add: native.add,
      globalAvgPool: native.globalAvgPool,
      globalAvgPoolGrad: native.globalAvgPoolGrad,
      softmaxCrossEntropy: native.softmaxCrossEntropy,
      setThreads: native.setThreads,
    };
  } catch (err) {
    return new Error(`could not load ${choice.file}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}; ${BUILD_HINT}`);
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
