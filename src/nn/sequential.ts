import * as tf from '@tensorflow/tfjs-core';
import {
  ForwardContext,
  isReluFollowed,
  isReluGlobalAvgPoolFollowed,
  isReluMaxPoolFollowed,
  isReluPreceded,
  Layer,
  NamedVariable,
  Param,
} from './layer';
import { ReLU } from './activation';
import { GlobalAvgPool, MaxPool } from './pooling';

/** Layers applied one after another. */
export class Sequential implements Layer {
  readonly kind = 'sequential';
  constructor(
    readonly name: string,
    readonly layers: readonly Layer[],
  ) {}

  outputShape(input: readonly number[]): number[] {
    return this.layers.reduce<number[]>((shape, layer) => layer.outputShape(shape), [...input]);
  }

  /**
   * Applies the layers in order. A ReLU and a max pool right after a layer that takes both (a
   * convolution), or a ReLU and a global average pool (BatchNorm), are handed to that layer; else
   * a ReLU right after a layer that takes it (BatchNorm) is handed to that layer; else a ReLU right
   * before one that takes it (max pooling) is handed to the next.
   */
  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    let h = x;
    for (let i = 0; i < this.layers.length; i++) {
      const layer = this.layers[i]!;
      const next = this.layers[i + 1];
      const afterNext = this.layers[i + 2];
      if (next instanceof ReLU && afterNext instanceof MaxPool && isReluMaxPoolFollowed(layer)) {
        h = layer.forwardThenReluMaxPool(h, ctx, afterNext.attrs());
        i += 2; // that ReLU and pool ran with `layer`
      } else if (next instanceof ReLU && afterNext instanceof GlobalAvgPool && isReluGlobalAvgPoolFollowed(layer) && h.rank === 4) {
        h = layer.forwardThenReluGlobalAvgPool(h, ctx);
        i += 2; // that ReLU and pool ran with `layer`
      } else if (next instanceof ReLU && isReluFollowed(layer)) {
        h = layer.forwardThenRelu(h, ctx);
        i++; // that ReLU ran with `layer`
      } else if (layer instanceof ReLU && isReluPreceded(next)) {
        h = next.reluThenForward(h, ctx);
        i++; // the next layer ran with this ReLU
      } else h = layer.forward(h, ctx);
    }
    return h;
  }

  params(): Param[] {
    return this.layers.flatMap((l) => l.params());
  }

  state(): NamedVariable[] {
    return this.layers.flatMap((l) => l.state());
  }

  children(): readonly Layer[] {
    return this.layers;
  }

  clone(): Sequential {
    return new Sequential(
      this.name,
      this.layers.map((l) => l.clone()),
    );
  }

  /** The same structure with some layers replaced (used by folding). */
  map(fn: (layer: Layer) => Layer): Sequential {
    return new Sequential(this.name, this.layers.map(fn));
  }

  dispose(): void {
    for (const l of this.layers) l.dispose();
  }
}
