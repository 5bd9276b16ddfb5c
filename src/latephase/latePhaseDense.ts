/**
 * A Dense layer whose whole weight and bias are late-phase: the paper's late-phase classifier
 * head. Averaging member outputs of a linear layer equals averaging its weights, so the fold is exact.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ForwardContext, Layer, makeParam, Param } from '../nn/layer';
import { Dense, denseForward } from '../nn/dense';
import { constant, kaimingNormal } from '../nn/init';
import { Rng } from '../nn/rng';
import { expectLastDim, expectRank } from '../nn/shape';
import { ConfigError } from '../errors';
import { FoldOptions, LatePhaseLayer, MemberSelection } from './latePhaseLayer';
import { MemberSet } from './memberSet';

export class LatePhaseDense implements LatePhaseLayer {
  readonly kind = 'latephase-dense';
  readonly latePhase = true;
  readonly latePhaseKind = 'head';
  readonly members: MemberSet<'weight' | 'bias'>;

  constructor(
    readonly name: string,
    readonly inUnits: number,
    readonly outUnits: number,
    opts: { rng: Rng },
  ) {
    this.members = new MemberSet(name, {
      weight: { init: kaimingNormal([inUnits, outUnits], inUnits, opts.rng), role: 'param' },
      bias: { init: constant([outUnits], 0), role: 'param', decay: false },
    });
  }

  outputShape(input: readonly number[]): number[] {
    expectRank(this.name, input, [1]);
    expectLastDim(this.name, input, this.inUnits);
    return [this.outUnits];
  }

  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    if (this.members.selected !== 'average') {
      const m = this.members.active();
      return denseForward(x as tf.Tensor2D, m.weight, m.bias);
    }
    if (ctx.training) throw new ConfigError(`late-phase layer '${this.name}': select a member before training (selection is 'average')`);
    return tf.tidy(() => {
      const outs = [];
      for (let k = 0; k < this.members.count; k++) {
        const m = this.members.member(k);
        outs.push(denseForward(x as tf.Tensor2D, m.weight, m.bias));
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

  fold(_options: FoldOptions): Dense {
    return new Dense(this.name, this.inUnits, this.outUnits, {
      kernel: makeParam(`${this.name}.weight`, this.members.mean('weight')),
      bias: makeParam(`${this.name}.bias`, this.members.mean('bias'), false),
    });
  }

  clone(): LatePhaseDense {
    throw new ConfigError(`late-phase layer '${this.name}' cannot be cloned; fold it first`);
  }

  dispose(): void {
    this.members.dispose();
  }
}
