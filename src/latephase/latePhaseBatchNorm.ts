/**
 * Late-phase BatchNorm: each member owns gamma, beta and its running statistics (as in the
 * authors' code). Selection 'average' computes the mean of the members' eval-mode outputs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ForwardContext, Layer, Param } from '../nn/layer';
import { BatchNorm, batchNormEval, batchNormForward, BatchNormConfig, BN_EPSILON, BN_MOMENTUM, checkBatchNormInput } from '../nn/batchNorm';
import { constant } from '../nn/init';
import { Rng } from '../nn/rng';
import { ConfigError } from '../errors';
import { FoldOptions, LatePhaseLayer, MemberSelection } from './latePhaseLayer';
import { MemberSet } from './memberSet';

type BnTensor = 'gamma' | 'beta' | 'runningMean' | 'runningVar';

export class LatePhaseBatchNorm implements LatePhaseLayer {
  readonly kind = 'latephase-batchnorm';
  readonly latePhase = true;
  readonly latePhaseKind = 'batchnorm';
  readonly config: BatchNormConfig;
  readonly members: MemberSet<BnTensor>;

  constructor(
    readonly name: string,
    readonly channels: number,
    opts: Partial<BatchNormConfig> = {},
  ) {
    this.config = { epsilon: opts.epsilon ?? BN_EPSILON, momentum: opts.momentum ?? BN_MOMENTUM };
    this.members = new MemberSet(name, {
      gamma: { init: constant([channels], 1), role: 'param' },
      beta: { init: constant([channels], 0), role: 'param' },
      runningMean: { init: constant([channels], 0), role: 'state' },
      runningVar: { init: constant([channels], 1), role: 'state' },
    });
  }

  outputShape(input: readonly number[]): number[] {
    return checkBatchNormInput(this.name, this.channels, input);
  }

  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    if (this.members.selected !== 'average') return batchNormForward(x, this.members.active(), this.config, ctx);
    if (ctx.training) throw new ConfigError(`late-phase layer '${this.name}': select a member before training (selection is 'average')`);
    return tf.tidy(() => {
      const outs = [];
      for (let k = 0; k < this.members.count; k++) {
        const m = this.members.member(k);
        outs.push(batchNormEval(x, m.gamma, m.beta, m.runningMean, m.runningVar, this.config.epsilon));
      }
      return tf.div(tf.addN(outs), outs.length);
    });
  }

  memberCount(): number {
    return this.members.count;
  }
  replicate(k: number, sigma0: number, rng: Rng): void {
    this.members.replicate(k, sigma0, rng);
  }
  select(member: MemberSelection): void {
    this.members.select(member);
  }
  sharedParams(): Param[] {
    return [];
  }
  memberParams(k: number): Param[] {
    return this.members.params(k);
  }
  params(): Param[] {
    return this.members.allParams();
  }
  children(): readonly Layer[] {
    return [];
  }

  fold(options: FoldOptions): BatchNorm {
    const mode = options.batchNorm ?? 'exact';
    const t = mode === 'exact' ? this.exactFold() : this.parameterMean();
    const vars = {
      gamma: tf.variable(t.gamma, true),
      beta: tf.variable(t.beta, true),
      runningMean: tf.variable(t.mean, false),
      runningVar: tf.variable(t.variance, false),
    };
    for (const x of Object.values(t)) x.dispose();
    return new BatchNorm(this.name, this.channels, { ...this.config, tensors: vars });
  }

  /** The paper's rule: average gamma, beta and the running statistics separately. */
  private parameterMean(): Record<'gamma' | 'beta' | 'mean' | 'variance', tf.Tensor> {
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
  private exactFold(): Record<'gamma' | 'beta' | 'mean' | 'variance', tf.Tensor> {
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

  clone(): LatePhaseBatchNorm {
    throw new ConfigError(`late-phase layer '${this.name}' cannot be cloned; fold it first`);
  }

  dispose(): void {
    this.members.dispose();
  }
}
