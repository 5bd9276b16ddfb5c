/**
 * SWA's BatchNorm recompute (../shared/docs/paper-notes.md section 1 item 6): averaged weights
 * never ran together, so the running statistics training left do not describe them. One
 * train-mode pass over the training data per member (that member selected) rebuilds them as the
 * exact cumulative mean over the minibatches (PyTorch's bn_update: momentum b / (n + b)).
 * Minibatches are split into the training's ghost batches, each normalised on its own, so the
 * statistics are those of the batches the model trained on. A member's own statistics come from
 * its pass alone; plain layers' statistics accumulate over every member's pass.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Model } from '../nn/model';
import { latePhaseUnits, memberCount, selectMember, stepState } from '../latephase/members';
import { SeededAugmentation, shardSizes, trainingBatch } from './gradients';
import { Examples, exampleCount } from '../data/dataset';

interface RecomputeOptions {
  readonly batchSize: number;
  readonly ghostBatches: number;
  readonly augment?: SeededAugmentation;
  /** The epoch index the augmentation draws for (the pass after the last training epoch). */
  readonly epoch: number;
}

export function recomputeRunningStatistics(model: Model, data: Examples, opts: RecomputeOptions): void {
  const n = exampleCount(data);
  const late = latePhaseUnits(model).length > 0;
  const seen = new Map<tf.Variable, number>();
  for (let member = 0; member < memberCount(model); member++) {
    if (late) selectMember(model, member);
    const state = stepState(model, member).map((s) => s.variable);
    for (let start = 0; start < n; start += opts.batchSize) {
      const rows = Int32Array.from({ length: Math.min(opts.batchSize, n - start) }, (_, i) => start + i);
      const batch = batchStatistics(model, data, rows, state, opts);
      tf.tidy(() =>
        state.forEach((v, i) => {
          const before = seen.get(v) ?? 0;
          const m = rows.length / (before + rows.length);
          v.assign(before === 0 ? batch[i]! : tf.add(tf.mul(v, 1 - m), tf.mul(batch[i]!, m)));
          seen.set(v, before + rows.length);
        }),
      );
      tf.dispose(batch);
    }
  }
}

/** The minibatch's statistics: each ghost batch's own (a train-mode pass with momentum 1), weighted by its rows. */
function batchStatistics(model: Model, data: Examples, rows: Int32Array, state: readonly tf.Variable[], opts: RecomputeOptions): tf.Tensor[] {
  const sizes = shardSizes(rows.length, opts.ghostBatches);
  const before = state.map((v) => tf.clone(v));
  let sums: tf.Tensor[] | null = null;
  let start = 0;
  for (const size of sizes) {
    const shard = rows.subarray(start, start + size);
    start += size;
    state.forEach((v, i) => v.assign(before[i]!));
    tf.tidy(() => {
      model.forward(trainingBatch(data, shard, opts.augment, opts.epoch), { training: true, runningMomentum: 1 });
    });
    const previous: tf.Tensor[] | null = sums;
    sums = tf.tidy(() => state.map((v, i) => (previous ? tf.add(previous[i]!, tf.mul(v, size / rows.length)) : tf.mul(v, size / rows.length))));
    if (previous) tf.dispose(previous);
  }
  state.forEach((v, i) => v.assign(before[i]!));
  tf.dispose(before);
  return sums ?? [];
}
