/**
 * Merges: the operations that join several tensors at a graph node (src/nn/graph.ts), named as in
 * Keras (Add, Multiply, Concatenate). Inputs are per-example shapes of one rank; Add and Multiply
 * broadcast size-1 dimensions (a squeeze-excitation gate [1, 1, C] times an image [H, W, C]),
 * Concatenate joins along one axis (default the last: channels). Merges hold no tensors.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../errors';

export abstract class Merge {
  abstract readonly kind: string;
  constructor(readonly name: string) {}
  /** The output shape for these per-example input shapes (batch excluded); ShapeError naming the merge. */
  abstract outputShape(inputs: readonly (readonly number[])[]): number[];
  abstract forward(xs: readonly tf.Tensor[]): tf.Tensor;

  protected sameRank(inputs: readonly (readonly number[])[]): void {
    if (inputs.length < 2) throw new ShapeError(`merge '${this.name}' (${this.kind}) needs at least 2 inputs, got ${inputs.length}`);
    const rank = inputs[0]!.length;
    if (inputs.some((s) => s.length !== rank))
      throw new ShapeError(`merge '${this.name}' (${this.kind}): inputs of different ranks ${inputs.map((s) => `[${s.join(', ')}]`).join(', ')}`);
  }
}

/** Size-1 dimensions broadcast; other sizes must agree. */
function broadcastShape(merge: Merge, inputs: readonly (readonly number[])[]): number[] {
  return inputs[0]!.map((_, d) => {
    const sizes = new Set(inputs.map((s) => s[d]!).filter((n) => n !== 1));
    if (sizes.size > 1)
      throw new ShapeError(
        `merge '${merge.name}' (${merge.kind}): inputs ${inputs.map((s) => `[${s.join(', ')}]`).join(', ')} do not broadcast (dimension ${d})`,
      );
    return sizes.size ? [...sizes][0]! : 1;
  });
}

/** An elementwise merge: inputs of one rank, size-1 dimensions broadcast, combined pairwise in input order. */
abstract class ElementwiseMerge extends Merge {
  protected abstract combine(a: tf.Tensor, b: tf.Tensor): tf.Tensor;
  outputShape(inputs: readonly (readonly number[])[]): number[] {
    this.sameRank(inputs);
    return broadcastShape(this, inputs);
  }
  forward(xs: readonly tf.Tensor[]): tf.Tensor {
    return xs.slice(1).reduce((acc, x) => this.combine(acc, x), xs[0]!);
  }
}

/** The elementwise sum of its inputs (a residual shortcut). */
export class Add extends ElementwiseMerge {
  readonly kind = 'add';
  protected combine(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
    return tf.add(a, b);
  }
}

/** The elementwise product of its inputs (a squeeze-excitation gate). */
export class Multiply extends ElementwiseMerge {
  readonly kind = 'multiply';
  protected combine(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
    return tf.mul(a, b);
  }
}

/** Its inputs joined along `axis` of the per-example shape (negative: from the end; default -1, the channels). */
export class Concatenate extends Merge {
  readonly kind = 'concatenate';
  constructor(
    name: string,
    readonly axis = -1,
  ) {
    super(name);
  }

  /** The axis as a non-negative index into a per-example shape of `rank`. */
  perExampleAxis(rank: number): number {
    const a = this.axis < 0 ? rank + this.axis : this.axis;
    if (!(a >= 0 && a < rank)) throw new ShapeError(`merge '${this.name}' (concatenate): axis ${this.axis} is outside a per-example rank of ${rank}`);
    return a;
  }

  outputShape(inputs: readonly (readonly number[])[]): number[] {
    this.sameRank(inputs);
    const a = this.perExampleAxis(inputs[0]!.length);
    const other = (s: readonly number[]): string => s.filter((_, d) => d !== a).join();
    if (inputs.some((s) => other(s) !== other(inputs[0]!)))
      throw new ShapeError(
        `merge '${this.name}' (concatenate): inputs ${inputs.map((s) => `[${s.join(', ')}]`).join(', ')} differ outside axis ${this.axis}`,
      );
    return inputs[0]!.map((n, d) => (d === a ? inputs.reduce((sum, s) => sum + s[d]!, 0) : n));
  }

  forward(xs: readonly tf.Tensor[]): tf.Tensor {
    return tf.concat([...xs], this.perExampleAxis(xs[0]!.rank - 1) + 1);
  }
}
