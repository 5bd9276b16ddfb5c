/**
 * An LSTM whose every weight is late-phase (the full-layer ablation). The LSTM is nonlinear in its
 * weights, so the fold is the documented weight rule (each tensor averaged over members), not the
 * mean of member outputs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ForwardContext, makeParam } from '../nn/layer';
import { LSTM, lstmForward, lstmOutputShape } from '../nn/lstm';
import { uniform } from '../nn/init';
import { Rng } from '../nn/rng';
import { FoldOptions } from './latePhaseLayer';
import { MemberSet } from './memberSet';
import { MemberLayer } from './memberLayer';

type LstmTensor = 'input' | 'recurrent' | 'bias';

export class LatePhaseLSTM extends MemberLayer<LstmTensor> {
  readonly kind = 'latephase-lstm';
  readonly latePhaseKind = 'full';

  constructor(
    name: string,
    readonly inputSize: number,
    readonly hidden: number,
    opts: { rng: Rng },
  ) {
    const bound = 1 / Math.sqrt(hidden);
    super(
      name,
      new MemberSet(name, {
        input: { init: uniform([inputSize, 4 * hidden], bound, opts.rng), role: 'param' },
        recurrent: { init: uniform([hidden, 4 * hidden], bound, opts.rng), role: 'param' },
        bias: { init: uniform([4 * hidden], bound, opts.rng), role: 'param', decay: false },
      }),
    );
  }

  outputShape(input: readonly number[]): number[] {
    return lstmOutputShape(this.name, this.inputSize, this.hidden, input);
  }

  protected forwardMember(x: tf.Tensor, m: Record<LstmTensor, tf.Variable>, _ctx: ForwardContext): tf.Tensor {
    return lstmForward(x, m, this.hidden);
  }

  fold(_options: FoldOptions): LSTM {
    return new LSTM(this.name, this.inputSize, this.hidden, {
      input: makeParam(`${this.name}.input`, this.members.mean('input')),
      recurrent: makeParam(`${this.name}.recurrent`, this.members.mean('recurrent')),
      bias: makeParam(`${this.name}.bias`, this.members.mean('bias'), false),
    });
  }
}
