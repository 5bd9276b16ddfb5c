import * as tf from '@tensorflow/tfjs-core';
import { Model } from '../nn/model';
import { Dataset, featureTensor, oneHotLabels } from '../data/dataset';
import { softmaxCrossEntropy } from '../nn/loss';

/** Mean eval-mode cross-entropy in nats over every target (every time step for sequence data). */
export function crossEntropy(model: Model, data: Dataset): number {
  return tf.tidy(() => {
    const logits = model.predict(featureTensor(data));
    return softmaxCrossEntropy(logits, oneHotLabels(data)).dataSync()[0]!;
  });
}

/** Bits per character, the language-modelling metric of the paper's enwik8 results. */
export function bitsPerCharacter(model: Model, data: Dataset): number {
  return crossEntropy(model, data) / Math.LN2;
}
