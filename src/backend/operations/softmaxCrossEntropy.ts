/**
 * Mean softmax cross-entropy of logits [n, c] against targets [n, c] (one-hot rows, or any
 * non-negative weights). Where the backend has the native kernel
 * (src/backend/nativeSoftmaxCrossEntropy.ts) the loss and its gradient with respect to the logits,
 * (softmax * sum t - t) / n, come from one call and the backward is one product with dy; elsewhere
 * tfjs's log-softmax, product, sum and mean, differentiated by the tape. The two agree to float
 * rounding (the native sums run in double). The targets get no gradient.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SOFTMAX_CROSS_ENTROPY_KERNEL } from '../nativeSoftmaxCrossEntropy';

export function softmaxCrossEntropy(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  if (!tf.getKernel(SOFTMAX_CROSS_ENTROPY_KERNEL, tf.getBackend())) return composite(logits, targets);
  // rows of any rank (a label per time step): the mean over every row, as the composite takes it
  const classes = logits.shape[logits.rank - 1]!;
  const rows = (t: tf.Tensor): tf.Tensor => (t.rank === 2 ? t : tf.reshape(t, [-1, classes]));
  const t = rows(targets.dtype === 'float32' ? targets : tf.cast(targets, 'float32'));
  const fused = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [z, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const [loss, dlogits] = tf.engine().runKernel(SOFTMAX_CROSS_ENTROPY_KERNEL, { logits: z, targets: t }) as [tf.Scalar, tf.Tensor];
    save([dlogits]);
    return { value: loss, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(saved[0]!, dy) };
  });
  return fused(rows(logits)) as tf.Scalar;
}

function composite(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  return tf.neg(tf.mean(tf.sum(tf.mul(targets, tf.logSoftmax(logits)), -1))) as tf.Scalar;
}
