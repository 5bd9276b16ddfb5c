/**
 * Where a minibatch's loss and gradients come from. The trainer asks a GradientSource and never
 * knows whether they were computed in this thread (`LocalGradients`) or split across worker threads
 * (`DataParallelGradients` in dataParallel.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Model } from '../nn/model';
import { NamedVariable, Param, TRAIN } from '../nn/layer';
import { softmaxCrossEntropy } from '../nn/loss';
import { Augmentation, augmentBatch, augmentDraws } from '../data/augment';
import { Examples, featureRows, labelRows, oneHotLabels } from '../data/dataset';
import { valueAndGradients } from './backward';

export interface LossAndGrads {
  readonly loss: tf.Scalar;
  /** One gradient per requested parameter, in the same order. */
  readonly grads: tf.Tensor[];
}

/** Loss and gradients of `params` (in order) on one minibatch, in train mode (BatchNorm updates its running statistics). */
export function lossAndGrads(model: Model, xb: tf.Tensor, yb: tf.Tensor, params: readonly Param[]): LossAndGrads {
  const { value, grads } = valueAndGradients(
    () => softmaxCrossEntropy(model.forward(xb, TRAIN), yb),
    params.map((p) => p.variable),
  );
  return { loss: value, grads };
}

/** One minibatch's gradient computation. */
export interface MinibatchStep {
  /** Training-set indices of the minibatch's rows. */
  readonly rows: Int32Array;
  /** The parameters whose gradients are wanted. */
  readonly params: readonly Param[];
  /** The late-phase member selected in the model (0 in the plain phase). */
  readonly member: number;
  /** The state the step may update (stepState: running statistics). */
  readonly state: readonly NamedVariable[];
  /** For the augmentation's draws. */
  readonly epoch: number;
}

export interface GradientSource {
  /** Loss and gradients of `step.params` on `step.rows`; the caller owns the returned tensors. */
  compute(model: Model, step: MinibatchStep): Promise<LossAndGrads>;
  /** Called after the trainer released `model` into `k` members. */
  released(model: Model, k: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * One shard's results: tensors when computed in this thread, host arrays when a worker computed
 * it. `state` is the state's value after the shard's train-mode forward pass (running statistics).
 */
export interface ShardOutput {
  readonly loss: tf.Scalar | number;
  readonly grads: ReadonlyArray<tf.Tensor | Float32Array>;
  readonly state: ReadonlyArray<tf.Tensor | Float32Array>;
}

/**
 * The minibatch's loss and gradients from its shards (ghost batches): each weighted by its share
 * of the rows, summed in shard order; the state becomes the shards' values weighted the same way
 * (exact for running means, the mean of the shards' variances for running variances). The same
 * arithmetic whichever thread computed which shard, so results do not depend on the worker count.
 */
export function combineShards(
  state: readonly NamedVariable[],
  params: readonly Param[],
  shards: readonly ShardOutput[],
  sizes: readonly number[],
): LossAndGrads {
  const rows = sizes.reduce((a, b) => a + b, 0);
  const weights = sizes.map((n) => n / rows);
  const shapes = params.map((p) => p.variable.shape);
  const asTensor = (v: tf.Tensor | Float32Array, shape: readonly number[]): tf.Tensor =>
    v instanceof Float32Array ? tf.tensor(v, [...shape], 'float32') : v;
  const weighted = (pick: (shard: ShardOutput) => tf.Tensor | Float32Array, shape: readonly number[]): tf.Tensor =>
    shards.reduce<tf.Tensor | null>((acc, shard, j) => {
      const term = tf.mul(asTensor(pick(shard), shape), weights[j]!);
      return acc ? tf.add(acc, term) : term;
    }, null)!;
  return tf.tidy(() => {
    const loss = weighted((sh) => (typeof sh.loss === 'number' ? Float32Array.of(sh.loss) : tf.reshape(sh.loss, [1])), [1]).reshape([]) as tf.Scalar;
    const grads = shapes.map((shape, i) => weighted((sh) => sh.grads[i]!, shape));
    state.forEach((v, i) => v.variable.assign(weighted((sh) => sh.state[i]!, v.variable.shape)));
    return { loss, grads };
  });
}

/** The default ghost-batch count, a rule of the config only (never of the machine): 2 from 64 rows on, else 1. */
export function defaultGhostBatches(batchSize: number): number {
  return batchSize >= 64 ? 2 : 1;
}

/** BatchNorm statistics of a few rows are noise (of one row, no variance at all): no shard is smaller than this. */
export const MIN_SHARD_ROWS = 8;

/** Shard sizes for `rows` rows in at most `parts` shards, none under MIN_SHARD_ROWS unless there is one. */
export function shardSizes(rows: number, parts: number): number[] {
  const count = Math.max(1, Math.min(parts, Math.floor(rows / MIN_SHARD_ROWS)));
  const base = Math.floor(rows / count);
  return Array.from({ length: count }, (_, i) => base + (i < rows % count ? 1 : 0));
}

/** Training-time augmentation with the seed its draws derive from. */
export interface SeededAugmentation {
  readonly augmentation: Augmentation;
  readonly seed: number;
}

/** The training rows `rows` read from `data`, augmented for `epoch` when configured. */
export function trainingBatch(data: Examples, rows: Int32Array, augment: SeededAugmentation | undefined, epoch: number): tf.Tensor {
  const xb = tf.tensor(featureRows(data, rows), [rows.length, ...data.featureShape], 'float32');
  return augment ? augmentBatch(xb, augmentDraws(rows, augment.seed, epoch, augment.augmentation), augment.augmentation) : xb;
}

/** The minibatch in this thread, its rows read from the data (in memory or streamed), shard by shard. */
export class LocalGradients implements GradientSource {
  constructor(
    private readonly data: Examples,
    /** Ghost batches per minibatch (BatchNorm normalises each on its own). */
    private readonly ghostBatches = 1,
    private readonly augment?: SeededAugmentation,
  ) {}

  compute(model: Model, step: MinibatchStep): Promise<LossAndGrads> {
    const sizes = shardSizes(step.rows.length, this.ghostBatches);
    if (sizes.length === 1) return Promise.resolve(this.computeNow(model, step.rows, step.params, step.epoch));
    const shards = this.computeShards(model, step, sizes, [...sizes.keys()]);
    const combined = combineShards(step.state, step.params, shards, sizes);
    disposeShards(shards);
    return Promise.resolve(combined);
  }

  /** One shard, synchronously (augmented for `epoch` when configured). */
  computeNow(model: Model, rows: Int32Array, params: readonly Param[], epoch: number): LossAndGrads {
    return tf.tidy(() => {
      const yb = oneHotLabels({ ...this.data, y: labelRows(this.data, rows) });
      const { loss, grads } = lossAndGrads(model, trainingBatch(this.data, rows, this.augment, epoch), yb, params);
      return { loss, grads };
    });
  }

  /**
   * The shards `which` (indices into `sizes`) one after another, each from the state as it was
   * before any of them (as a worker would see it), keeping each shard's state after its pass.
   */
  computeShards(model: Model, step: MinibatchStep, sizes: readonly number[], which: readonly number[]): ShardOutput[] {
    const { rows, params, state, epoch } = step;
    const starts = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
    const before = state.map((v) => tf.clone(v.variable));
    const out = which.map((s, n) => {
      if (n > 0) state.forEach((v, i) => v.variable.assign(before[i]!));
      const { loss, grads } = this.computeNow(model, rows.subarray(starts[s]!, starts[s]! + sizes[s]!), params, epoch);
      return { loss, grads, state: state.map((v) => tf.clone(v.variable)) };
    });
    tf.dispose(before);
    return out;
  }

  released(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export function disposeShards(shards: readonly ShardOutput[]): void {
  for (const sh of shards) tf.dispose([sh.loss, ...sh.grads, ...sh.state].filter((t): t is tf.Tensor => t instanceof tf.Tensor));
}
