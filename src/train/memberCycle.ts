/**
 * Algorithm 1's late-phase bookkeeping: the member visited next, each member's own optimizer, and
 * the shared gradients summed over the current cycle (kept outside any tidy scope). All of it is
 * training state a checkpoint must hold for an exact resume (`state` / `restore`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { NamedVariable, Param } from '../nn/layer';
import { MemberGroups } from '../latephase/members';
import { DataError } from '../errors';
import { Sgd, SgdConfig } from './sgd';
import { LearningRate } from './paramGroups';
import { NamedTensor, tensorsUnder, withPrefix } from './trainingState';

const GRAD_PREFIX = 'cycle.grad/';
const memberPrefix = (k: number): string => `opt.member${k}/`;

export class MemberCycle {
  member = 0;
  sharedSteps = 0;
  private readonly memberOpts: Sgd[];
  private accum: tf.Tensor[] | null = null;

  constructor(
    /** The released model's groups (K = groups.count). */
    private readonly groups: MemberGroups,
    memberConfig: SgdConfig,
    private readonly sharedOpt: Sgd,
    /** gammaTheta as configured: '1/K' means the mean over the members that contributed. */
    private readonly gammaTheta: number | '1/K',
  ) {
    this.memberOpts = Array.from({ length: groups.count }, () => new Sgd(memberConfig));
  }

  /**
   * Selects the current member; the tensors its minibatch differentiates (shared ones first, then
   * its own) and the state its train-mode step may update.
   */
  params(): { shared: readonly Param[]; own: readonly Param[]; state: readonly NamedVariable[] } {
    this.groups.select(this.member);
    return { shared: this.groups.shared, own: this.groups.memberParams(this.member), state: this.groups.stepState(this.member) };
  }

  /** Parameters every member uses: what the shared optimizer steps once per cycle. */
  sharedParams(): readonly Param[] {
    return this.groups.shared;
  }

  /** Member `this.member` steps at once on its own gradient; the shared gradient joins the cycle's sum. Takes ownership of `grads`. */
  apply(own: readonly Param[], grads: tf.Tensor[], lr: LearningRate): void {
    const nShared = grads.length - own.length;
    const ownGrads = grads.slice(nShared);
    this.memberOpts[this.member]!.step(own, ownGrads, lr);
    tf.dispose(ownGrads);
    const sharedGrads = grads.slice(0, nShared);
    const previous = this.accum;
    if (!previous) {
      this.accum = sharedGrads;
      return;
    }
    this.accum = tf.tidy(() => sharedGrads.map((g, i) => tf.add(previous[i]!, g)));
    tf.dispose([...previous, ...sharedGrads]);
  }

  /** Moves to the next member; after member K-1 the shared weights take their one step. */
  advance(sharedLr: LearningRate): void {
    if (++this.member < this.groups.count) return;
    this.member = 0;
    this.stepShared(sharedLr);
  }

  /**
   * Shared step with gammaTheta times the summed gradients (a no-op when nothing is accumulated).
   * With '1/K', a cycle the run's end leaves partial is averaged over the members it had, not K.
   */
  stepShared(lr: LearningRate): void {
    if (!this.accum) return;
    const contributed = this.member === 0 ? this.groups.count : this.member;
    const gamma = this.gammaTheta === '1/K' ? 1 / contributed : this.gammaTheta;
    this.sharedOpt.step(this.groups.shared, this.accum, lr, gamma);
    tf.dispose(this.accum);
    this.accum = null;
    this.sharedSteps++;
  }

  /** The members' momentum buffers and the shared gradient summed so far in this cycle (tensors stay owned here). */
  state(): NamedTensor[] {
    const shared = this.groups.shared;
    const grads = this.accum
      ? withPrefix(
          GRAD_PREFIX,
          this.accum.map((tensor, i) => ({ name: shared[i]!.name, tensor })),
        )
      : [];
    const momentum = this.memberOpts.flatMap((opt, k) => withPrefix(memberPrefix(k), opt.momentum(this.groups.memberParams(k))));
    return [...momentum, ...grads];
  }

  /** Continue from `state()` as a checkpoint stored it (tensors copied). */
  restore(member: number, sharedSteps: number, tensors: readonly NamedTensor[]): void {
    this.member = member;
    this.sharedSteps = sharedSteps;
    const under = (prefix: string): NamedTensor[] => tensorsUnder(tensors, prefix);
    this.memberOpts.forEach((opt, k) => opt.restoreMomentum(this.groups.memberParams(k), under(memberPrefix(k))));
    const grads = new Map(under(GRAD_PREFIX).map((t) => [t.name, t.tensor]));
    if (!grads.size) return;
    const shared = this.groups.shared;
    if (grads.size !== shared.length)
      throw new DataError(`checkpoint: the cycle's shared gradient has ${grads.size} tensors, the model ${shared.length} shared parameters`);
    this.accum = shared.map((p) => {
      const g = grads.get(p.name);
      if (!g || g.shape.join() !== p.variable.shape.join())
        throw new DataError(`checkpoint: no matching cycle gradient for shared parameter '${p.name}'`);
      return tf.clone(g);
    });
  }

  dispose(): void {
    if (this.accum) tf.dispose(this.accum);
    for (const o of this.memberOpts) o.dispose();
  }
}
