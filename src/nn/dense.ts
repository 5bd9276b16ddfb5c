import * as tf from '@tensorflow/tfjs-core';
import { ForwardContext } from './layer';
import { kaimingNormal, constant } from './init';
import { Rng } from './rng';
import { expectLastDim, expectRank } from './shape';
import { plainWeights, Weight, WeightSource } from './weight';
import { WeightedLayer } from './weightedLayer';

export interface DenseOptions {
  readonly rng: Rng;
  readonly bias?: boolean;
  /** Who supplies the weights (a late-phase factory); plain trainable tensors by default. */
  readonly source?: WeightSource;
  /** 'head' marks the classifier, which the late-phase head kind claims. */
  readonly role?: 'dense' | 'head';
}

export interface DenseWeights {
  readonly kernel: Weight;
  readonly bias: Weight | null;
}

/** Fully connected layer y = x W + b with W of shape [in, out], applied over the last axis (so also per time step). */
export class Dense extends WeightedLayer {
  readonly kind = 'dense';
  readonly kernel: Weight;
  readonly bias: Weight | null;

  constructor(
    name: string,
    readonly inUnits: number,
    readonly outUnits: number,
    opts: DenseOptions | DenseWeights,
  ) {
    super(name);
    if ('kernel' in opts) {
      ({ kernel: this.kernel, bias: this.bias } = opts);
      return;
    }
    const source = opts.source ?? plainWeights;
    const role = opts.role ?? 'dense';
    this.kernel = source({
      layer: name,
      role,
      tensor: 'weight',
      shape: [inUnits, outUnits],
      decay: true,
      init: () => kaimingNormal([inUnits, outUnits], inUnits, opts.rng),
    });
    this.bias =
      opts.bias === false
        ? null
        : source({ layer: name, role, tensor: 'bias', shape: [outUnits], decay: false, init: () => constant([outUnits], 0) });
  }

  outputShape(input: readonly number[]): number[] {
    expectRank(this.name, input, [1, 2, 3]);
    expectLastDim(this.name, input, this.inUnits);
    return [...input.slice(0, -1), this.outUnits];
  }

  forward(x: tf.Tensor, _ctx: ForwardContext): tf.Tensor {
    return denseForward(x, this.kernel.value(), this.bias?.value() ?? null);
  }

  weights(): readonly Weight[] {
    return this.bias ? [this.kernel, this.bias] : [this.kernel];
  }

  withWeights(map: (w: Weight) => Weight): Dense {
    return new Dense(this.name, this.inUnits, this.outUnits, { kernel: map(this.kernel), bias: this.bias && map(this.bias) });
  }
}

/** x W + b over the last axis of x (any rank >= 2 including the batch). Unfused for the reason conv2dForward gives. */
export function denseForward(x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor | null): tf.Tensor {
  const flat = x.rank === 2 ? (x as tf.Tensor2D) : (tf.reshape(x, [-1, x.shape[x.rank - 1]!]) as tf.Tensor2D);
  const product = tf.matMul(flat, kernel as tf.Tensor2D);
  const y = bias ? tf.add(product, bias) : product;
  return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), kernel.shape[1]!]);
}
