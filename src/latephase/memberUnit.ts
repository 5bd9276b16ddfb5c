/**
 * The LatePhaseUnit bookkeeping over one MemberSet (replicate, select, parameter groups, disposal),
 * shared by the two shapes a kind takes: MemberLayer (a layer of its own) and MemberWeight (a
 * weight a plain layer reads). A kind then only says how one member computes and how members fold.
 */
import * as tf from '@tensorflow/tfjs-core';
import { NamedVariable, Param } from '../nn/layer';
import { Rng } from '../nn/rng';
import { LatePhaseUnit, MemberSelection } from './latePhaseLayer';
import { MemberSet, MemberTensorSpec } from './memberSet';

export abstract class MemberUnit<N extends string> implements LatePhaseUnit {
  readonly latePhase = true;
  abstract readonly latePhaseKind: string;
  /** The K copies of the member tensors (one, the tied copy, before release). */
  readonly members: MemberSet<N>;

  /** `owner` prefixes the member tensors' names (`owner.tensor[k]`). */
  protected constructor(
    readonly name: string,
    owner: string,
    specs: Record<N, MemberTensorSpec>,
  ) {
    this.members = new MemberSet(owner, specs);
  }

  /**
   * The mean over members of `compute(member k)`: what selection 'average' computes. Summed one
   * member at a time, so memory stays that of one member's output whatever K is.
   */
  protected averageOver(compute: (member: Record<N, tf.Variable>) => tf.Tensor): tf.Tensor {
    let sum: tf.Tensor | null = null;
    for (let k = 0; k < this.members.count; k++) {
      const previous: tf.Tensor | null = sum;
      // clone: compute may return a member's variable itself, which must outlive the sum.
      sum = tf.tidy(() => (previous ? tf.add(previous, compute(this.members.member(k))) : tf.clone(compute(this.members.member(k)))));
      previous?.dispose();
    }
    const mean = tf.div(sum!, this.members.count);
    sum!.dispose();
    return mean;
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
  dispose(): void {
    this.members.dispose();
  }
}
