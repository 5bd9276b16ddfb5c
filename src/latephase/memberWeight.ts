/**
 * Base for late-phase kinds that supply a plain layer's weight (head, full, rank-1, templates): a
 * kind says how one member's weight is computed and how the members fold into one plain weight.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Weight } from '../nn/weight';
import { ConfigError } from '../errors';
import { FoldOptions, LatePhaseWeight } from './latePhaseLayer';
import { MemberTensorSpec } from './memberSet';
import { MemberUnit } from './memberUnit';

export abstract class MemberWeight<N extends string> extends MemberUnit<N> implements LatePhaseWeight {
  /** `owner` prefixes the member tensors' names (`owner.tensor[k]`). */
  protected constructor(
    name: string,
    readonly shape: readonly number[],
    owner: string,
    specs: Record<N, MemberTensorSpec>,
  ) {
    super(name, owner, specs);
  }

  /** The weight computed from one member's tensors. */
  protected abstract memberValue(member: Record<N, tf.Variable>): tf.Tensor;
  abstract fold(options: FoldOptions): Weight;

  /** Member k alone: the kind's fold over a member set holding only k. */
  foldMember(k: number, options: FoldOptions): Weight {
    return this.members.withOnly(k, () => this.fold(options));
  }

  /** The selected member's weight; with 'average', the mean over members of their weights. */
  value(): tf.Tensor {
    if (this.members.selected !== 'average') return this.memberValue(this.members.active());
    return this.averageOver((m) => this.memberValue(m));
  }

  clone(): Weight {
    throw new ConfigError(`late-phase weight '${this.name}' cannot be cloned; fold it first (foldMembers)`);
  }
}
