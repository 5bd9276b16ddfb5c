/**
 * K copies of a named set of tensors: the replicate / select / average machinery shared by every
 * late-phase kind, so that no kind re-implements it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { cloneVariable, NamedVariable, Param } from '../nn/layer';
import { Rng } from '../nn/rng';
import { ConfigError } from '../errors';
import { MemberSelection } from './latePhaseLayer';

export interface MemberTensorSpec {
  readonly init: tf.Tensor;
  /** 'param' tensors are trained (and perturbed at release); 'state' tensors (running statistics) are copied only. */
  readonly role: 'param' | 'state';
  readonly decay?: boolean;
}

export class MemberSet<N extends string> {
  private members: Array<Record<N, tf.Variable>>;
  private selection: MemberSelection = 0;
  private readonly specs: Record<N, { role: 'param' | 'state'; decay: boolean }>;

  constructor(
    readonly owner: string,
    specs: Record<N, MemberTensorSpec>,
  ) {
    const first = {} as Record<N, tf.Variable>;
    const meta = {} as Record<N, { role: 'param' | 'state'; decay: boolean }>;
    for (const name of Object.keys(specs) as N[]) {
      const spec = specs[name];
      first[name] = tf.variable(spec.init, spec.role === 'param');
      spec.init.dispose();
      meta[name] = { role: spec.role, decay: spec.decay ?? true };
    }
    this.members = [first];
    this.specs = meta;
  }

  get count(): number {
    return this.members.length;
  }

  get names(): N[] {
    return Object.keys(this.specs) as N[];
  }

  get selected(): MemberSelection {
    return this.selection;
  }

  member(k: number): Record<N, tf.Variable> {
    const m = this.members[k];
    if (!m) throw new ConfigError(`late-phase layer '${this.owner}': member ${k} does not exist (it has ${this.count})`);
    return m;
  }

  /** The selected member's tensors; throws while the selection is 'average'. */
  active(): Record<N, tf.Variable> {
    if (this.selection === 'average')
      throw new ConfigError(`late-phase layer '${this.owner}': no single member is selected (selection is 'average')`);
    return this.member(this.selection);
  }

  select(sel: MemberSelection): void {
    if (sel !== 'average') this.member(sel); // validates
    this.selection = sel;
  }

  replicate(k: number, sigma0: number, rng: Rng): void {
    if (!Number.isInteger(k) || k < 1) throw new ConfigError(`late-phase layer '${this.owner}': K must be a positive integer, got ${k}`);
    if (!(sigma0 >= 0)) throw new ConfigError(`late-phase layer '${this.owner}': sigma0 must be >= 0, got ${sigma0}`);
    if (this.count !== 1) throw new ConfigError(`late-phase layer '${this.owner}': already released into ${this.count} members`);
    const tied = this.members[0]!;
    const copies: Array<Record<N, tf.Variable>> = [];
    for (let i = 0; i < k; i++) {
      const copy = {} as Record<N, tf.Variable>;
      for (const name of this.names) {
        const trainable = this.specs[name].role === 'param';
        copy[name] = trainable && sigma0 > 0 ? perturbed(tied[name], sigma0, rng) : cloneVariable(tied[name], trainable);
      }
      copies.push(copy);
    }
    for (const v of Object.values<tf.Variable>(tied)) v.dispose();
    this.members = copies;
    this.selection = 0;
  }

  params(k: number): Param[] {
    const m = this.member(k);
    return this.tensorNames('param').map((n) => ({ name: this.qualified(n, k), variable: m[n], decay: this.specs[n].decay }));
  }

  allParams(): Param[] {
    return this.members.flatMap((_, k) => this.params(k));
  }

  /** Member k's non-trainable tensors (running statistics). */
  state(k: number): NamedVariable[] {
    const m = this.member(k);
    return this.tensorNames('state').map((n) => ({ name: this.qualified(n, k), variable: m[n] }));
  }

  /** Every member's non-trainable tensors. */
  allState(): NamedVariable[] {
    return this.members.flatMap((_, k) => this.state(k));
  }

  private qualified(name: N, k: number): string {
    return memberTensorName(`${this.owner}.${name}`, k, this.count);
  }

  private tensorNames(role: 'param' | 'state'): N[] {
    return this.names.filter((n) => this.specs[n].role === role);
  }

  /**
   * Run `fn` as if member k were the only member (count 1, mean = member k): every kind's fold
   * applied to one member gives the plain weights of that member alone, with no per-kind code.
   */
  withOnly<T>(k: number, fn: () => T): T {
    const all = this.members;
    const selection = this.selection;
    this.members = [this.member(k)];
    this.selection = 0;
    try {
      return fn();
    } finally {
      this.members = all;
      this.selection = selection;
    }
  }

  /** Element-wise mean over members of one tensor. */
  mean(name: N): tf.Tensor {
    return tf.tidy(() => tf.mean(tf.stack(this.members.map((m) => m[name])), 0));
  }

  dispose(): void {
    for (const m of this.members) for (const v of Object.values<tf.Variable>(m)) v.dispose();
    this.members = [];
  }
}

/** p + N(0, (sigma0 * RMS(p))^2): the authors' relative (signal-to-noise) noise scale. */
function perturbed(p: tf.Variable, sigma0: number, rng: Rng): tf.Variable {
  const values = p.dataSync();
  let sq = 0;
  for (const v of values) sq += v * v;
  const std = sigma0 * Math.sqrt(sq / Math.max(values.length, 1));
  const noise = rng.normalArray(values.length, std);
  for (let i = 0; i < values.length; i++) noise[i]! += values[i]!;
  const init = tf.tensor(noise, p.shape, 'float32');
  const v = tf.variable(init, true);
  init.dispose();
  return v;
}

/** A member tensor's name: `owner.tensor` before release (one member), `owner.tensor[k]` after. */
export function memberTensorName(base: string, k: number, count: number): string {
  return count > 1 ? `${base}[${k}]` : base;
}
