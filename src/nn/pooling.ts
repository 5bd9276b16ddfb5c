import * as tf from '@tensorflow/tfjs-core';
import { ForwardContext, StatelessLayer } from './layer';
import { maxPool, MaxPoolAttrs } from '../backend/operations';
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

export class MaxPool extends WindowPool {
  readonly kind = 'maxpool';
  forward(x: tf.Tensor, ctx?: ForwardContext): tf.Tensor {
    const attrs: MaxPoolAttrs = { filterSize: this.poolSize, strides: this.stride, pad: this.padding };
    return maxPool(x, attrs, ctx?.training === true);
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
  forward(x: tf.Tensor): tf.Tensor {
    return globalAvgPool(x);
  }
}

/**
 * Mean over [H, W] with its gradient written out as dy / (H * W) times a device-filled tensor of
 * ones: tfjs's own Mean gradient builds that tensor of ones as a host array on every step.
 */
const globalAvgPool = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const x = args[0] as tf.Tensor;
  const [n, h, w, c] = x.shape as [number, number, number, number];
  return {
    value: tf.mean(x, [1, 2]),
    gradFunc: (dy: tf.Tensor) => tf.mul(tf.reshape(tf.div(dy, h * w), [n, 1, 1, c]), tf.fill([n, h, w, c], 1)),
  };
});
