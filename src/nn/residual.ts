import * as tf from '@tensorflow/tfjs-core';
import { ForwardContext, Layer, NamedVariable, Param } from './layer';
import { ShapeError } from '../errors';

/** Residual block: y = main(x) + shortcut(x), the shortcut being identity when absent. */
export class Residual implements Layer {
  readonly kind = 'residual';
  constructor(
    readonly name: string,
    readonly main: Layer,
    readonly shortcut: Layer | null = null,
  ) {}

  outputShape(input: readonly number[]): number[] {
    const a = this.main.outputShape(input);
    const b = this.shortcut ? this.shortcut.outputShape(input) : [...input];
    if (a.join() !== b.join()) {
      throw new ShapeError(
        `layer '${this.name}': main branch gives [${a.join(', ')}] but shortcut gives [${b.join(', ')}]; add a projection shortcut`,
      );
    }
    return a;
  }

  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    const skip = this.shortcut ? this.shortcut.forward(x, ctx) : x;
    return tf.add(this.main.forward(x, ctx), skip);
  }

  params(): Param[] {
    return this.children().flatMap((l) => l.params());
  }

  state(): NamedVariable[] {
    return this.children().flatMap((l) => l.state());
  }

  children(): readonly Layer[] {
    return this.shortcut ? [this.main, this.shortcut] : [this.main];
  }

  clone(): Residual {
    return new Residual(this.name, this.main.clone(), this.shortcut?.clone() ?? null);
  }

  map(fn: (layer: Layer) => Layer): Residual {
    return new Residual(this.name, fn(this.main), this.shortcut ? fn(this.shortcut) : null);
  }

  dispose(): void {
    for (const l of this.children()) l.dispose();
  }
}
