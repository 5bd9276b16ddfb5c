import * as tf from '@tensorflow/tfjs-core';
import { ForwardContext } from './layer';
import { plainWeights, Weight, WeightSource } from './weight';
import { WeightedLayer } from './weightedLayer';
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
export class Embedding extends WeightedLayer {
  readonly kind = 'embedding';
  readonly table: Weight;

  constructor(
    name: string,
    readonly vocab: number,
    readonly dim: number,
    opts: { rng: Rng; source?: WeightSource } | { table: Weight },
  ) {
    super(name);
    if ('table' in opts) {
      this.table = opts.table;
      return;
    }
    const source = opts.source ?? plainWeights;
    this.table = source({
      layer: name,
      role: 'embedding',
      tensor: 'table',
      shape: [vocab, dim],
      decay: true,
      init: () => normal([vocab, dim], 1, opts.rng),
    });
  }

  outputShape(input: readonly number[]): number[] {
    expectRank(this.name, input, [1]);
    return [input[0]!, this.dim];
  }

  forward(x: tf.Tensor, _ctx: ForwardContext): tf.Tensor {
    return denseForward(tf.oneHot(tf.cast(x, 'int32'), this.vocab), this.table.value(), null);
  }

  weights(): readonly Weight[] {
    return [this.table];
  }

  withWeights(map: (w: Weight) => Weight): Embedding {
    return new Embedding(this.name, this.vocab, this.dim, { table: map(this.table) });
  }
}
