import * as tf from '@tensorflow/tfjs-core';
import { StatelessLayer } from './layer';
import { ConfigError } from '../errors';

/** Fixed input normalisation (x - mean) / std, kept inside the model so exports take raw inputs. */
export class Standardize extends StatelessLayer {
  readonly kind = 'standardize';
  constructor(
    name: string,
    readonly mean: number,
    readonly std: number,
  ) {
    super(name);
    if (!(std > 0) || !Number.isFinite(mean)) throw new ConfigError(`layer '${name}': needs a finite mean and std > 0, got mean ${mean}, std ${std}`);
  }
  outputShape(input: readonly number[]): number[] {
    return [...input];
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.div(tf.sub(x, this.mean), this.std);
  }
}
