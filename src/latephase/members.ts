/**
 * Model-level late-phase operations: release, member selection and parameter groups. The trainer
 * uses these and never looks inside a layer.
 */
import { Model } from '../nn/model';
import { Layer, NamedVariable, Param, uniqueByVariable } from '../nn/layer';
import { Rng } from '../nn/rng';
import { ConfigError } from '../errors';
import { isLatePhase, LatePhaseLayer, MemberSelection } from './latePhaseLayer';

export function latePhaseLayers(model: Model): LatePhaseLayer[] {
  return model.layers().filter(isLatePhase);
}

/** K for the model: 1 before release; all late-phase layers always agree. */
export function memberCount(model: Model): number {
  const counts = new Set(latePhaseLayers(model).map((l) => l.memberCount()));
  if (counts.size > 1) throw new ConfigError(`model '${model.name}': late-phase layers disagree on K (${[...counts].join(', ')})`);
  return counts.size ? [...counts][0]! : 1;
}

/** Replicate every late-phase layer K times (with sigma0 noise); layers draw from one seeded stream in model order. */
export function releaseMembers(model: Model, k: number, sigma0: number, seed: number): void {
  const layers = latePhaseLayers(model);
  if (!layers.length) throw new ConfigError(`model '${model.name}' has no late-phase layers to release`);
  const rng = new Rng(seed);
  for (const layer of layers) layer.replicate(k, sigma0, rng);
}

export function selectMember(model: Model, member: MemberSelection): void {
  for (const layer of latePhaseLayers(model)) layer.select(member);
}

/** Parameters every member uses: all plain layers' plus the late-phase layers' shared tensors. */
export function sharedParams(model: Model): Param[] {
  const out: Param[] = [];
  const visit = (layer: Layer): void => {
    if (isLatePhase(layer)) out.push(...layer.sharedParams());
    else if (layer.children().length) layer.children().forEach(visit);
    else out.push(...layer.params());
  };
  visit(model.net);
  return uniqueByVariable(out);
}

export function memberParams(model: Model, k: number): Param[] {
  return latePhaseLayers(model).flatMap((l) => l.memberParams(k));
}

/** The state a train-mode step with member k selected may update: plain layers' and member k's own (running statistics). */
export function stepState(model: Model, k: number): NamedVariable[] {
  const out: NamedVariable[] = [];
  const visit = (layer: Layer): void => {
    if (isLatePhase(layer)) out.push(...layer.memberState(k));
    else if (layer.children().length) layer.children().forEach(visit);
    else out.push(...layer.state());
  };
  visit(model.net);
  return uniqueByVariable(out);
}
