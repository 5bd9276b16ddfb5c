/**
 * Pad2d: pads an [H, W, C] image with a constant (0, or -Infinity before a max pool) by explicit
 * top, left, bottom and right amounts: what PyTorch's symmetric convolution and pooling padding
 * need, which tfjs's 'same' (asymmetric, extra at the end) cannot express.
 */
import * as tf from '@tensorflow/tfjs-core';
import { StatelessLayer } from './layer';
import { expectRank } from './shape';
import { ShapeError } from '../errors';

export class Pad2d extends StatelessLayer {
  readonly kind = 'pad2d';
  constructor(
    name: string,
    /** [top, left, bottom, right]. */
    readonly pads: readonly [number, number, number, number],
    readonly value = 0,
  ) {
    super(name);
    if (pads.some((p) => !Number.isInteger(p) || p < 0))
      throw new ShapeError(`layer '${name}': pads must be non-negative integers, got [${pads.join(', ')}]`);
  }

  outputShape(input: readonly number[]): number[] {
    expectRank(this.name, input, [3]);
    const [t, l, b, r] = this.pads;
    return [input[0]! + t + b, input[1]! + l + r, input[2]!];
  }

  forward(x: tf.Tensor): tf.Tensor {
    const [t, l, b, r] = this.pads;
    return tf.pad(
      x as tf.Tensor4D,
      [
        [0, 0],
        [t, b],
        [l, r],
        [0, 0],
      ],
      this.value,
    );
  }
}
