/**
 * Chooses and initialises the tfjs backend: tfjs-node-gpu (only if it loads and sees a GPU) >
 * tfjs-node > wasm > pure-JS cpu. Overridable with `LATEPHASE_BACKEND` or the CLI's `--backend`.
 * The choice, and why each better rung was skipped, is always returned for reporting.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node bundle registers no gradients, and its ESM gradient files do not resolve in
// Node; the @tensorflow/tfjs bundle registers them all (into the same, deduplicated tfjs-core).
import '@tensorflow/tfjs';
import { ConfigError } from '../errors';
import { registerWasmKernels } from './kernels/registry';
import { isMainThread } from 'worker_threads';
import { parseConvolutionEngine, useConvolutionEngine } from './convolutionEngine';
import { defaultKernelThreads } from './kernelThreads';

export const BACKEND_LADDER = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_LADDER)[number];

export interface BackendAttempt {
  readonly choice: BackendChoice;
  readonly ok: boolean;
  readonly detail: string;
}

export interface BackendReport {
  /** The rung that runs. */
  readonly choice: BackendChoice;
  /** tfjs's own backend name (`tensorflow`, `wasm`, `cpu`). */
  readonly tfjsBackend: string;
  /** Every rung tried, best first, with why it was or was not taken. */
  readonly attempts: readonly BackendAttempt[];
  /** Whether the choice was forced (flag or environment variable). */
  readonly forced: boolean;
}

/** Every name `--backend` and `LATEPHASE_BACKEND` accept for a rung. */
const BACKEND_ALIASES: Readonly<Record<string, BackendChoice>> = {
  gpu: 'tensorflow-gpu',
  'tensorflow-gpu': 'tensorflow-gpu',
  'tfjs-node-gpu': 'tensorflow-gpu',
  node: 'tensorflow',
  tensorflow: 'tensorflow',
  'tfjs-node': 'tensorflow',
  wasm: 'wasm',
  cpu: 'cpu',
};

/** The values a backend flag may take: 'auto' (walk the ladder) and every rung's names. */
export const BACKEND_CHOICES: readonly string[] = ['auto', ...Object.keys(BACKEND_ALIASES)];

export function parseBackendChoice(value: string, source: string): BackendChoice {
  const choice = BACKEND_ALIASES[value.trim().toLowerCase()];
  if (!choice) {
    throw new ConfigError(`${source}: unknown backend '${value}'; expected one of ${BACKEND_LADDER.join(', ')} (or auto)`);
  }
  return choice;
}

/** Optional packages are loaded by a computed name so that their absence is a runtime fact, not a build error. */
function loadOptional(pkg: string): unknown {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(pkg) as unknown;
}

/**
 * A native tfjs package whose install script did not run (installs here skip install scripts; see
 * README, GPU paths) is present without its native addon. Requiring it would register every kernel
 * before failing, twice over for the GPU and CPU packages (pages of warnings), so the addon is
 * looked for first and its absence reported with the fix.
 */
function loadNative(pkg: string): void {
  let dir: string;
  try {
    dir = path.dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    throw new Error(`${pkg} is not installed`);
  }
  const lib = path.join(dir, 'lib');
  const hasAddon = fs.existsSync(lib) && fs.readdirSync(lib).some((d) => fs.existsSync(path.join(lib, d, 'tfjs_binding.node')));
  if (!hasAddon) throw new Error(`${pkg} is installed without its native library; fetch it with \`npm rebuild ${pkg} --ignore-scripts=false\``);
  loadOptional(pkg);
}

function nativeSeesGpu(): boolean {
  const backend = tf.findBackend('tensorflow') as unknown as { binding?: { isUsingGpuDevice?: () => boolean } } | null;
  const probe = backend?.binding?.isUsingGpuDevice;
  return typeof probe === 'function' ? probe.call(backend!.binding) : false;
}

async function tryChoice(choice: BackendChoice): Promise<string> {
  switch (choice) {
    case 'tensorflow-gpu':
      loadNative('@tensorflow/tfjs-node-gpu');
      if (!(await tf.setBackend('tensorflow'))) throw new Error('tensorflow backend failed to initialise');
      if (!nativeSeesGpu()) throw new Error('tfjs-node-gpu loaded but sees no GPU device');
      return 'libtensorflow with CUDA';
    case 'tensorflow':
      loadNative('@tensorflow/tfjs-node');
      if (!(await tf.setBackend('tensorflow'))) throw new Error('tensorflow backend failed to initialise');
      return 'libtensorflow on CPU';
    case 'wasm': {
      loadOptional('@tensorflow/tfjs-backend-wasm');
      if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend failed to initialise');
      registerWasmKernels();
      // worker threads share the main thread's kernel pool and leave its size alone
      const convolutions = useConvolutionEngine(undefined, isMainThread ? defaultKernelThreads() : undefined);
      const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'SIMD' : 'no SIMD';
      return `WebAssembly (XNNPACK, ${simd}, single-threaded in Node), ${convolutions}`;
    }
    case 'cpu':
      loadOptional('@tensorflow/tfjs-backend-cpu');
      if (!(await tf.setBackend('cpu'))) throw new Error('cpu backend failed to initialise');
      return 'pure-JS cpu backend (slow on convolutions)';
  }
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0]!.slice(0, 200);
}

/**
 * Initialise the best available backend, or exactly `requested` when given (`auto` or undefined walks
 * the ladder). `LATEPHASE_BACKEND` is read when `requested` is undefined. A forced backend that cannot
 * start is an error, never a silent downgrade.
 */
export async function selectBackend(requested?: string): Promise<BackendReport> {
  const fromEnv = process.env['LATEPHASE_BACKEND'];
  const raw = requested ?? fromEnv;
  const source = requested !== undefined ? '--backend' : 'LATEPHASE_BACKEND';
  const forced = raw !== undefined && raw !== '' && raw.toLowerCase() !== 'auto';
  const ladder: readonly BackendChoice[] = forced ? [parseBackendChoice(raw, source)] : BACKEND_LADDER;
  parseConvolutionEngine(process.env['LATEPHASE_CONV']); // a bad value is an error here, not a reason to skip wasm
  defaultKernelThreads(); // likewise LATEPHASE_THREADS
  const attempts: BackendAttempt[] = [];
  for (const choice of ladder) {
    try {
      const detail = await tryChoice(choice);
      attempts.push({ choice, ok: true, detail });
      return { choice, tfjsBackend: tf.getBackend(), attempts, forced };
    } catch (err) {
      attempts.push({ choice, ok: false, detail: firstLine(err) });
    }
  }
  const tried = attempts.map((a) => `${a.choice}: ${a.detail}`).join('; ');
  throw new ConfigError(forced ? `${source}: backend '${raw}' could not start (${tried})` : `no tfjs backend could start (${tried})`);
}

/** One line: the backend that runs; with `skipped`, also why each better rung was not taken. */
export function describeBackend(report: BackendReport, skipped = false): string {
  const used = report.attempts.find((a) => a.ok);
  const head = `${report.choice} (${used?.detail ?? report.tfjsBackend})${report.forced ? ', forced' : ''}`;
  const misses = report.attempts.filter((a) => !a.ok).map((a) => `${a.choice} unavailable: ${a.detail}`);
  return skipped && misses.length ? `${head}; ${misses.join('; ')}` : head;
}
