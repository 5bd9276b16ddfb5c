/**
 * Base for leaf layers whose tensors are Weights: params, state, clone and dispose are derived
 * from the weights once here, so a layer only says how it computes and how it is rebuilt around
 * other weights (`withWeights`, which folding and cloning both use).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ForwardContext, Layer, NamedVariable, Param, uniqueByVariable } from './layer';
import { Weight } from './weight';

export abstract class WeightedLayer implements Layer {
  abstract readonly kind: string;

  constructor(readonly name: string) {}

  abstract outputShape(input: readonly number[]): number[];
  abstract forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor;
  /** Every weight of the layer, in a fixed order. */
  abstract weights(): readonly Weight[];
  /** The same layer computing with `map(w)` for each of its weights. */
  abstract withWeights(map: (w: Weight) => Weight): WeightedLayer;

  params(): Param[] {
    return uniqueByVariable(this.weights().flatMap((w) => w.params()));
  }
  state(): NamedVariable[] {
    return uniqueByVariable(this.weights().flatMap((w) => w.state()));
  }
  children(): readonly Layer[] {
    return [];
  }
  clone(): WeightedLayer {
    return this.withWeights((w) => w.clone());
  }
  dispose(): void {
    for (const w of this.weights()) w.dispose();
  }
}

export function isWeighted(layer: Layer): layer is WeightedLayer {
  return layer instanceof WeightedLayer;
}
