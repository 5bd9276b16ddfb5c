/**
 * Labelled examples: in memory (`Dataset`: every feature value in one Float32Array) or streamed
 * (`StreamedDataset`: labels in memory, feature rows read from disk on demand). Training,
 * evaluation, the gradient workers and resume read rows by index (`featureRows`), so either works
 * and a data set never has to fit in memory.
 */
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

/**
 * Examples whose features stay where they are (a decoded-image cache, an .npy file): the labels
 * in memory (4 bytes a target), feature rows read by index. A plain object of closures, so that
 * `{ ...d, featureShape }` views keep working.
 */
export interface StreamedDataset {
  /** Class indices, `labelShape` of them per example. */
  readonly y: Int32Array;
  readonly featureShape: readonly number[];
  readonly classes: number;
  readonly labelShape?: readonly number[];
  /** The feature values of rows `indices`, in that order, row-major (a new array the caller owns). */
  readRows(indices: ArrayLike<number>): Float32Array;
}

/** In memory or streamed: what training and evaluation read. */
export type Examples = Dataset | StreamedDataset;

const product = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function isStreamed(d: Examples): d is StreamedDataset {
  return 'readRows' in d;
}

export function exampleCount(d: { readonly y: Int32Array; readonly labelShape?: readonly number[] }): number {
  return d.y.length / product(d.labelShape ?? []);
}

export function checkDataset(d: Examples, what: string): void {
  const per = product(d.featureShape);
  const labels = product(d.labelShape ?? []);
  const n = d.y.length / labels;
  if (d.y.length === 0) throw new DataError(`${what}: no examples`);
  if (!Number.isInteger(n))
    throw new DataError(`${what}: ${d.y.length} labels is not a whole number of label shapes [${(d.labelShape ?? []).join(', ')}]`);
  if (!isStreamed(d) && d.x.length !== n * per)
    throw new DataError(`${what}: ${d.x.length} feature values for ${n} examples of shape [${d.featureShape.join(', ')}]`);
  for (const label of d.y) if (!(label >= 0 && label < d.classes)) throw new DataError(`${what}: label ${label} outside 0..${d.classes - 1}`);
}

/** The feature values of rows `indices` of `d`, in that order (a new array). */
export function featureRows(d: Examples, indices: ArrayLike<number>): Float32Array {
  if (isStreamed(d)) return d.readRows(indices);
  const per = product(d.featureShape);
  const x = new Float32Array(indices.length * per);
  for (let i = 0; i < indices.length; i++) x.set(d.x.subarray(indices[i]! * per, (indices[i]! + 1) * per), i * per);
  return x;
}

/** The labels of rows `indices`, in that order. */
export function labelRows(d: Examples, indices: ArrayLike<number>): Int32Array {
  const labels = product(d.labelShape ?? []);
  const y = new Int32Array(indices.length * labels);
  for (let i = 0; i < indices.length; i++) y.set(d.y.subarray(indices[i]! * labels, (indices[i]! + 1) * labels), i * labels);
  return y;
}

/** Row indices start, start + 1, ..., end - 1. */
export function rowRange(start: number, end: number): Int32Array {
  return Int32Array.from({ length: Math.max(0, end - start) }, (_, i) => start + i);
}

/** Rows `indices` of `d`, in that order, in memory. */
export function subset(d: Examples, indices: ArrayLike<number>): Dataset {
  const { readRows: _, ...rest } = d as Partial<StreamedDataset> & Examples;
  return { ...(rest as Omit<Dataset, 'x'>), x: featureRows(d, indices), y: labelRows(d, indices) };
}

/** Rows `indices` of `d` as a streamed view (nothing read until asked): a seeded split of a set on disk. */
export function rowView(d: Examples, indices: Int32Array): Examples {
  if (!isStreamed(d)) return subset(d, indices);
  return { ...d, y: labelRows(d, indices), readRows: (rows) => d.readRows(Array.from(rows, (r) => indices[r]!)) };
}

/** Feature values one evaluation chunk holds (4 MB of float32): a streamed set is never read whole. */
const CHUNK_VALUES = 1 << 20;

/** Rows in chunks (features of one chunk in memory at a time, as a tensor disposed after the step): evaluation of any set. */
export function* chunksOf(d: Examples): Generator<{ readonly start: number; readonly x: tf.Tensor; readonly indices: Int32Array }> {
  const n = exampleCount(d);
  const rows = Math.max(1, Math.floor(CHUNK_VALUES / product(d.featureShape)));
  for (let start = 0; start < n; start += rows) {
    const indices = rowRange(start, Math.min(n, start + rows));
    const x = tf.tensor(featureRows(d, indices), [indices.length, ...d.featureShape], 'float32');
    try {
      yield { start, x, indices };
    } finally {
      x.dispose();
    }
  }
}

/** A fixed seeded split: a shuffled `trainCount` examples for training, the rest held out. */
export function splitDataset(d: Dataset, trainCount: number, seed: number): { train: Dataset; heldOut: Dataset } {
  const { train, heldOut } = splitIndices(exampleCount(d), trainCount, seed);
  return { train: subset(d, train), heldOut: subset(d, heldOut) };
}

/** The seeded split `splitDataset` makes, as row indices (for streamed sets: `rowView`). */
export function splitIndices(n: number, trainCount: number, seed: number): { train: Int32Array; heldOut: Int32Array } {
  if (!(trainCount > 0 && trainCount < n)) throw new DataError(`split: train count ${trainCount} must be between 1 and ${n - 1}`);
  const perm = new Rng(seed).permutation(n);
  return { train: perm.subarray(0, trainCount), heldOut: perm.subarray(trainCount) };
}

export function featureTensor(d: Dataset): tf.Tensor {
  return tf.tensor(d.x, [exampleCount(d), ...d.featureShape], 'float32');
}

/** One-hot targets [n, ...labelShape, classes]. */
export function oneHotLabels(d: Pick<Dataset, 'y' | 'labelShape' | 'classes'>): tf.Tensor {
  return tf.tidy(() => tf.reshape(tf.oneHot(tf.tensor1d(d.y, 'int32'), d.classes), [exampleCount(d), ...(d.labelShape ?? []), d.classes]));
}
