import * as tf from '@tensorflow/tfjs-core';
import { StatelessLayer } from './layer';
import { ShapeError } from '../errors';
import { expectRank } from './shape';

/** [H, W, C] -> [H*W*C] in tfjs (row-major HWC) order. */
export class Flatten extends StatelessLayer {
  readonly kind = 'flatten';
  outputShape(input: readonly number[]): number[] {
    return [input.reduce((a, b) => a * b, 1)];
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.reshape(x, [x.shape[0]!, -1]);
  }
}

/**
 * [H, W, C] -> [C*H*W] in C, H, W order: how an NCHW framework (PyTorch, ONNX) flattens an image,
 * so the Dense weights imported after it keep their order. (In ONNX it is a plain Flatten.)
 */
export class ChannelsFirstFlatten extends StatelessLayer {
  readonly kind = 'channelsfirstflatten';
  outputShape(input: readonly number[]): number[] {
    expectRank(this.name, input, [3]);
    return [input.reduce((a, b) => a * b, 1)];
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [x.shape[0]!, -1]);
  }
}

/** Flat pixels (row-major H, W, C, as image data sets ship them) -> an [H, W, C] image. */
export class ImageReshape extends StatelessLayer {
  readonly kind = 'imagereshape';
  constructor(
    name: string,
    readonly height: number,
    readonly width: number,
    readonly channels: number,
  ) {
    super(name);
  }
  outputShape(input: readonly number[]): number[] {
    expectRank(this.name, input, [1]);
    const want = this.height * this.width * this.channels;
    if (input[0] !== want)
      throw new ShapeError(
        `layer '${this.name}': expected ${want} values per example (${this.height}x${this.width}x${this.channels}), got ${input[0]}`,
      );
    return [this.height, this.width, this.channels];
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.reshape(x, [x.shape[0]!, this.height, this.width, this.channels]);
  }
}
