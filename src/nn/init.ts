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
