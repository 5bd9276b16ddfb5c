import * as tf from '@tensorflow/tfjs-core';
import { cloneParam, ForwardContext, Layer, makeParam, NamedVariable, Param } from './layer';
import { normal } from './init';
import { Rng } from './rng';
import { expectRank } from './shape';
import { denseForward } from './dense';

/**
 * Token embedding: ids [T] (float-coded integers in [0, vocab)) -> vectors [T, dim]. Computed as
 * one-hot(ids) x table, whose gradient is a matmul on every backend (the wasm backend has no
 * scatter kernel for a gather's gradient); exported as ONNX Gather, which gives the same rows.
 * Ids outside [0, vocab) embed to zeros here and are an error in onnxruntime: keep them in range.
 */
export class Embedding implements Layer {
  readonly kind = 'embedding';
  readonly table: Param;

  constructor(
    readonly name: string,
    readonly vocab: number,
    readonly dim: number,
    opts: { rng: Rng } | { table: Param },
  ) {
    this.table = 'table' in opts ? opts.table : makeParam(`${name}.table`, normal([vocab, dim], 1, opts.rng));
  }

  outputShape(input: readonly number[]): number[] {
    expectRank(this.name, input, [1]);
    return [input[0]!, this.dim];
  }

  forward(x: tf.Tensor, _ctx: ForwardContext): tf.Tensor {
    return denseForward(tf.oneHot(tf.cast(x, 'int32'), this.vocab), this.table.variable, null);
  }

  params(): Param[] {
    return [this.table];
  }
  state(): NamedVariable[] {
    return [];
  }
  children(): readonly Layer[] {
    return [];
  }
  clone(): Embedding {
    return new Embedding(this.name, this.vocab, this.dim, { table: cloneParam(this.table) });
  }
  dispose(): void {
    this.table.variable.dispose();
  }
}
