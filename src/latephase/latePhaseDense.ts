/**
 * A Dense layer whose whole weight and bias are late-phase: the paper's late-phase classifier
 * head ('head'), or any dense layer made fully late-phase for ablations ('full'). Averaging member
 * outputs of a linear layer equals averaging its weights, so the fold is exact.
 */
import * as tf from '@tensorflow/tfjs-core';
import { makeParam } from '../nn/layer';
import { Dense, denseForward, denseOutputShape } from '../nn/dense';
import { constant, kaimingNormal } from '../nn/init';
import { Rng } from '../nn/rng';
import { FoldOptions } from './latePhaseLayer';
import { MemberSet } from './memberSet';
import { MemberLayer } from './memberLayer';

export class LatePhaseDense extends MemberLayer<'weight' | 'bias'> {
  readonly kind = 'latephase-dense';
  readonly latePhaseKind: 'head' | 'full';

  constructor(
    name: string,
    readonly inUnits: number,
    readonly outUnits: number,
    opts: { rng: Rng; role?: 'head' | 'full' },
  ) {
    super(
      name,
      new MemberSet(name, {
        weight: { init: kaimingNormal([inUnits, outUnits], inUnits, opts.rng), role: 'param' },
        bias: { init: constant([outUnits], 0), role: 'param', decay: false },
      }),
    );
    this.latePhaseKind = opts.role ?? 'head';
  }

  outputShape(input: readonly number[]): number[] {
    return denseOutputShape(this.name, this.inUnits, this.outUnits, input);
  }

  protected forwardMember(x: tf.Tensor, member: Record<'weight' | 'bias', tf.Variable>): tf.Tensor {
    return denseForward(x, member.weight, member.bias);
  }

  fold(_options: FoldOptions): Dense {
    return new Dense(this.name, this.inUnits, this.outUnits, {
      kernel: makeParam(`${this.name}.weight`, this.members.mean('weight')),
      bias: makeParam(`${this.name}.bias`, this.members.mean('bias'), false),
    });
  }
}
