/**
 * A single-layer LSTM over a sequence, returning every step's hidden state: [T, D] -> [T, H].
 * Gates are stacked along the 4H axis in ONNX's order (input, output, forget, cell) so the export
 * needs no reordering; no peepholes; zero initial state:
 *   z_t = x_t W + h_{t-1} U + b;  i, o, f = sigmoid;  g = tanh
 *   c_t = f * c_{t-1} + i * g;     h_t = o * tanh(c_t)
 * Initialisation is PyTorch's: every tensor U(-1/sqrt(H), 1/sqrt(H)).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ForwardContext } from './layer';
import { plainWeights, Weight, WeightSource } from './weight';
import { WeightedLayer } from './weightedLayer';
import { uniform } from './init';
import { Rng } from './rng';
import { expectLastDim, expectRank } from './shape';
import { denseForward } from './dense';

interface LstmWeights {
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

interface LstmTensors {
  readonly input: Weight;
  readonly recurrent: Weight;
  readonly bias: Weight;
}

export class LSTM extends WeightedLayer {
  readonly kind = 'lstm';
  readonly input: Weight;
  readonly recurrent: Weight;
  readonly bias: Weight;

  constructor(
    name: string,
    readonly inputSize: number,
    readonly hidden: number,
    opts: { rng: Rng; source?: WeightSource } | LstmTensors,
  ) {
    super(name);
    if ('input' in opts) {
      ({ input: this.input, recurrent: this.recurrent, bias: this.bias } = opts);
      return;
    }
    const source = opts.source ?? plainWeights;
    const bound = 1 / Math.sqrt(hidden);
    const ask = (tensor: string, shape: number[], decay: boolean): Weight =>
      source({ layer: name, role: 'lstm', tensor, shape, decay, init: () => uniform(shape, bound, opts.rng) });
    this.input = ask('input', [inputSize, 4 * hidden], true);
    this.recurrent = ask('recurrent', [hidden, 4 * hidden], true);
    this.bias = ask('bias', [4 * hidden], false);
  }

  outputShape(input: readonly number[]): number[] {
    expectRank(this.name, input, [2]);
    expectLastDim(this.name, input, this.inputSize);
    return [input[0]!, this.hidden];
  }

  forward(x: tf.Tensor, _ctx: ForwardContext): tf.Tensor {
    return lstmForward(x, { input: this.input.value(), recurrent: this.recurrent.value(), bias: this.bias.value() }, this.hidden);
  }

  weights(): readonly Weight[] {
    return [this.input, this.recurrent, this.bias];
  }

  withWeights(map: (w: Weight) => Weight): LSTM {
    return new LSTM(this.name, this.inputSize, this.hidden, { input: map(this.input), recurrent: map(this.recurrent), bias: map(this.bias) });
  }
}
