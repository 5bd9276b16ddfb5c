import * as tf from '@tensorflow/tfjs-core';
import { ForwardContext, ReluPreceded, StatelessLayer } from './layer';
import { globalAvgPool, maxPool, MaxPoolAttrs } from '../backend/operations';
import { Padding } from './conv2d';
import { expectRank, samePads, windowOutput } from './shape';

/** Shared by max and average pooling: NHWC windows with tfjs padding rules. */
abstract class WindowPool extends StatelessLayer {
  readonly stride: number;
  constructor(
    name: string,
    readonly poolSize: number,
    stride?: number,
    readonly padding: Padding = 'valid',
  ) {
    super(name);
    this.stride = stride ?? poolSize;
  }
  outputShape(input: readonly number[]): number[] {
    expectRank(this.name, input, [3]);
    const [h, w, c] = input as [number, number, number];
    return [
      windowOutput(this.name, h, this.poolSize, this.stride, this.padding),
      windowOutput(this.name, w, this.poolSize, this.stride, this.padding),
      c,
    ];
  }
}

export class MaxPool extends WindowPool implements ReluPreceded {
  readonly kind = 'maxpool';
  forward(x: tf.Tensor, ctx?: ForwardContext): tf.Tensor {
    return maxPool(x, this.attrs(), ctx?.training === true);
  }
  /** The pool of ReLU(x), computed as the ReLU of the pool (equal bits, a quarter of the cells). */
  reluThenForward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    return maxPool(x, this.attrs(), ctx.training, true);
  }
  /** The pool as the backend's operations take it. */
  attrs(): MaxPoolAttrs {
    return { filterSize: this.poolSize, strides: this.stride, pad: this.padding };
  }
}

/**
 * Average pooling; with 'same' padding the padded cells are excluded from the mean (tfjs semantics).
 * tfjs 4.22's AvgPoolGrad is wrong for 'same' padding on every backend (it disagrees with finite
 * differences), so 'same' is computed as a 'valid' pool of the zero-padded input divided by the
 * share of real cells in each window, whose gradients are correct.
 */
export class AvgPool extends WindowPool {
  readonly kind = 'avgpool';
  forward(x: tf.Tensor): tf.Tensor {
    const x4 = x as tf.Tensor4D;
    if (this.padding === 'valid') return tf.avgPool(x4, this.poolSize, this.stride, 'valid');
    const [, h, w] = x4.shape;
    const [top, left, bottom, right] = samePads(h, w, this.poolSize, this.stride);
    const pads: Array<[number, number]> = [
      [0, 0],
      [top, bottom],
      [left, right],
      [0, 0],
    ];
    const sums = tf.avgPool(tf.pad(x4, pads), this.poolSize, this.stride, 'valid');
    const share = tf.avgPool(tf.pad(tf.ones([1, h, w, 1]), pads) as tf.Tensor4D, this.poolSize, this.stride, 'valid');
    return tf.div(sums, share);
  }
}

/** Mean over the spatial axes: [H, W, C] -> [C]. */
export class GlobalAvgPool extends StatelessLayer {
  readonly kind = 'globalavgpool';
  outputShape(input: readonly number[]): number[] {
    expectRank(this.name, input, [3]);
    return [input[2]!];
  }
  forward(x: tf.Tensor, ctx?: ForwardContext): tf.Tensor {
    return globalAvgPool(x, ctx?.training === true);
  }
}
