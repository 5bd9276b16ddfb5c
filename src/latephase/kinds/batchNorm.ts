/**
 * Late-phase BatchNorm (kind `batchNorm`): each member owns gamma, beta and its running statistics
 * (as in the authors' code). Selection 'average' computes the mean of the members' eval-mode
 * outputs. Fold option `batchNorm`: 'exact' (default) or 'mean'.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ForwardContext, ReluFollowed, ReluGlobalAvgPoolFollowed } from '../../nn/layer';
import { BatchNorm, batchNormForward, BatchNormConfig, BN_EPSILON, BN_MOMENTUM, checkBatchNormInput, globalAvgPoolOf } from '../../nn/batchNorm';
import { constant } from '../../nn/init';
import { FoldOptions } from '../latePhaseLayer';
import { MemberLayer } from '../memberLayer';
import {
  describeSelection,
  foldOption,
  FoldOptionSpec,
  LayerSelection,
  parseLayerSelection,
  registerLatePhaseKind,
  selectionMatcher,
} from '../kindTable';

const BATCHNORM_FOLD: FoldOptionSpec = {
  key: 'batchNorm',
  values: ['exact', 'mean'],
  help: "'exact': the mean of the members' eval-mode outputs (one affine map); 'mean': the paper's parameter mean",
};

type BnTensor = 'gamma' | 'beta' | 'runningMean' | 'runningVar';
type FoldedTensors = Record<'gamma' | 'beta' | 'mean' | 'variance', tf.Tensor>;

export class LatePhaseBatchNorm extends MemberLayer<BnTensor> implements ReluFollowed, ReluGlobalAvgPoolFollowed {
  readonly kind = 'latephase-batchnorm';
  readonly latePhaseKind = 'batchnorm';
  readonly config: BatchNormConfig;

  constructor(
    name: string,
    readonly channels: number,
    opts: Partial<BatchNormConfig> = {},
  ) {
    super(name, {
      gamma: { init: constant([channels], 1), role: 'param' },
      beta: { init: constant([channels], 0), role: 'param' },
      runningMean: { init: constant([channels], 0), role: 'state' },
      runningVar: { init: constant([channels], 1), role: 'state' },
    });
    this.config = { epsilon: opts.epsilon ?? BN_EPSILON, momentum: opts.momentum ?? BN_MOMENTUM };
  }

  outputShape(input: readonly number[]): number[] {
    return checkBatchNormInput(this.name, this.channels, input);
  }

  protected forwardMember(x: tf.Tensor, member: Record<BnTensor, tf.Variable>, ctx: ForwardContext): tf.Tensor {
    return batchNormForward(x, member, this.config, ctx);
  }

  /** A selected member's BatchNorm takes the ReLU along; the average of the members is taken before the ReLU. */
  forwardThenRelu(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    if (this.members.selected !== 'average') return batchNormForward(x, this.members.active(), this.config, ctx, true);
    return tf.tidy(() => tf.relu(this.forward(x, ctx)));
  }

  /** The same, then a global average pool. */
  forwardThenReluGlobalAvgPool(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    if (this.members.selected !== 'average') return batchNormForward(x, this.members.active(), this.config, ctx, true, true);
    return globalAvgPoolOf(this.forwardThenRelu(x, ctx), ctx);
  }

  fold(options: FoldOptions): BatchNorm {
    const t = foldOption(options, BATCHNORM_FOLD) === 'exact' ? this.exactFold() : this.parameterMean();
    const tensors = {
      gamma: tf.variable(t.gamma, true),
      beta: tf.variable(t.beta, true),
      runningMean: tf.variable(t.mean, false),
      runningVar: tf.variable(t.variance, false),
    };
    tf.dispose(Object.values(t));
    return new BatchNorm(this.name, this.channels, { ...this.config, tensors });
  }

  /** The paper's rule: average gamma, beta and the running statistics separately. */
  private parameterMean(): FoldedTensors {
    return {
      gamma: this.members.mean('gamma'),
      beta: this.members.mean('beta'),
      mean: this.members.mean('runningMean'),
      variance: this.members.mean('runningVar'),
    };
  }

  /**
   * mean_k BN_k(x) = a x + b with a = mean_k gamma_k / sqrt(v_k + eps) and
   * b = mean_k (beta_k - gamma_k mu_k / sqrt(v_k + eps)). Written back as a BatchNorm that keeps
   * the members' mean statistics (mu, v) and picks gamma, beta so that it computes exactly a x + b.
   */
  private exactFold(): FoldedTensors {
    const eps = this.config.epsilon;
    return tf.tidy(() => {
      const scales: tf.Tensor[] = [];
      const shifts: tf.Tensor[] = [];
      for (let k = 0; k < this.members.count; k++) {
        const m = this.members.member(k);
        const s = tf.mul(m.gamma, tf.rsqrt(tf.add(m.runningVar, eps)));
        scales.push(s);
        shifts.push(tf.sub(m.beta, tf.mul(m.runningMean, s)));
      }
      const a = tf.div(tf.addN(scales), scales.length);
      const b = tf.div(tf.addN(shifts), shifts.length);
      const mean = this.members.mean('runningMean');
      const variance = this.members.mean('runningVar');
      return { gamma: tf.mul(a, tf.sqrt(tf.add(variance, eps))), beta: tf.add(b, tf.mul(a, mean)), mean, variance };
    });
  }
}

registerLatePhaseKind<LayerSelection>({
  key: 'batchNorm',
  help: "the BatchNorm layers' gamma, beta and running statistics per member: every layer, or those named by pattern (batchnorm=layer4*)",
  priority: 10,
  parse: (v) => parseLayerSelection('batchNorm', v),
  describe: (selection) => describeSelection('batchnorm', selection),
  fold: BATCHNORM_FOLD,
  builder: (selection) => {
    const chosen = selectionMatcher('batchNorm', selection, 'BatchNorm layer');
    return {
      batchNorm: (name, channels, config) => (chosen.matches(name) ? new LatePhaseBatchNorm(name, channels, config) : undefined),
      finish: () => chosen.finish(),
    };
  },
});
