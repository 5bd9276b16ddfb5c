import * as tf from '@tensorflow/tfjs-core';
import { Model } from '../nn/model';
import { Dataset, featureTensor } from '../data/dataset';

/** Fraction of rows of `scores` ([n, classes]) whose argmax equals the label. */
export function accuracyOf(scores: tf.Tensor, labels: Int32Array): number {
  const predicted = tf.tidy(() => tf.argMax(scores, -1)).dataSync();
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

