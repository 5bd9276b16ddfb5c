import * as tf from '@tensorflow/tfjs-core';
import { StatelessLayer } from './layer';

export class ReLU extends StatelessLayer {
  readonly kind = 'relu';
  outputShape(input: readonly number[]): number[] {
    return [...input];
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.relu(x);
  }
}
