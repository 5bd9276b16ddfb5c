import * as tf from '@tensorflow/tfjs-core';
import { ForwardContext, StatelessLayer } from './layer';
import { relu } from '../backend/operations';
import { ConfigError } from '../errors';

export class ReLU extends StatelessLayer {
  readonly kind = 'relu';
  outputShape(input: readonly number[]): number[] {
    return [...input];
  }
  forward(x: tf.Tensor, ctx?: ForwardContext): tf.Tensor {
    return relu(x, ctx?.training === true);
  }
}

/** Elementwise activations: the shape passes through. */
abstract class Elementwise extends StatelessLayer {
  outputShape(input: readonly number[]): number[] {
    return [...input];
  }
}

/** min(max(x, min), max): ReLU6 is Clip(0, 6). */
export class Clip extends Elementwise {
  readonly kind = 'clip';
  constructor(
    name: string,
    readonly min: number,
    readonly max: number,
  ) {
    super(name);
    if (!(min < max)) throw new ConfigError(`layer '${name}': clip needs min < max, got ${min}, ${max}`);
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.clipByValue(x, this.min, this.max);
  }
}

/** x for x >= 0, alpha x below. */
export class LeakyReLU extends Elementwise {
  readonly kind = 'leakyrelu';
  constructor(
    name: string,
    readonly alpha = 0.01,
  ) {
    super(name);
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.leakyRelu(x, this.alpha);
  }
}

export class Sigmoid extends Elementwise {
  readonly kind = 'sigmoid';
  forward(x: tf.Tensor): tf.Tensor {
    return tf.sigmoid(x);
  }
}

export class Tanh extends Elementwise {
  readonly kind = 'tanh';
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tanh(x);
  }
}

/** max(0, min(1, alpha x + beta)), ONNX's defaults alpha 0.2, beta 0.5 (PyTorch's Hardsigmoid: 1/6, 0.5). */
export class HardSigmoid extends Elementwise {
  readonly kind = 'hardsigmoid';
  constructor(
    name: string,
    readonly alpha = 0.2,
    readonly beta = 0.5,
  ) {
    super(name);
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.clipByValue(tf.add(tf.mul(x, this.alpha), this.beta), 0, 1);
  }
}

/** x * HardSigmoid(x) with alpha 1/6, beta 0.5 (MobileNetV3's). */
export class HardSwish extends Elementwise {
  readonly kind = 'hardswish';
  forward(x: tf.Tensor): tf.Tensor {
    return tf.mul(x, tf.clipByValue(tf.add(tf.div(x, 6), 0.5), 0, 1));
  }
}
