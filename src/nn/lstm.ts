/**
 * A single-layer LSTM over a sequence, returning every step's hidden state: [T, D] -> [T, H].
 * Gates are stacked along the 4H axis in ONNX's order (input, output, forget, cell) so the export
 * needs no reordering; no peepholes; zero initial state:
 *   z_t = x_t W + h_{t-1} U + b;  i, o, f = sigmoid;  g = tanh
 *   c_t = f * c_{t-1} + i * g;     h_t = o * tanh(c_t)
 * Initialisation is PyTorch's: every tensor U(-1/sqrt(H), 1/sqrt(H)).
 */
import * as tf from '@tensorflow/tfjs-core';
import { cloneParam, ForwardContext, Layer, makeParam, NamedVariable, Param } from './layer';
import { uniform } from './init';
import { Rng } from './rng';
import { expectLastDim, expectRank } from './shape';
import { denseForward } from './dense';

export interface LstmWeights {
  /** [D, 4H] */
  readonly input: tf.Tensor;
  /** [H, 4H] */
  readonly recurrent: tf.Tensor;
  /** [4H] */
  readonly bias: tf.Tensor;
}

export function lstmForward(x: tf.Tensor, w: LstmWeights, hidden: number): tf.Tensor {
  const [n, steps] = x.shape as [number, number, number];
  const projected = denseForward(x, w.input, w.bias); // all steps' input terms in one matmul
  let h: tf.Tensor = tf.zeros([n, hidden]);
  let c: tf.Tensor = tf.zeros([n, hidden]);
  const outputs: tf.Tensor[] = [];
  for (let t = 0; t < steps; t++) {
    const z = tf.add(tf.reshape(tf.slice(projected, [0, t, 0], [n, 1, 4 * hidden]), [n, 4 * hidden]), tf.matMul(h, w.recurrent as tf.Tensor2D));
    const [i, o, f, g] = tf.split(z, 4, 1) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    c = tf.add(tf.mul(tf.sigmoid(f), c), tf.mul(tf.sigmoid(i), tf.tanh(g)));
    h = tf.mul(tf.sigmoid(o), tf.tanh(c));
    outputs.push(h);
  }
  return tf.stack(outputs, 1);
}

export function lstmOutputShape(name: string, inputSize: number, hidden: number, input: readonly number[]): number[] {
  expectRank(name, input, [2]);
  expectLastDim(name, input, inputSize);
  return [input[0]!, hidden];
}

export class LSTM implements Layer {
  readonly kind = 'lstm';
  readonly input: Param;
  readonly recurrent: Param;
  readonly bias: Param;

  constructor(
    readonly name: string,
    readonly inputSize: number,
    readonly hidden: number,
    opts: { rng: Rng } | { input: Param; recurrent: Param; bias: Param },
  ) {
    if ('input' in opts) {
      ({ input: this.input, recurrent: this.recurrent, bias: this.bias } = opts);
    } else {
      const bound = 1 / Math.sqrt(hidden);
      this.input = makeParam(`${name}.input`, uniform([inputSize, 4 * hidden], bound, opts.rng));
      this.recurrent = makeParam(`${name}.recurrent`, uniform([hidden, 4 * hidden], bound, opts.rng));
      this.bias = makeParam(`${name}.bias`, uniform([4 * hidden], bound, opts.rng), false);
    }
  }

  outputShape(input: readonly number[]): number[] {
    return lstmOutputShape(this.name, this.inputSize, this.hidden, input);
  }

  forward(x: tf.Tensor, _ctx: ForwardContext): tf.Tensor {
    return lstmForward(x, { input: this.input.variable, recurrent: this.recurrent.variable, bias: this.bias.variable }, this.hidden);
  }

  params(): Param[] {
    return [this.input, this.recurrent, this.bias];
  }
  state(): NamedVariable[] {
    return [];
  }
  children(): readonly Layer[] {
    return [];
  }
  clone(): LSTM {
    return new LSTM(this.name, this.inputSize, this.hidden, { input: cloneParam(this.input), recurrent: cloneParam(this.recurrent), bias: cloneParam(this.bias) });
  }
  dispose(): void {
    for (const p of this.params()) p.variable.dispose();
  }
}
