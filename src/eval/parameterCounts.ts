/** Parameter counts per group, so a user sees what late-phase weights cost at K members. */
import { Model } from '../nn/model';
import { latePhaseUnits, memberParams, sharedParams } from '../latephase/members';

export interface ParameterCounts {
  /** Trained once, used by every member. */
  readonly shared: number;
  /** One member's late-phase parameters, in all and per late-phase kind. */
  readonly perMember: number;
  readonly perMemberByKind: Readonly<Record<string, number>>;
  /** The plain (or folded) model: shared + one member. */
  readonly single: number;
  readonly k: number;
  /** shared + K * perMember: what training holds. */
  readonly totalAtK: number;
  /** (K - 1) * perMember / single. */
  readonly overhead: number;
}

const size = (ps: { variable: { size: number } }[]): number => ps.reduce((s, p) => s + p.variable.size, 0);

/** Counts for `model` as built (before release member 0 stands for every member) at K = `k`. */
export function parameterCounts(model: Model, k: number): ParameterCounts {
  const shared = size(sharedParams(model));
  const byKind: Record<string, number> = {};
  for (const unit of latePhaseUnits(model)) byKind[unit.latePhaseKind] = (byKind[unit.latePhaseKind] ?? 0) + size(unit.memberParams(0));
  const perMember = size(memberParams(model, 0));
  const single = shared + perMember;
  return { shared, perMember, perMemberByKind: byKind, single, k, totalAtK: shared + k * perMember, overhead: ((k - 1) * perMember) / single };
}
