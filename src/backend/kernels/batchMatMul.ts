import * as tf from '@tensorflow/tfjs-core';
import { KernelOverride, required } from './kernelOverride';

/** Swap the last two axes (a matrix transpose, batched for rank 3). */
function transposeLastTwo(t: tf.Tensor): tf.Tensor {
  const perm = t.shape.map((_, i) => i);
  [perm[perm.length - 2], perm[perm.length - 1]] = [perm[perm.length - 1]!, perm[perm.length - 2]!];
  return tf.transpose(t, perm);
}

export const batchMatMulOverride: KernelOverride = {
  kernelName: tf.BatchMatMul,
  why: 'the stock kernel is much slower with transposeA/transposeB (every dense gradient uses them) than an explicit Transpose and a plain matmul (bench/README.md#batched-matmul)',
  make(stock) {
    const plain = required(stock, tf.BatchMatMul).kernelFunc;
    return (args) => {
      const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
      if (!transposeA && !transposeB) return plain(args);
      const a = transposeA ? transposeLastTwo(args.inputs['a'] as tf.Tensor) : (args.inputs['a'] as tf.Tensor);
      const b = transposeB ? transposeLastTwo(args.inputs['b'] as tf.Tensor) : (args.inputs['b'] as tf.Tensor);
      const out = plain({ ...args, inputs: { a, b }, attrs: { ...args.attrs, transposeA: false, transposeB: false } });
      if (transposeA) a.dispose();
      if (transposeB) b.dispose();
      return out;
    };
  },
  check: {
    inputs: [
      [2, 4, 3],
      [2, 5, 4],
    ],
    fn: (a, b) => tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, true, true),
  },
};
