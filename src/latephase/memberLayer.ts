/**
 * Base for late-phase kinds whose member tensors live in one MemberSet: it implements the
 * LatePhaseLayer bookkeeping (replicate, select, parameter groups, disposal) and the layerwise
 * average, so that a kind only says how one member computes and how the members fold.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ForwardContext, Layer, NamedVariable, Param } from '../nn/layer';
import { Rng } from '../nn/rng';
import { ConfigError } from '../errors';
import { FoldOptions, LatePhaseLayer, MemberSelection } from './latePhaseLayer';
import { MemberSet, MemberTensorSpec } from './memberSet';

export abstract class MemberLayer<N extends string> implements LatePhaseLayer {
  readonly latePhase = true;
  abstract readonly kind: string;
  abstract readonly latePhaseKind: string;

  /** The K copies of the member tensors (one, the tied copy, before release). */
  readonly members: MemberSet<N>;

  protected constructor(
    readonly name: string,
    specs: Record<N, MemberTensorSpec>,
  ) {
    this.members = new MemberSet(name, specs);
  }

  abstract outputShape(input: readonly number[]): number[];
  abstract fold(options: FoldOptions): Layer;
  /** The layer's output computed with one member's tensors. */
  protected abstract forwardMember(x: tf.Tensor, member: Record<N, tf.Variable>, ctx: ForwardContext): tf.Tensor;

  /** With a member selected, that member computes; with 'average', the mean of all members' eval outputs. */
  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    if (this.members.selected !== 'average') return this.forwardMember(x, this.members.active(), ctx);
    if (ctx.training) throw new ConfigError(`late-phase layer '${this.name}': select a member before training (selection is 'average')`);
    return tf.tidy(() => {
      const outs = Array.from({ length: this.members.count }, (_, k) => this.forwardMember(x, this.members.member(k), ctx));
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
  memberState(k: number): NamedVariable[] {
    return this.members.state(k);
  }
  params(): Param[] {
    return [...this.sharedParams(), ...this.members.allParams()];
  }
  state(): NamedVariable[] {
    return this.members.allState();
  }
  children(): readonly Layer[] {
    return [];
  }
  clone(): Layer {
    throw new ConfigError(`late-phase layer '${this.name}' cannot be cloned; fold it first (foldMembers)`);
  }
  dispose(): void {
    this.members.dispose();
  }
}
