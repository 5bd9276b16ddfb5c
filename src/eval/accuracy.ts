import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../errors';
import { Model } from '../nn/model';
import { Dataset, featureTensor } from '../data/dataset';

/** Fraction of score vectors (last axis of `scores`, in row-major order) whose argmax equals the label. */
export function accuracyOf(scores: tf.Tensor, labels: Int32Array): number {
  const predicted = tf.tidy(() => tf.reshape(tf.argMax(scores, -1), [-1])).dataSync();
  if (predicted.length !== labels.length) throw new ShapeError(`accuracy: ${predicted.length} predictions for ${labels.length} labels`);
  let hits = 0;
  for (let i = 0; i < labels.length; i++) if (predicted[i] === labels[i]) hits++;
  return hits / labels.length;
}

/** Eval-mode accuracy of the model as currently configured (member selection included). */
export function accuracy(model: Model, data: Dataset): number {
  const x = featureTensor(data);
  const logits = model.predict(x);
  const acc = accuracyOf(logits, data.y);
  x.dispose();
  logits.dispose();
  return acc;
}
