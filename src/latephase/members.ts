/**
 * Model-level late-phase operations: release, member selection and parameter groups. The trainer
 * uses these and never looks inside a layer; they see every kind through LatePhaseUnit, whether
 * the kind is a layer (BatchNorm) or a weight a plain layer reads (head, full, rank-1, templates).
 */
import { Model } from '../nn/model';
import { Layer, NamedVariable, Param, uniqueByVariable, walkLayers } from '../nn/layer';
import { Rng } from '../nn/rng';
import { isWeighted } from '../nn/weightedLayer';
import { ConfigError } from '../errors';
import { isLatePhase, LatePhaseUnit, MemberSelection } from './latePhaseLayer';

/** Every late-phase unit of a model (or layer tree), in model order. */
export function latePhaseUnits(model: Model | Layer): LatePhaseUnit[] {
  const out: LatePhaseUnit[] = [];
  for (const layer of model instanceof Model ? model.layers() : walkLayers(model)) {
    if (isLatePhase(layer)) out.push(layer);
    else if (isWeighted(layer)) for (const w of layer.weights()) if (isLatePhase(w)) out.push(w);
  }
  return out;
}

/** K for the model: 1 before release; all late-phase units always agree. */
export function memberCount(model: Model): number {
  const counts = new Set(latePhaseUnits(model).map((l) => l.memberCount()));
  if (counts.size > 1) throw new ConfigError(`model '${model.name}': late-phase layers disagree on K (${[...counts].join(', ')})`);
  return counts.size ? [...counts][0]! : 1;
}

/** Replicate every late-phase unit K times (with sigma0 noise); units draw from one seeded stream in model order. */
export function releaseMembers(model: Model, k: number, sigma0: number, seed: number): void {
  const units = latePhaseUnits(model);
  if (!units.length) throw new ConfigError(`model '${model.name}' has no late-phase layers to release`);
  const rng = new Rng(seed);
  for (const unit of units) unit.replicate(k, sigma0, rng);
}

export function selectMember(model: Model, member: MemberSelection): void {
  for (const unit of latePhaseUnits(model)) unit.select(member);
}

export function memberParams(model: Model, k: number): Param[] {
  return uniqueByVariable(latePhaseUnits(model).flatMap((u) => u.memberParams(k)));
}

/** Parameters every member uses: everything the model trains except the members' own tensors. */
export function sharedParams(model: Model): Param[] {
  const own = new Set(latePhaseUnits(model).flatMap((u) => allMembers(u).flatMap((k) => u.memberParams(k).map((p) => p.variable))));
  return model.params().filter((p) => !own.has(p.variable));
}

/** The state a train-mode step with member k selected may update: plain layers' and member k's own (running statistics). */
export function stepState(model: Model, k: number): NamedVariable[] {
  const units = latePhaseUnits(model);
  const others = new Set(
    units.flatMap((u) =>
      allMembers(u)
        .filter((j) => j !== k)
        .flatMap((j) => u.memberState(j).map((s) => s.variable)),
    ),
  );
  return uniqueByVariable(model.net.state()).filter((s) => !others.has(s.variable));
}

function allMembers(unit: LatePhaseUnit): number[] {
  return Array.from({ length: unit.memberCount() }, (_, k) => k);
}

/**
 * A model's late-phase groups per member, computed once: the trainer and the gradient workers ask
 * for them every minibatch, and walking the layer tree each time was a visible share of a small
 * model's step. Valid while the model's structure stands: rebuild after a release.
 */
export class MemberGroups {
  /** Parameters every member uses (sharedParams). */
  readonly shared: readonly Param[];
  /** Members: 1 before release. */
  readonly count: number;
  private readonly units: readonly LatePhaseUnit[];
  private readonly own: ReadonlyArray<readonly Param[]>;
  private readonly state: ReadonlyArray<readonly NamedVariable[]>;

  /** `trains`: which parameters train (a fine-tuning run's frozen ones are left out of both groups). */
  constructor(model: Model, trains: (p: Param) => boolean = () => true) {
    this.units = latePhaseUnits(model);
    this.count = memberCount(model);
    this.shared = sharedParams(model).filter(trains);
    this.own = Array.from({ length: this.count }, (_, k) => memberParams(model, k).filter(trains));
    this.state = Array.from({ length: this.count }, (_, k) => stepState(model, k));
  }

  select(member: MemberSelection): void {
    if (member !== 'average') this.check(member);
    for (const unit of this.units) unit.select(member);
  }

  /** Member k's own parameters (memberParams). */
  memberParams(k: number): readonly Param[] {
    return this.own[this.check(k)]!;
  }

  /** What a train-mode step of member k may update (stepState). */
  stepState(k: number): readonly NamedVariable[] {
    return this.state[this.check(k)]!;
  }

  private check(k: number): number {
    if (!Number.isInteger(k) || k < 0 || k >= this.count) throw new ConfigError(`member ${k} does not exist: the model has ${this.count} member(s)`);
    return k;
  }
}
