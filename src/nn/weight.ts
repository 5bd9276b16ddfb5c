/**
 * Where a layer's weight tensor comes from. A plain layer (Dense, Conv2d, LSTM, Embedding) reads
 * each of its weights through this interface, so a late-phase kind can supply member weights
 * (rank-1 factors, template coefficients, full copies) without a layer class of its own: kinds and
 * layers grow as kinds + layers, not kinds x layers. `PlainWeight` is the ordinary trainable tensor.
 */
import * as tf from '@tensorflow/tfjs-core';
import { cloneParam, makeParam, NamedVariable, Param } from './layer';

export interface Weight {
  /** `layer.tensor`, e.g. `conv1.weight`. */
  readonly name: string;
  readonly shape: readonly number[];
  /** The tensor the forward pass computes with now (a late-phase weight: the selected member's). */
  value(): tf.Tensor;
  /** Every trainable tensor behind this weight (a late-phase weight: shared and all members). */
  params(): Param[];
  /** Non-trainable tensors behind it (none for the built-in kinds). */
  state(): NamedVariable[];
  /** An independent copy with its own variables. */
  clone(): Weight;
  dispose(): void;
}

/** An ordinary trainable tensor. */
export class PlainWeight implements Weight {
  constructor(readonly param: Param) {}

  get name(): string {
    return this.param.name;
  }
  get shape(): readonly number[] {
    return this.param.variable.shape;
  }
  get variable(): tf.Variable {
    return this.param.variable;
  }
  value(): tf.Tensor {
    return this.param.variable;
  }
  params(): Param[] {
    return [this.param];
  }
  state(): NamedVariable[] {
    return [];
  }
  clone(): PlainWeight {
    return new PlainWeight(cloneParam(this.param));
  }
  dispose(): void {
    this.param.variable.dispose();
  }
}

/** A plain weight made from an initial tensor (which is consumed). */
export function plainWeight(name: string, init: tf.Tensor, decay = true): PlainWeight {
  return new PlainWeight(makeParam(name, init, decay));
}

export function isPlainWeight(w: Weight): w is PlainWeight {
  return w instanceof PlainWeight;
}

/**
 * How a layer asks for one of its weights. Model builders route requests through a factory that
 * lets the configured late-phase kinds claim them; without one a request becomes a PlainWeight.
 */
export interface WeightRequest {
  /** The layer's name. */
  readonly layer: string;
  /** What the layer is: a late-phase kind decides from this which weights it claims. */
  readonly role: 'conv' | 'dense' | 'head' | 'lstm' | 'embedding';
  /** Which of the layer's tensors: 'weight', 'bias', 'input', 'recurrent', 'table'. */
  readonly tensor: string;
  readonly shape: readonly number[];
  /** Initial value (draws from the model's seeded stream; call once). */
  init(): tf.Tensor;
  /** Whether weight decay applies (biases are exempt). */
  readonly decay: boolean;
}

export type WeightSource = (request: WeightRequest) => Weight;

/** The default source: every request becomes a plain trainable tensor. */
export const plainWeights: WeightSource = (r) => plainWeight(`${r.layer}.${r.tensor}`, r.init(), r.decay);
