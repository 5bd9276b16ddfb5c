import * as tf from '@tensorflow/tfjs-core';
import { StatelessLayer } from './layer';
import { ConfigError } from '../errors';
import { expectLastDim } from './shape';

/**
 * Fixed input normalisation (x - mean) / std, kept inside the model so exports take raw inputs.
 * mean and std are scalars or one value per channel (the last axis, e.g. CIFAR's RGB statistics).
 */
export class Standardize extends StatelessLayer {
  readonly kind = 'standardize';
  readonly mean: readonly number[];
  readonly std: readonly number[];

  constructor(name: string, mean: number | readonly number[], std: number | readonly number[]) {
    super(name);
    this.mean = typeof mean === 'number' ? [mean] : [...mean];
    this.std = typeof std === 'number' ? [std] : [...std];
    const ok = this.mean.length === this.std.length && this.mean.every(Number.isFinite) && this.std.every((s) => s > 0 && Number.isFinite(s));
    if (!ok)
      throw new ConfigError(
        `layer '${name}': needs finite means and stds > 0 of equal length, got mean [${this.mean.join(', ')}], std [${this.std.join(', ')}]`,
      );
  }

  /** 1 for scalar statistics, else the channel count they apply to. */
  get channels(): number {
    return this.mean.length;
  }

  outputShape(input: readonly number[]): number[] {
    if (this.channels > 1) expectLastDim(this.name, input, this.channels);
    return [...input];
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.div(tf.sub(x, tf.tensor1d([...this.mean])), tf.tensor1d([...this.std])));
  }
}
