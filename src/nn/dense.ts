import * as tf from '@tensorflow/tfjs-core';
import { cloneParam, ForwardContext, Layer, makeParam, NamedVariable, Param } from './layer';
import { kaimingNormal, constant } from './init';
import { Rng } from './rng';
import { expectLastDim, expectRank } from './shape';

/** Fully connected layer y = x W + b with W of shape [in, out], applied over the last axis (so also per time step). */
export class Dense implements Layer {
  readonly kind = 'dense';
  readonly kernel: Param;
  readonly bias: Param | null;

  constructor(
    readonly name: string,
    readonly inUnits: number,
    readonly outUnits: number,
    opts: { rng: Rng; bias?: boolean } | { kernel: Param; bias: Param | null },
  ) {
    if ('kernel' in opts) {
      this.kernel = opts.kernel;
      this.bias = opts.bias;
    } else {
      this.kernel = makeParam(`${name}.weight`, kaimingNormal([inUnits, outUnits], inUnits, opts.rng));
      this.bias = opts.bias === false ? null : makeParam(`${name}.bias`, constant([outUnits], 0), false);
    }
  }

  outputShape(input: readonly number[]): number[] {
    return denseOutputShape(this.name, this.inUnits, this.outUnits, input);
  }

  forward(x: tf.Tensor, _ctx: ForwardContext): tf.Tensor {
    return denseForward(x, this.kernel.variable, this.bias?.variable ?? null);
  }

  params(): Param[] {
    return this.bias ? [this.kernel, this.bias] : [this.kernel];
  }

  state(): NamedVariable[] {
    return [];
  }

  children(): readonly Layer[] {
    return [];
  }

  clone(): Dense {
    return new Dense(this.name, this.inUnits, this.outUnits, { kernel: cloneParam(this.kernel), bias: this.bias ? cloneParam(this.bias) : null });
  }

  dispose(): void {
    for (const p of this.params()) p.variable.dispose();
  }
}

/** x W + b over the last axis of x (any rank >= 2 including the batch). Unfused for the reason conv2dForward gives. */
export function denseForward(x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor | null): tf.Tensor {
  const flat = x.rank === 2 ? (x as tf.Tensor2D) : tf.reshape(x, [-1, x.shape[x.rank - 1]!]) as tf.Tensor2D;
  const product = tf.matMul(flat, kernel as tf.Tensor2D);
  const y = bias ? tf.add(product, bias) : product;
  return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), kernel.shape[1]!]);
}

/** Shape rule shared by every dense-like layer: [..., in] -> [..., out]. */
export function denseOutputShape(name: string, inUnits: number, outUnits: number, input: readonly number[]): number[] {
  expectRank(name, input, [1, 2, 3]);
  expectLastDim(name, input, inUnits);
  return [...input.slice(0, -1), outUnits];
}
