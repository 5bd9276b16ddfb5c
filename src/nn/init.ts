/** Seeded weight initialisers, computed on the host so that every backend starts from the same numbers. */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from './rng';

/** Kaiming-normal (He) for ReLU networks: N(0, 2 / fanIn), as in the paper's WRN code. */
export function kaimingNormal(shape: readonly number[], fanIn: number, rng: Rng): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(rng.normalArray(size, Math.sqrt(2 / fanIn)), [...shape], 'float32');
}

export function constant(shape: readonly number[], value: number): tf.Tensor {
  return tf.fill([...shape], value, 'float32');
}

/** U(-bound, bound), e.g. PyTorch's default for recurrent layers with bound 1/sqrt(hidden). */
export function uniform(shape: readonly number[], bound: number, rng: Rng): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: size }, () => (2 * rng.next() - 1) * bound),
    [...shape],
    'float32',
  );
}

export function normal(shape: readonly number[], std: number, rng: Rng): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(rng.normalArray(size, std), [...shape], 'float32');
}
