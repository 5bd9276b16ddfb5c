/**
 * The layer contract. A layer computes; it knows nothing about trainers, late-phase members or ONNX.
 * Shapes exclude the batch dimension; image tensors are NHWC (tfjs's layout).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { MaxPoolAttrs } from '../backend/operations';

export interface ForwardContext {
  /** Train mode: BatchNorm uses batch statistics and updates its running statistics. */
  readonly training: boolean;
  /**
   * Overrides BatchNorm's running-statistics momentum for this pass. 1 makes the running
   * statistics this batch's own (SWA's BatchNorm recompute builds an exact cumulative mean from them).
   */
  readonly runningMomentum?: number;
}

/**
 * A layer that computes itself followed by a ReLU in one call (BatchNorm), so that the backend can
 * fuse the two where it has the kernels (src/backend/operations.ts decides; the result is the same).
 */
export interface ReluFollowed {
  forwardThenRelu(x: tf.Tensor, ctx: ForwardContext): tf.Tensor;
}

export function isReluFollowed(layer: Layer): layer is Layer & ReluFollowed {
  return typeof (layer as Layer & Partial<ReluFollowed>).forwardThenRelu === 'function';
}

/**
 * A layer that computes itself, a ReLU and a global average pool in one call (BatchNorm), so that
 * the backend can fuse them where it has the kernels (the pool's gradient is never written out at
 * the input's size; the result is the same).
 */
export interface ReluGlobalAvgPoolFollowed {
  forwardThenReluGlobalAvgPool(x: tf.Tensor, ctx: ForwardContext): tf.Tensor;
}

export function isReluGlobalAvgPoolFollowed(layer: Layer): layer is Layer & ReluGlobalAvgPoolFollowed {
  return typeof (layer as Layer & Partial<ReluGlobalAvgPoolFollowed>).forwardThenReluGlobalAvgPool === 'function';
}

/**
 * A layer that computes itself on a ReLU's output in one call (max pooling: the ReLU then runs on
 * the pooled output, the same bits on a quarter of the cells, and its gradient rides the pool's).
 */
export interface ReluPreceded {
  reluThenForward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor;
}

export function isReluPreceded(layer: Layer | undefined): layer is Layer & ReluPreceded {
  return typeof (layer as (Layer & Partial<ReluPreceded>) | undefined)?.reluThenForward === 'function';
}

/**
 * A layer that computes itself, a ReLU and a max pool in one call (a convolution), so that the
 * backend can fuse the three where it has the kernels (a first layer: the result is the same).
 */
export interface ReluMaxPoolFollowed {
  forwardThenReluMaxPool(x: tf.Tensor, ctx: ForwardContext, pool: MaxPoolAttrs): tf.Tensor;
}

export function isReluMaxPoolFollowed(layer: Layer): layer is Layer & ReluMaxPoolFollowed {
  return typeof (layer as Layer & Partial<ReluMaxPoolFollowed>).forwardThenReluMaxPool === 'function';
}

export const TRAIN: ForwardContext = { training: true };
export const EVAL: ForwardContext = { training: false };

/** A named variable: a trainable parameter or non-trainable state (checkpoints store both). */
export interface NamedVariable {
  readonly name: string;
  readonly variable: tf.Variable;
}

/** A trainable tensor. `decay` says whether weight decay applies to it. */
export interface Param {
  readonly name: string;
  readonly variable: tf.Variable;
  readonly decay: boolean;
}

export interface Layer {
  /** Stable kind tag (`dense`, `conv2d`, ...), used in reports and error messages. */
  readonly kind: string;
  readonly name: string;
  /** Output shape for a given input shape (batch excluded); throws ShapeError naming this layer. */
  outputShape(input: readonly number[]): number[];
  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor;
  /** Every trainable tensor this layer owns (for late-phase layers: shared and all members). */
  params(): Param[];
  /** Non-trainable tensors (BatchNorm running statistics), named like params. */
  state(): NamedVariable[];
  /** Sub-layers of containers; empty for leaves. */
  children(): readonly Layer[];
  /** An independent deep copy (own variables). */
  clone(): Layer;
  dispose(): void;
}

/** First occurrence of each variable: layers may share tensors (a template bank used by several layers). */
export function uniqueByVariable<T extends NamedVariable>(items: readonly T[]): T[] {
  const seen = new Set<tf.Variable>();
  const out: T[] = [];
  for (const item of items) {
    if (seen.has(item.variable)) continue;
    seen.add(item.variable);
    out.push(item);
  }
  return out;
}

/** Depth-first walk over a layer tree, parents before children. */
export function* walkLayers(root: Layer): Generator<Layer> {
  yield root;
  for (const child of root.children()) yield* walkLayers(child);
}

/** A trainable variable made from an initial tensor (which is consumed). */
export function makeParam(name: string, init: tf.Tensor, decay = true): Param {
  // tfjs names variables globally; our names live on Param, so let tfjs pick unique ones.
  const variable = tf.variable(init, true);
  init.dispose();
  return { name, variable, decay };
}

/** Non-trainable state (BatchNorm running statistics). */
export function makeState(init: tf.Tensor): tf.Variable {
  const v = tf.variable(init, false);
  init.dispose();
  return v;
}

/** An independent copy of a trainable parameter (same name and decay), e.g. a shared bias carried into a folded layer. */
export function cloneParam(p: Param): Param {
  return { ...p, variable: cloneVariable(p.variable, true) };
}

export function cloneVariable(v: tf.Variable, trainable: boolean): tf.Variable {
  const copy = v.clone();
  const out = tf.variable(copy, trainable);
  copy.dispose();
  return out;
}

/** Base for layers without tensors: sharing the instance between models is safe. */
export abstract class StatelessLayer implements Layer {
  abstract readonly kind: string;
  constructor(readonly name: string) {}
  abstract outputShape(input: readonly number[]): number[];
  abstract forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor;
  params(): Param[] {
    return [];
  }
  state(): NamedVariable[] {
    return [];
  }
  children(): readonly Layer[] {
    return [];
  }
  clone(): Layer {
    return this;
  }
  dispose(): void {}
}
