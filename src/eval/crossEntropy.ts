import * as tf from '@tensorflow/tfjs-core';
import { Model } from '../nn/model';
import { chunksOf, Examples, labelRows, oneHotLabels } from '../data/dataset';
import { softmaxCrossEntropy } from '../nn/loss';

/** Mean eval-mode cross-entropy in nats over every target (every time step for sequence data). */
export function crossEntropy(model: Model, data: Examples): number {
  let sum = 0;
  for (const { x, indices } of chunksOf(data)) {
    const y = labelRows(data, indices);
    sum += tf.tidy(() => softmaxCrossEntropy(model.predict(x), oneHotLabels({ ...data, y })).dataSync()[0]! * y.length);
  }
  return sum / data.y.length;
}

/** Bits per character, the language-modelling metric of the paper's enwik8 results. */
export function bitsPerCharacter(model: Model, data: Examples): number {
  return crossEntropy(model, data) / Math.LN2;
}
