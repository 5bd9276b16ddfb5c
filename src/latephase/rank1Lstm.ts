/**
 * Rank-1 late-phase LSTM: the input matrix W [D, 4H] and the recurrent matrix U [H, 4H] are shared;
 * member k uses W o (sIn_k rIn_k^T) and U o (sRec_k rRec_k^T). Factors start at 1 (the plain
 * LSTM) and exist from the start of training. The LSTM is nonlinear in its weights, so no fold
 * reproduces the mean of member outputs; the folds are the documented weight rules ('mean': the
 * paper's parameter mean, default; 'product': the mean of member weights).
 */
import * as tf from '@tensorflow/tfjs-core';
import { cloneParam, ForwardContext, makeParam, Param } from '../nn/layer';
import { LSTM, lstmForward, lstmOutputShape } from '../nn/lstm';
import { constant, uniform } from '../nn/init';
import { Rng } from '../nn/rng';
import { FoldOptions } from './latePhaseLayer';
import { MemberSet } from './memberSet';
import { MemberLayer } from './memberLayer';
import { foldRank1, rank1Mask } from './rank1';

type Factor = 'sIn' | 'rIn' | 'sRec' | 'rRec';

export class Rank1LSTM extends MemberLayer<Factor> {
  readonly kind = 'rank1-lstm';
  readonly latePhaseKind = 'rank1';
  readonly input: Param;
  readonly recurrent: Param;
  readonly bias: Param;

  constructor(
    name: string,
    readonly inputSize: number,
    readonly hidden: number,
    opts: { rng: Rng },
  ) {
    const ones = (n: number): { init: tf.Tensor; role: 'param'; decay: false } => ({ init: constant([n], 1), role: 'param', decay: false });
    super(name, new MemberSet(name, { sIn: ones(inputSize), rIn: ones(4 * hidden), sRec: ones(hidden), rRec: ones(4 * hidden) }));
    const bound = 1 / Math.sqrt(hidden);
    this.input = makeParam(`${name}.input`, uniform([inputSize, 4 * hidden], bound, opts.rng));
    this.recurrent = makeParam(`${name}.recurrent`, uniform([hidden, 4 * hidden], bound, opts.rng));
    this.bias = makeParam(`${name}.bias`, uniform([4 * hidden], bound, opts.rng), false);
  }

  override sharedParams(): Param[] {
    return [this.input, this.recurrent, this.bias];
  }

  outputShape(input: readonly number[]): number[] {
    return lstmOutputShape(this.name, this.inputSize, this.hidden, input);
  }

  protected forwardMember(x: tf.Tensor, m: Record<Factor, tf.Variable>, _ctx: ForwardContext): tf.Tensor {
    const input = tf.mul(this.input.variable, rank1Mask(m.sIn, m.rIn));
    const recurrent = tf.mul(this.recurrent.variable, rank1Mask(m.sRec, m.rRec));
    return lstmForward(x, { input, recurrent, bias: this.bias.variable }, this.hidden);
  }

  fold(options: FoldOptions): LSTM {
    const mode = options.rank1 ?? 'mean';
    return new LSTM(this.name, this.inputSize, this.hidden, {
      input: makeParam(`${this.name}.input`, foldRank1(this.input.variable, this.members, mode, 'sIn', 'rIn')),
      recurrent: makeParam(`${this.name}.recurrent`, foldRank1(this.recurrent.variable, this.members, mode, 'sRec', 'rRec')),
      bias: cloneParam(this.bias),
    });
  }

  override dispose(): void {
    super.dispose();
    for (const p of this.sharedParams()) p.variable.dispose();
  }
}
