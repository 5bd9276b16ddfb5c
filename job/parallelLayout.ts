/**
 * `workers: auto` by measurement. With the native kernels and two ghost batches or more, a
 * minibatch runs either on data-parallel workers (this thread and each worker with the kernels on
 * one thread) or in this thread alone with the kernels split over every core. Which is faster
 * depends on the model, the batch and the machine (WRN-16-4 b64 on this 2-core machine: the kernel
 * threads; the bench CNN: a worker), and both compute the same bits (the ghost batches fix the
 * math), so the choice is about speed only: a few steps of each on a fresh copy of the model,
 * timed in alternating rounds (each layout's best round: one timing of each put a neighbour's burst,
 * or a worker thread still shutting down, on one side and cached a choice 12% slower on the default
 * job), the faster kept, and remembered per (model tensors, batch, ghost batches, CPU, cores, native
 * binary and its bytes) in the cache (~/.cache/latephase/layouts.json).
 * `LATEPHASE_LAYOUT=workers|kernels` skips the measurement.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { Examples, exampleCount, rowRange, rowView } from '../src/data/dataset';
import { buildFromRecipe, ModelRecipe } from '../src/nn/modelRecipe';
import { TrainConfig, trainLatePhase } from '../src/train/trainer';
import { useKernelThreads } from '../src/backend/kernelThreads';
import { nativeModuleIdentity } from '../src/backend/nativeKernels';
import { writeFileAtomic } from '../src/io/atomicWrite';
import { ConfigError } from '../src/errors';
import { PACKAGE } from '../src/version';

export interface ParallelLayout {
  /** Data-parallel workers besides this thread (0: the kernel threads alone). */
  readonly workers: number;
  /** How it was chosen, for the log, the summary and the manifest. */
  readonly how: string;
}

interface Measured {
  readonly workersMs: number;
  readonly kernelsMs: number;
}

const WARMUP_STEPS = 2;
const TIMED_STEPS = 4;
const ROUNDS = 2;

function cacheFile(): string {
  return path.join(process.env['XDG_CACHE_HOME'] || path.join(os.homedir(), '.cache'), 'latephase', 'layouts.json');
}

function readCache(): Record<string, Measured> {
  try {
    return JSON.parse(fs.readFileSync(cacheFile(), 'utf8')) as Record<string, Measured>;
  } catch {
    return {};
  }
}

/** Median step time (ms) of the timed steps of a plain run on `sample` with `workers` workers. */
async function stepMs(recipe: ModelRecipe, sample: Examples, train: TrainConfig, workers: number): Promise<number> {
  const model = buildFromRecipe(recipe);
  const stamps: number[] = [];
  try {
    const { swa: _swa, paramGroups: _groups, ...rest } = train;
    await trainLatePhase(
      model,
      sample,
      { ...rest, epochs: 1, t0: 1, k: 1, lossCheckEvery: 1000 },
      { onStep: () => stamps.push(performance.now()), ...(workers > 0 && { parallel: { workers, recipe } }) },
    );
  } finally {
    model.dispose();
  }
  const times = stamps
    .slice(1)
    .map((t, i) => t - stamps[i]!)
    .slice(WARMUP_STEPS - 1)
    .sort((a, b) => a - b);
  return times[times.length >> 1]!;
}

/**
 * The layout for a run allowed `workers` workers (already capped by cores and ghost batches) on
 * `cores` cores: measured (or remembered, keyed by the model's `signature`, modelSignature), or the
 * one LATEPHASE_LAYOUT names. Leaves the kernel threads set for the layout chosen.
 */
export async function chooseParallelLayout(
  recipe: ModelRecipe,
  signature: readonly string[],
  data: Examples,
  train: TrainConfig,
  workers: number,
  cores: number,
): Promise<ParallelLayout> {
  const forced = (process.env['LATEPHASE_LAYOUT'] ?? '').trim().toLowerCase();
  const use = (w: number, how: string): ParallelLayout => {
    useKernelThreads(w > 0 ? 1 : cores);
    return { workers: w, how };
  };
  if (forced === 'workers') return use(workers, 'workers (LATEPHASE_LAYOUT)');
  if (forced === 'kernels') return use(0, 'kernel threads (LATEPHASE_LAYOUT)');
  if (forced && forced !== 'measure') throw new ConfigError(`LATEPHASE_LAYOUT must be measure, workers or kernels, got '${forced}'`);
  const rows = Math.min(exampleCount(data), train.batchSize * (WARMUP_STEPS + TIMED_STEPS));
  if (Math.floor(rows / train.batchSize) < WARMUP_STEPS + 2) return use(workers, 'workers (too little data to measure)');
  const key = crypto
    .createHash('sha256')
    .update(
      JSON.stringify({
        model: signature,
        batch: train.batchSize,
        ghost: train.ghostBatches,
        augment: Boolean(train.augment),
        cpu: os.cpus()[0]?.model,
        cores,
        workers,
        native: nativeModuleIdentity(),
        backend: tf.getBackend(),
        version: PACKAGE.version,
      }),
    )
    .digest('hex')
    .slice(0, 24);
  const cache = readCache();
  let m = cache[key];
  const remembered = m !== undefined;
  if (!m) {
    const sample = rowView(data, rowRange(0, rows));
    let [workersMs, kernelsMs] = [Infinity, Infinity];
    for (let round = 0; round < ROUNDS; round++) {
      useKernelThreads(1);
      workersMs = Math.min(workersMs, await stepMs(recipe, sample, train, workers));
      useKernelThreads(cores);
      kernelsMs = Math.min(kernelsMs, await stepMs(recipe, sample, train, 0));
    }
    m = { workersMs, kernelsMs };
    try {
      fs.mkdirSync(path.dirname(cacheFile()), { recursive: true });
      writeFileAtomic(cacheFile(), `${JSON.stringify({ ...readCache(), [key]: m }, null, 1)}\n`, undefined, 'layout-cache');
    } catch {
      // an unwritable cache only means measuring again next time
    }
  }
  const pickWorkers = m.workersMs <= m.kernelsMs;
  const times = `${m.workersMs.toFixed(1)} ms a step with ${workers} worker${workers > 1 ? 's' : ''}, ${m.kernelsMs.toFixed(1)} ms on ${cores} kernel threads`;
  return use(pickWorkers ? workers : 0, `${pickWorkers ? 'workers' : 'kernel threads'} (auto, ${remembered ? 'remembered' : 'measured'}: ${times})`);
}
