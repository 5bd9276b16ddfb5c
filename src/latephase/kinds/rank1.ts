/**
 * Rank-1 multiplicative late-phase weights (kind `rank1`, the BatchEnsemble form): member k
 * computes with W_k = W o (s_k r_k^T) for a shared [..., in, out] weight W (dense kernel, conv
 * filter, LSTM input and recurrent matrices), with s over inputs (in-channels) and r over outputs.
 * The factors exist from the start of training, initialised to 1 so the layer starts as its plain
 * self, and are replicated at release. Fold option `rank1`: 'mean' (default) W o (mean s)(mean r)^T,
 * the paper's parameter mean; 'product' mean_k W o (s_k r_k^T), the mean of member weights (which
 * equals the mean of member outputs for layers linear in W).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Param } from '../../nn/layer';
import { constant } from '../../nn/init';
import { PlainWeight, plainWeight, WeightRequest } from '../../nn/weight';
import { FoldOptions } from '../latePhaseLayer';
import { MemberWeight } from '../memberWeight';
import {
  describeSelection,
  foldOption,
  FoldOptionSpec,
  LayerSelection,
  parseLayerSelection,
  registerLatePhaseKind,
  selectionMatcher,
} from '../kindTable';

const RANK1_FOLD: FoldOptionSpec = {
  key: 'rank1',
  values: ['mean', 'product'],
  help: "'mean': W o (mean s)(mean r)^T, the paper's parameter mean; 'product': mean_k W o (s_k r_k^T)",
};

/** s r^T, broadcastable against a [..., in, out] weight. */
export function rank1Mask(s: tf.Tensor, r: tf.Tensor): tf.Tensor {
  return tf.mul(tf.reshape(s, [-1, 1]), tf.reshape(r, [1, -1]));
}

export class Rank1Weight extends MemberWeight<'s' | 'r'> {
  readonly latePhaseKind = 'rank1';
  readonly base: PlainWeight;

  constructor(request: WeightRequest) {
    const [inSize, outSize] = request.shape.slice(-2) as [number, number];
    const name = `${request.layer}.${request.tensor}`;
    super(name, request.shape, name, {
      s: { init: constant([inSize], 1), role: 'param', decay: false },
      r: { init: constant([outSize], 1), role: 'param', decay: false },
    });
    this.base = plainWeight(name, request.init(), request.decay);
  }

  protected memberValue(m: Record<'s' | 'r', tf.Variable>): tf.Tensor {
    return tf.mul(this.base.variable, rank1Mask(m.s, m.r));
  }

  override sharedParams(): Param[] {
    return [this.base.param];
  }

  fold(options: FoldOptions): PlainWeight {
    const folded = tf.tidy(() => {
      if (foldOption(options, RANK1_FOLD) === 'mean') return tf.mul(this.base.variable, rank1Mask(this.members.mean('s'), this.members.mean('r')));
      const masks = Array.from({ length: this.members.count }, (_, k) => rank1Mask(this.members.member(k).s, this.members.member(k).r));
      return tf.mul(this.base.variable, tf.div(tf.addN(masks), masks.length));
    });
    return plainWeight(this.name, folded, this.base.param.decay);
  }

  override dispose(): void {
    super.dispose();
    this.base.dispose();
  }
}

/** Matrices a rank-1 factorisation applies to: never biases or embedding tables. */
const MATRICES = new Set(['weight', 'input', 'recurrent']);

registerLatePhaseKind<LayerSelection>({
  key: 'rank1',
  help: 'rank-1 factors (s, r) per member on the conv, dense and LSTM weight matrices: every layer, or those named by pattern (rank1=conv*)',
  group: 'weight reparametrisation',
  priority: 10,
  parse: (v) => parseLayerSelection('rank1', v),
  describe: (selection) => describeSelection('rank1', selection),
  fold: RANK1_FOLD,
  builder: (selection) => {
    const chosen = selectionMatcher('rank1', selection, 'conv, dense or LSTM layer');
    return {
      weight: (r) => (r.role !== 'embedding' && MATRICES.has(r.tensor) && chosen.matches(r.layer) ? new Rank1Weight(r) : undefined),
      finish: () => chosen.finish(),
    };
  },
});
