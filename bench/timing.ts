/** Timing helpers for the benchmarks: medians after warm-up, and per-step times of the real training path. */
import { Model } from '../src/nn/model';
import { Rng } from '../src/nn/rng';
import { Dataset, Examples } from '../src/data/dataset';
import { trainLatePhase } from '../src/train/trainer';
import { DEFAULT_TRAIN_CONFIG } from '../job/runPlan';
import { DataParallelOptions } from '../src/train/dataParallel';

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Median wall time (ms) of `fn` over `repeats` runs after `warmup` runs. */
export async function timeMedian(fn: () => unknown, repeats: number, warmup = 2): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return median(times);
}

function syntheticData(model: Model, rows: number, classes: number): Dataset {
  const rng = new Rng(1);
  const per = model.inputShape.reduce((a, b) => a * b, 1);
  return {
    x: Float32Array.from({ length: rows * per }, () => rng.next()),
    y: Int32Array.from({ length: rows }, () => Math.floor(rng.next() * classes)),
    featureShape: model.inputShape,
    classes,
  };
}

/** Median time (ms) of one training step on the trainer's own path (see trainingStepTimes). */
export async function trainingStepMs(...args: Parameters<typeof trainingStepTimes>): Promise<number> {
  return median(await trainingStepTimes(...args));
}

/**
 * Times (ms) of `steps` training steps (forward, backward, SGD with momentum/Nesterov/decay) on the
 * trainer's own path, from the step hook's timestamps, after `warmup` steps that are dropped.
 * `latePhaseK` > 0 releases at once and cycles through that many members.
 */
export async function trainingStepTimes(
  model: Model,
  batch: number,
  steps: number,
  latePhaseK = 0,
  warmup = 3,
  parallel?: DataParallelOptions,
  /** The training data (default: synthetic rows); at least batch * (steps + warmup) examples. */
  given?: Examples,
): Promise<number[]> {
  const data = given ?? syntheticData(model, batch * (steps + warmup), model.outputShape[0]!);
  const stamps: number[] = [];
  await trainLatePhase(
    model,
    data,
    {
      ...DEFAULT_TRAIN_CONFIG,
      epochs: 1,
      t0: latePhaseK > 0 ? 0 : 1,
      k: Math.max(latePhaseK, 1),
      batchSize: batch,
      schedule: { kind: 'constant' },
      lossCheckEvery: steps + warmup + 1,
      // One ghost batch per thread, as the rows measured before ghost batches fixed the math: the
      // one-thread rows normalise the whole batch (like the PyTorch peer), N threads N shards.
      ghostBatches: parallel ? parallel.workers + 1 : 1,
    },
    { onStep: () => stamps.push(Number(process.hrtime.bigint()) / 1e6), ...(parallel && { parallel }) },
  );
  const durations = stamps.slice(1).map((t, i) => t - stamps[i]!);
  return durations.slice(warmup);
}
