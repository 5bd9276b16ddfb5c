/**
 * A Dense layer whose whole weight and bias are late-phase: the paper's late-phase classifier
 * head. Averaging member outputs of a linear layer equals averaging its weights, so the fold is exact.
 */
import * as tf from '@tensorflow/tfjs-core';
import { makeParam } from '../nn/layer';
import { Dense, denseForward } from '../nn/dense';
import { constant, kaimingNormal } from '../nn/init';
import { Rng } from '../nn/rng';
import { expectLastDim, expectRank } from '../nn/shape';
import { FoldOptions } from './latePhaseLayer';
import { MemberSet } from './memberSet';
import { MemberLayer } from './memberLayer';

export class LatePhaseDense extends MemberLayer<'weight' | 'bias'> {
  readonly kind = 'latephase-dense';
  readonly latePhaseKind = 'head';

  constructor(
    name: string,
    readonly inUnits: number,
    readonly outUnits: number,
    opts: { rng: Rng },
  ) {
    super(
      name,
      new MemberSet(name, {
        weight: { init: kaimingNormal([inUnits, outUnits], inUnits, opts.rng), role: 'param' },
        bias: { init: constant([outUnits], 0), role: 'param', decay: false },
      }),
    );
  }

  outputShape(input: readonly number[]): number[] {
    expectRank(this.name, input, [1]);
    expectLastDim(this.name, input, this.inUnits);
    return [this.outUnits];
  }

  protected forwardMember(x: tf.Tensor, member: Record<'weight' | 'bias', tf.Variable>): tf.Tensor {
    return denseForward(x as tf.Tensor2D, member.weight, member.bias);
  }

  fold(_options: FoldOptions): Dense {
    return new Dense(this.name, this.inUnits, this.outUnits, {
      kernel: makeParam(`${this.name}.weight`, this.members.mean('weight')),
      bias: makeParam(`${this.name}.bias`, this.members.mean('bias'), false),
    });
  }
}
