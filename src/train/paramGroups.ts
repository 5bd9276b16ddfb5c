/**
 * Parameter groups, the fine-tuning habit users bring from PyTorch: parameters chosen by name
 * pattern (src/nn/namePattern.ts) train at their own learning rate or not at all. A group's `lr`
 * takes the place of the optimizer's base rate (shared and member alike) and follows the same
 * schedule, as a PyTorch param group's lr does under its scheduler; a frozen parameter is left out
 * of every gradient and step (a frozen BatchNorm still updates its running statistics in training
 * mode, as `requires_grad = False` does). A parameter belongs to the first group that matches it.
 */
import { Param } from '../nn/layer';
import { NamePatterns } from '../nn/namePattern';
import { ConfigError } from '../errors';

export interface ParamGroupRule {
  /** Parameter names or patterns: `fc`, `layer4.*`, `/features/*`. */
  readonly match: readonly string[];
  /** Base learning rate for these parameters (scheduled like the optimizer's); absent: the optimizer's. */
  readonly lr?: number;
  /** Leave these parameters as they are. */
  readonly freeze?: boolean;
}

/** A learning rate for every parameter: one number, or a rate per parameter. */
export type LearningRate = number | ((p: Param) => number);

export function checkParamGroupRules(rules: readonly ParamGroupRule[]): void {
  rules.forEach((r, i) => {
    const field = `optimizer.groups[${i}]`;
    if (!Array.isArray(r.match) || !r.match.length) throw new ConfigError(`${field}.match must name at least one parameter or pattern`);
    if (r.lr === undefined && !r.freeze) throw new ConfigError(`${field}: give lr or freeze: true (a group that changes nothing is a mistake)`);
    if (r.lr !== undefined && r.freeze) throw new ConfigError(`${field}: a frozen group has no learning rate; give lr or freeze, not both`);
    if (r.lr !== undefined && !(r.lr > 0 && Number.isFinite(r.lr))) throw new ConfigError(`${field}.lr must be a positive number, got ${r.lr}`);
  });
}

export class ParamGroups {
  private readonly matchers: readonly NamePatterns[];
  private readonly ruleByName = new Map<string, number>();

  /** `params`: the model's parameters before release; every pattern must match one of them. */
  constructor(
    private readonly rules: readonly ParamGroupRule[],
    params: readonly Param[],
  ) {
    checkParamGroupRules(rules);
    this.matchers = rules.map((r, i) => new NamePatterns(r.match, `optimizer.groups[${i}].match`));
    const names = params.map((p) => p.name);
    for (const name of names) this.ruleOf(name);
    for (const m of this.matchers) m.checkAllMatched('parameter', names);
    if (params.length && params.every((p) => this.frozen(p))) throw new ConfigError('optimizer.groups freeze every parameter: nothing would train');
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  frozen(p: Param): boolean {
    return this.rules[this.ruleOf(p.name)]?.freeze === true;
  }

  /** The parameters that train (frozen ones left out). */
  trainable(params: readonly Param[]): Param[] {
    return this.empty ? [...params] : params.filter((p) => !this.frozen(p));
  }

  /**
   * The rate of each parameter this epoch: `rate` (the optimizer's scheduled rate) unless the
   * parameter's group sets its own base rate, which `scheduled` takes through the same schedule.
   */
  rates(rate: number, scheduled: (baseLr: number) => number): LearningRate {
    if (!this.rules.some((r) => r.lr !== undefined)) return rate;
    const own = this.rules.map((r) => (r.lr === undefined ? rate : scheduled(r.lr)));
    return (p) => own[this.ruleOf(p.name)] ?? rate;
  }

  /** The index of `p`'s group, -1 for none. */
  groupOf(p: Param): number {
    return this.ruleOf(p.name);
  }

  /** Index of the first rule matching `name` (a member's `[k]` suffix ignored), -1 for none; cached. */
  private ruleOf(name: string): number {
    let i = this.ruleByName.get(name);
    if (i === undefined) {
      const hits = this.matchers.map((m) => m.matches(name)); // every matcher sees the name: a later group's pattern counts as used
      i = hits.indexOf(true);
      this.ruleByName.set(name, i);
    }
    return i;
  }
}

/** For the run's log: each group's parameter count and setting, e.g. `fc (2 tensors): lr 0.1; layer1* (12 tensors): frozen`. */
export function describeParamGroups(rules: readonly ParamGroupRule[], params: readonly Param[]): string {
  const groups = new ParamGroups(rules, params);
  const counts = rules.map(() => 0);
  for (const p of params) {
    const i = groups.groupOf(p);
    if (i >= 0) counts[i]!++;
  }
  return rules
    .map((r, i) => `${r.match.join('+')} (${counts[i]} tensor${counts[i] === 1 ? '' : 's'}): ${r.freeze ? 'frozen' : `lr ${r.lr}`}`)
    .join('; ');
}
