import * as tf from '@tensorflow/tfjs-core';
import { ForwardContext, StatelessLayer } from './layer';
import { relu } from '../backend/operations';

export class ReLU extends StatelessLayer {
  readonly kind = 'relu';
  outputShape(input: readonly number[]): number[] {
    return [...input];
  }
  forward(x: tf.Tensor, ctx?: ForwardContext): tf.Tensor {
    return relu(x, ctx?.training === true);
  }
}
