import * as tf from '@tensorflow/tfjs-core';
import { softmaxCrossEntropy as lossOperation } from '../backend/operations';

/** Mean softmax cross-entropy of logits [n, c] against one-hot targets [n, c] (the backend picks fused or tfjs ops). */
export function softmaxCrossEntropy(logits: tf.Tensor, oneHot: tf.Tensor): tf.Scalar {
  return lossOperation(logits, oneHot);
}
