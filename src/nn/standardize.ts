import * as tf from '@tensorflow/tfjs-core';
import { StatelessLayer } from './layer';

/** Fixed input normalisation (x - mean) / std, kept inside the model so exports take raw inputs. */
export class Standardize extends StatelessLayer {
  readonly kind = 'standardize';
  constructor(
    name: string,
    readonly mean: number,
    readonly std: number,
  ) {
    super(name);
    if (!(std > 0)) throw new RangeError(`layer '${name}': std must be > 0, got ${std}`);
  }
  outputShape(input: readonly number[]): number[] {
    return [...input];
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.div(tf.sub(x, this.mean), this.std);
  }
}
