import * as tf from '@tensorflow/tfjs-core';
import { ShapeError, TrainingError } from '../errors';
import { Model } from '../nn/model';
import { chunksOf, Examples, labelRows } from '../data/dataset';

/** Fraction of score vectors (last axis of `scores`, in row-major order) whose argmax equals the label. */
export function accuracyOf(scores: tf.Tensor, labels: Int32Array, what = 'the model'): number {
  checkFinite(scores, what);
  const argmax = tf.tidy(() => tf.reshape(tf.argMax(scores, -1), [-1]));
  const predicted = argmax.dataSync();
  argmax.dispose();
  if (predicted.length !== labels.length) throw new ShapeError(`accuracy: ${predicted.length} predictions for ${labels.length} labels`);
  let hits = 0;
  for (let i = 0; i < labels.length; i++) if (predicted[i] === labels[i]) hits++;
  return hits / labels.length;
}

/** Non-finite outputs mean training diverged: a TrainingError, never a score (nor, later, an export verdict). */
export function checkFinite(scores: tf.Tensor, what: string): void {
  const finite = tf.tidy(() => tf.all(tf.isFinite(scores)).dataSync()[0]);
  if (!finite) throw new TrainingError(`${what}: outputs are not finite (NaN/Inf): training diverged; lower the learning rate or check the data`);
}

/** Eval-mode accuracy of the model as currently configured (member selection included). */
export function accuracy(model: Model, data: Examples): number {
  let hits = 0;
  for (const { x, indices } of chunksOf(data)) {
    const logits = model.predict(x);
    try {
      const labels = labelRows(data, indices);
      hits += accuracyOf(logits, labels) * labels.length;
    } finally {
      logits.dispose();
    }
  }
  return hits / data.y.length;
}
