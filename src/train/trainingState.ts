/**
 * Everything a training run needs to continue exactly where it stopped, beside the model's own
 * tensors (which the checkpoint stores anyway): where the run is, and the optimizer, cycle and SWA
 * tensors. Data order and random draws are not stored: they derive from (seed, epoch) and are
 * replayed on resume.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { PendingLosses } from './divergenceMonitor';

/** A tensor of training state, stored in a checkpoint beside the model's own. */
export interface NamedTensor {
  readonly name: string;
  readonly tensor: tf.Tensor;
}

export interface TrainPosition {
  /** Epoch (0-based) of the next minibatch. */
  readonly epoch: number;
  /** Minibatch within that epoch to run next. */
  readonly step: number;
  readonly minibatches: number;
  readonly sharedSteps: number;
  readonly memberSteps: readonly number[];
  readonly released: boolean;
  /** The member the next late-phase minibatch goes to. */
  readonly member: number;
  /** The current epoch's loss so far: the sum of minibatch losses times their rows, and the rows (a per-example mean). */
  readonly epochSum: number;
  readonly epochCount: number;
  readonly recentLoss: number | null;
  readonly epochLoss: readonly number[];
  readonly swaSnapshots: number;
  /** Losses added since the last loss check (absent in checkpoints written before it was stored: none). */
  readonly pendingLoss?: PendingLosses;
}

/** Where a checkpoint stands, in words: 'the end of epoch 2' or 'epoch 3, minibatch 5' (1-based, the next to run). */
export function describePosition(p: TrainPosition): string {
  return p.step === 0 ? (p.epoch === 0 ? 'the start' : `the end of epoch ${p.epoch}`) : `epoch ${p.epoch + 1}, minibatch ${p.step + 1}`;
}

export interface TrainSnapshot {
  readonly position: TrainPosition;
  /** Optimizer momentum (`opt.shared/<param>`, `opt.member<k>/<param>`), the cycle's shared gradient sum (`cycle.grad/<param>`), SWA averages (`swa/<param>`). */
  readonly tensors: readonly NamedTensor[];
}

/** The tensors named under `prefix`, prefix removed. */
export function tensorsUnder(tensors: readonly NamedTensor[], prefix: string): NamedTensor[] {
  return tensors.filter((t) => t.name.startsWith(prefix)).map((t) => ({ name: t.name.slice(prefix.length), tensor: t.tensor }));
}

export function withPrefix(prefix: string, tensors: readonly NamedTensor[]): NamedTensor[] {
  return tensors.map((t) => ({ name: `${prefix}${t.name}`, tensor: t.tensor }));
}

const isCount = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;

const COUNT_FIELDS = ['epoch', 'step', 'minibatches', 'sharedSteps', 'member', 'epochCount', 'swaSnapshots'] as const;

/** What is wrong with a stored position (it comes from a file), or null when it is well-formed. */
export function positionProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return 'missing';
  const p = value as Record<string, unknown>;
  for (const f of COUNT_FIELDS) if (!isCount(p[f])) return `${f} is ${JSON.stringify(p[f])}, not a count`;
  if (typeof p['released'] !== 'boolean') return 'released is not a boolean';
  if (typeof p['epochSum'] !== 'number') return 'epochSum is not a number';
  if (p['recentLoss'] !== null && typeof p['recentLoss'] !== 'number') return 'recentLoss is not a number';
  const counts = p['memberSteps'];
  if (!Array.isArray(counts) || !counts.length || !counts.every(isCount)) return 'memberSteps is not a list of counts';
  const losses = p['epochLoss'];
  if (!Array.isArray(losses) || !losses.every((l) => typeof l === 'number') || losses.length !== p['epoch'])
    return 'epochLoss does not list one loss per completed epoch';
  return p['pendingLoss'] === undefined ? null : pendingProblem(p['pendingLoss']);
}

function pendingProblem(value: unknown): string | null {
  const pending = value as { sum?: unknown; rows?: unknown; places?: unknown } | null;
  if (typeof pending !== 'object' || pending === null || !Number.isFinite(pending.sum)) return 'pendingLoss has no finite sum';
  if (!isCount(pending.rows)) return 'pendingLoss.rows is not a count';
  const places = pending.places;
  const isPlace = (q: unknown): boolean => {
    const r = q as Record<string, unknown> | null;
    return typeof r === 'object' && r !== null && isCount(r['epoch']) && isCount(r['step']) && isCount(r['member']);
  };
  if (!Array.isArray(places) || !places.every(isPlace)) return 'pendingLoss.places is not a list of places';
  return null;
}
