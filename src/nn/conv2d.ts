import * as tf from '@tensorflow/tfjs-core';
import { ForwardContext, ReluMaxPoolFollowed } from './layer';
import { convReluMaxPool, maxPool, MaxPoolAttrs } from '../backend/operations';
import { constant, kaimingNormal } from './init';
import { Rng } from './rng';
import { Conv2dOptions, ConvGeometry, convGeometry, convOutputShape, fanIn, filterShape, Padding } from './convGeometry';
import { plainWeights, Weight, WeightSource } from './weight';
import { WeightedLayer } from './weightedLayer';

export type { Conv2dOptions, ConvGeometry, Padding } from './convGeometry';

interface Conv2dWeights {
  readonly filter: Weight;
  readonly bias: Weight | null;
}

/** 2-D convolution on NHWC input with filter [kh, kw, in, out] (tfjs layout). */
export class Conv2d extends WeightedLayer implements ReluMaxPoolFollowed {
  readonly kind = 'conv2d';
  readonly geometry: ConvGeometry;
  readonly filter: Weight;
  readonly bias: Weight | null;

  constructor(
    name: string,
    inChannels: number,
    outChannels: number,
    opts: Conv2dOptions & ({ rng: Rng; source?: WeightSource } | { weights: Conv2dWeights }),
  ) {
    super(name);
    const g = convGeometry(inChannels, outChannels, opts);
    this.geometry = g;
    if ('weights' in opts) {
      ({ filter: this.filter, bias: this.bias } = opts.weights);
      return;
    }
    const source = opts.source ?? plainWeights;
    const { rng } = opts;
    this.filter = source({
      layer: name,
      role: 'conv',
      tensor: 'weight',
      shape: filterShape(g),
      decay: true,
      init: () => kaimingNormal(filterShape(g), fanIn(g), rng),
    });
    this.bias =
      opts.bias === false
        ? null
        : source({ layer: name, role: 'conv', tensor: 'bias', shape: [outChannels], decay: false, init: () => constant([outChannels], 0) });
  }

  outputShape(input: readonly number[]): number[] {
    return convOutputShape(this.name, this.geometry, input);
  }

  forward(x: tf.Tensor, _ctx: ForwardContext): tf.Tensor {
    const g = this.geometry;
    const filter = g.groups === 1 ? this.filter.value() : groupedFilter(this.filter.value(), g.groups);
    return conv2dForward(x, filter, this.bias?.value() ?? null, g.stride, g.padding);
  }

  /**
   * maxPool(ReLU(this(x))): one fused kernel where the backend has it and the geometry fits (a
   * first layer in training: src/backend/operations/convReluMaxPool.ts), else the three in turn.
   */
  forwardThenReluMaxPool(x: tf.Tensor, ctx: ForwardContext, pool: MaxPoolAttrs): tf.Tensor {
    const g = this.geometry;
    const fused =
      g.groups === 1
        ? convReluMaxPool(x, this.filter.value(), this.bias?.value() ?? null, { strides: g.stride, pad: g.padding }, pool, ctx.training)
        : null;
    return fused ?? maxPool(this.forward(x, ctx), pool, ctx.training, true);
  }

  weights(): readonly Weight[] {
    return this.bias ? [this.filter, this.bias] : [this.filter];
  }

  withWeights(map: (w: Weight) => Weight): Conv2d {
    const g = this.geometry;
    return new Conv2d(this.name, g.inChannels, g.outChannels, { ...g, weights: { filter: map(this.filter), bias: this.bias && map(this.bias) } });
  }
}

/**
 * A grouped filter [kh, kw, in / groups, out] as the block-diagonal full filter [kh, kw, in, out]
 * (input group j feeds output group j only): tiled along the input axis, then masked. tfjs has no
 * grouped convolution, and tfjs-backend-wasm no depthwise gradients, so grouped and depthwise
 * layers train as an ordinary convolution (groups times the arithmetic; they export as ONNX's
 * grouped Conv). The mask's product carries the gradient back to the grouped filter.
 */
function groupedFilter(filter: tf.Tensor, groups: number): tf.Tensor {
  return tf.tidy(() => {
    const [, , inGroup, out] = filter.shape as [number, number, number, number];
    const outGroup = out / groups;
    const mask = tf.tensor2d(
      Float32Array.from({ length: inGroup * groups * out }, (_, i) =>
        Math.floor(Math.floor(i / out) / inGroup) === Math.floor((i % out) / outGroup) ? 1 : 0,
      ),
      [inGroup * groups, out],
    );
    return tf.mul(tf.tile(filter, [1, 1, groups, 1]), tf.reshape(mask, [1, 1, inGroup * groups, out]));
  });
}

/**
 * The convolution every conv layer computes. Unfused on purpose: tfjs's fused conv gradient always
 * computes every input's gradient, including the data gradient of a first layer nobody asked for
 * (a whole extra convolution per step, plus identity copies); the plain op's gradient computes only
 * what the tape needs.
 */
export function conv2dForward(x: tf.Tensor, filter: tf.Tensor, bias: tf.Tensor | null, stride: number, padding: Padding): tf.Tensor4D {
  const y = tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, stride, padding);
  return bias ? tf.add(y, bias) : y;
}
