/**
 * Base for late-phase kinds that supply a plain layer's weight: the LatePhaseUnit bookkeeping
 * (replicate, select, parameter groups, disposal) over one MemberSet, so that a kind only says how
 * one member's weight is computed and how the members fold into one plain weight.
 */
import * as tf from '@tensorflow/tfjs-core';
import { NamedVariable, Param } from '../nn/layer';
import { Rng } from '../nn/rng';
import { Weight } from '../nn/weight';
import { ConfigError } from '../errors';
import { FoldOptions, LatePhaseWeight, MemberSelection } from './latePhaseLayer';
import { MemberSet, MemberTensorSpec } from './memberSet';

export abstract class MemberWeight<N extends string> implements LatePhaseWeight {
  readonly latePhase = true;
  abstract readonly latePhaseKind: string;

  /** The K copies of the member tensors (one, the tied copy, before release). */
  readonly members: MemberSet<N>;

  /** `owner` prefixes the member tensors' names (`owner.tensor[k]`). */
  protected constructor(
    readonly name: string,
    readonly shape: readonly number[],
    owner: string,
    specs: Record<N, MemberTensorSpec>,
  ) {
    this.members = new MemberSet(owner, specs);
  }

  /** The weight computed from one member's tensors. */
  protected abstract memberValue(member: Record<N, tf.Variable>): tf.Tensor;
  abstract fold(options: FoldOptions): Weight;

  /** The selected member's weight; with 'average', the mean over members of their weights. */
  value(): tf.Tensor {
    if (this.members.selected !== 'average') return this.memberValue(this.members.active());
    return tf.tidy(() => {
      const all = Array.from({ length: this.members.count }, (_, k) => this.memberValue(this.members.member(k)));
      return tf.div(tf.addN(all), all.length);
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
  memberState(k: number): NamedVariable[] {
    return this.members.state(k);
  }
  params(): Param[] {
    return [...this.sharedParams(), ...this.members.allParams()];
  }
  state(): NamedVariable[] {
    return this.members.allState();
  }
  clone(): Weight {
    throw new ConfigError(`late-phase weight '${this.name}' cannot be cloned; fold it first (foldMembers)`);
  }
  dispose(): void {
    this.members.dispose();
  }
}
