import * as tf from '@tensorflow/tfjs-core';

/** Mean softmax cross-entropy of logits [n, c] against one-hot targets [n, c]. */
export function softmaxCrossEntropy(logits: tf.Tensor, oneHot: tf.Tensor): tf.Scalar {
  return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), -1))) as tf.Scalar;
}
