/** An in-memory labelled data set: float features, row-major, one row per example. */
import * as tf from '@tensorflow/tfjs-core';
import { DataError } from '../errors';
import { Rng } from '../nn/rng';

export interface Dataset {
  readonly x: Float32Array;
  /** Class indices, `labelShape` of them per example. */
  readonly y: Int32Array;
  /** Per-example feature shape, e.g. [784]. */
  readonly featureShape: readonly number[];
  readonly classes: number;
  /** Per-example label shape: [] for one class per example (default), [T] for a sequence of targets. */
  readonly labelShape?: readonly number[];
}

const product = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function exampleCount(d: Dataset): number {
  return d.y.length / product(d.labelShape ?? []);
}

export function checkDataset(d: Dataset, what: string): void {
  const per = product(d.featureShape);
  const labels = product(d.labelShape ?? []);
  const n = d.y.length / labels;
  if (d.y.length === 0) throw new DataError(`${what}: no examples`);
  if (!Number.isInteger(n))
    throw new DataError(`${what}: ${d.y.length} labels is not a whole number of label shapes [${(d.labelShape ?? []).join(', ')}]`);
  if (d.x.length !== n * per) throw new DataError(`${what}: ${d.x.length} feature values for ${n} examples of shape [${d.featureShape.join(', ')}]`);
  for (const label of d.y) if (!(label >= 0 && label < d.classes)) throw new DataError(`${what}: label ${label} outside 0..${d.classes - 1}`);
}

/** Rows `indices` of `d`, in that order. */
export function subset(d: Dataset, indices: ArrayLike<number>): Dataset {
  const per = product(d.featureShape);
  const labels = product(d.labelShape ?? []);
  const x = new Float32Array(indices.length * per);
  const y = new Int32Array(indices.length * labels);
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i]!;
    x.set(d.x.subarray(r * per, (r + 1) * per), i * per);
    y.set(d.y.subarray(r * labels, (r + 1) * labels), i * labels);
  }
  return { ...d, x, y };
}

/** A fixed seeded split: a shuffled `trainCount` examples for training, the rest held out. */
export function splitDataset(d: Dataset, trainCount: number, seed: number): { train: Dataset; heldOut: Dataset } {
  const n = exampleCount(d);
  if (!(trainCount > 0 && trainCount < n)) throw new DataError(`split: train count ${trainCount} must be between 1 and ${n - 1}`);
  const perm = new Rng(seed).permutation(n);
  return { train: subset(d, perm.subarray(0, trainCount)), heldOut: subset(d, perm.subarray(trainCount)) };
}

export function featureTensor(d: Dataset): tf.Tensor {
  return tf.tensor(d.x, [exampleCount(d), ...d.featureShape], 'float32');
}

/** One-hot targets [n, ...labelShape, classes]. */
export function oneHotLabels(d: Dataset): tf.Tensor {
  return tf.tidy(() => tf.reshape(tf.oneHot(tf.tensor1d(d.y, 'int32'), d.classes), [exampleCount(d), ...(d.labelShape ?? []), d.classes]));
}
