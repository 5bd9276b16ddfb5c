import * as tf from '@tensorflow/tfjs-core';
import { cloneVariable, ForwardContext, Layer, makeParam, NamedVariable, Param } from './layer';
import { kaimingNormal, constant } from './init';
import { Rng } from './rng';
import { expectLastDim, expectRank } from './shape';

/** Fully connected layer y = x W + b with W of shape [in, out]. */
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
    return denseForward(x as tf.Tensor2D, this.kernel.variable, this.bias?.variable ?? null);
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
    const copy = (p: Param): Param => ({ ...p, variable: cloneVariable(p.variable, true) });
    return new Dense(this.name, this.inUnits, this.outUnits, { kernel: copy(this.kernel), bias: this.bias ? copy(this.bias) : null });
  }

  dispose(): void {
    for (const p of this.params()) p.variable.dispose();
  }
}

export function denseForward(x: tf.Tensor2D, kernel: tf.Tensor, bias: tf.Tensor | null): tf.Tensor2D {
  return tf.fused.matMul({ a: x, b: kernel as tf.Tensor2D, bias: bias ?? undefined }) as tf.Tensor2D;
}

/** Shape rule shared by every dense-like layer: [in] -> [out]. */
export function denseOutputShape(name: string, inUnits: number, outUnits: number, input: readonly number[]): number[] {
  expectRank(name, input, [1]);
  expectLastDim(name, input, inUnits);
  return [outUnits];
}
