/**
 * Algorithm 1 of the paper (see ../shared/docs/paper-notes.md section 1):
 * - epochs [0, t0): plain training; every parameter (the late-phase layers' tied copy included)
 *   steps every minibatch with the shared optimizer;
 * - at the start of epoch t0 (after t0 completed epochs): release; each late-phase layer is
 *   replicated K times with sigma0 * RMS noise, and each member gets its own optimizer;
 * - from then on minibatches go round-robin to members 0..K-1 (the cycle runs on across epoch
 *   boundaries, so no gradient is discarded). Member k steps at once on its own gradient; shared
 *   weights are held fixed inside the cycle, their gradients summed, and they step once at the end
 *   of each cycle with gradient factor gammaTheta (weight decay applied once per cycle). A cycle
 *   left partial by the end of training steps with the partial sum.
 * Learning rates follow the schedule per epoch. Every random choice derives from `seed`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Model } from '../nn/model';
import { Param, uniqueByVariable } from '../nn/layer';
import { Rng } from '../nn/rng';
import { ConfigError, TrainingError } from '../errors';
import { Dataset, checkDataset, exampleCount, featureTensor, oneHotLabels } from '../data/dataset';
import { memberParams, releaseMembers, selectMember, sharedParams, latePhaseUnits, stepState } from '../latephase/members';
import { checkSgdConfig, Sgd, SgdConfig } from './sgd';
import { checkSchedule, learningRate, Schedule } from './schedule';
import { defaultGhostBatches, GradientSource, LocalGradients } from './gradients';
import { Augmentation } from '../data/augment';
import { DataParallelGradients, DataParallelOptions } from './dataParallel';

export interface TrainConfig {
  readonly epochs: number;
  /** Epochs of plain training before release; >= epochs means no late phase. */
  readonly t0: number;
  /** Number of late-phase members. */
  readonly k: number;
  /** Release noise, relative to each tensor's RMS (the authors' configs use 0). */
  readonly sigma0: number;
  /** Factor on the summed shared gradient: a number, or '1/K'. */
  readonly gammaTheta: number | '1/K';
  readonly batchSize: number;
  readonly seed: number;
  readonly shared: SgdConfig;
  readonly member: SgdConfig;
  readonly schedule: Schedule;
  /** Minibatches between host reads of the loss (each read is a device sync and a NaN/Inf check). */
  readonly lossCheckEvery?: number;
  /**
   * Ghost batches per minibatch: BatchNorm normalises each on its own and their gradients are
   * averaged. Part of the math, never of the machine: data-parallel workers only execute the
   * shards, so 0, 1 or N workers train the same weights. Default: 2 from 64 rows on, else 1.
   */
  readonly ghostBatches?: number;
  /** Image augmentation (random crop with padding, horizontal flip), drawn per (seed, epoch, row). */
  readonly augment?: Augmentation;
}

export const DEFAULT_TRAIN_CONFIG: TrainConfig = {
  epochs: 6,
  t0: 4,
  k: 5,
  sigma0: 0,
  gammaTheta: 1,
  batchSize: 64,
  seed: 0,
  shared: { lr: 0.02, momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
  member: { lr: 0.02, momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
  schedule: { kind: 'cosine', minLr: 0.001 },
};

export interface StepInfo {
  readonly epoch: number;
  readonly epochs: number;
  readonly step: number;
  readonly stepsPerEpoch: number;
  readonly phase: 'plain' | 'late';
  /** Member trained on this minibatch (0 in the plain phase). */
  readonly member: number;
  /** Mean loss over the minibatches since the previous loss check (NaN before the first). */
  readonly recentLoss: number;
}

export interface EpochInfo {
  readonly epoch: number;
  readonly epochs: number;
  readonly phase: 'plain' | 'late';
  readonly loss: number;
  readonly lrShared: number;
  readonly lrMember: number;
}

export interface TrainHooks {
  onStep?(info: StepInfo): void;
  /** Called once, just before release, with the model as plain training left it. */
  onRelease?(model: Model): void;
  /** After each epoch, with its mean training loss and the learning rates it used (evaluation, logs). */
  onEpochEnd?(info: EpochInfo): void;
}

export interface TrainResult {
  readonly minibatches: number;
  readonly sharedSteps: number;
  readonly memberSteps: readonly number[];
  readonly released: boolean;
  /** Mean training loss of each epoch. */
  readonly epochLoss: readonly number[];
}

export function resolveGammaTheta(g: number | '1/K', k: number): number {
  return g === '1/K' ? 1 / k : g;
}

export function checkTrainConfig(cfg: TrainConfig): void {
  const int = (v: number, name: string, min: number): void => {
    if (!Number.isInteger(v) || v < min) throw new ConfigError(`${name} must be an integer >= ${min}, got ${v}`);
  };
  int(cfg.epochs, 'epochs', 1);
  int(cfg.t0, 't0', 0);
  int(cfg.k, 'k', 1);
  int(cfg.batchSize, 'batchSize', 2);
  int(cfg.seed, 'seed', 0);
  if (cfg.lossCheckEvery !== undefined) int(cfg.lossCheckEvery, 'lossCheckEvery', 1);
  if (cfg.ghostBatches !== undefined) int(cfg.ghostBatches, 'ghostBatches', 1);
  if (!(cfg.sigma0 >= 0)) throw new ConfigError(`sigma0 must be >= 0, got ${cfg.sigma0}`);
  const g = resolveGammaTheta(cfg.gammaTheta, cfg.k);
  if (!(g > 0) || !Number.isFinite(g)) throw new ConfigError(`gammaTheta must be a positive number or '1/K', got ${cfg.gammaTheta}`);
  checkSgdConfig(cfg.shared, 'shared');
  checkSgdConfig(cfg.member, 'member');
  checkSchedule(cfg.schedule);
}

/** Before release every parameter (the late-phase layers' tied copy included) steps with the shared optimizer. */
function plainParams(model: Model): Param[] {
  return [...sharedParams(model), ...memberParams(model, 0)];
}

/**
 * Algorithm 1's late-phase bookkeeping: the member visited next, each member's own optimizer, and
 * the shared gradients summed over the current cycle (kept outside any tidy scope).
 */
class MemberCycle {
  member = 0;
  sharedSteps = 0;
  private readonly memberOpts: Sgd[];
  private accum: tf.Tensor[] | null = null;

  constructor(
    private readonly model: Model,
    private readonly k: number,
    memberConfig: SgdConfig,
    private readonly sharedOpt: Sgd,
    /** gammaTheta as configured: '1/K' means the mean over the members that contributed. */
    private readonly gammaTheta: number | '1/K',
  ) {
    this.memberOpts = Array.from({ length: k }, () => new Sgd(memberConfig));
  }

  /** Selects the current member; the tensors its minibatch differentiates: shared ones first, then its own. */
  params(): { shared: Param[]; own: Param[] } {
    selectMember(this.model, this.member);
    return { shared: sharedParams(this.model), own: memberParams(this.model, this.member) };
  }

  /** Member `this.member` steps at once on its own gradient; the shared gradient joins the cycle's sum. Takes ownership of `grads`. */
  apply(own: readonly Param[], grads: tf.Tensor[], lr: number): void {
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
  advance(sharedLr: number): void {
    if (++this.member < this.k) return;
    this.member = 0;
    this.stepShared(sharedLr);
  }

  /**
   * Shared step with gammaTheta times the summed gradients (a no-op when nothing is accumulated).
   * With '1/K', a cycle the run's end leaves partial is averaged over the members it had, not K.
   */
  stepShared(lr: number): void {
    if (!this.accum) return;
    const contributed = this.member === 0 ? this.k : this.member;
    const gamma = this.gammaTheta === '1/K' ? 1 / contributed : this.gammaTheta;
    this.sharedOpt.step(sharedParams(this.model), this.accum, lr, gamma);
    tf.dispose(this.accum);
    this.accum = null;
    this.sharedSteps++;
  }

  dispose(): void {
    if (this.accum) tf.dispose(this.accum);
    for (const o of this.memberOpts) o.dispose();
  }
}

/** Where a minibatch was: for naming the step at which training diverged. */
interface StepPlace {
  readonly epoch: number;
  readonly step: number;
  readonly member: number;
}

const where = (p: StepPlace): string => `epoch ${p.epoch + 1}, minibatch ${p.step + 1} (member ${p.member})`;

/**
 * The training losses since the last check, kept on the device and read back together (one sync)
 * every `every` minibatches and at each epoch's end. A check also scans every parameter and
 * running statistic for NaN/Inf, so divergence that the loss does not show (a BatchNorm running
 * variance overflowing while train-mode losses stay finite) stops the run too, naming the tensor.
 */
class DivergenceMonitor {
  /** Sum of the losses since the last check, and the index of the first non-finite one (Inf if none): constant memory. */
  private sum: tf.Scalar = tf.scalar(0);
  private firstBad: tf.Scalar = tf.scalar(Number.POSITIVE_INFINITY);
  private places: StepPlace[] = [];
  private lastChecked: StepPlace | null = null;

  constructor(
    private readonly every: number,
    private readonly model: Model,
  ) {}

  add(loss: tf.Scalar, place: StepPlace): void {
    const index = this.places.length;
    this.places.push(place);
    const [sum, firstBad] = tf.tidy(() => [
      tf.add(this.sum, loss) as tf.Scalar,
      tf.minimum(this.firstBad, tf.where(tf.isFinite(loss), tf.scalar(Number.POSITIVE_INFINITY), tf.scalar(index))) as tf.Scalar,
    ]);
    tf.dispose([this.sum, this.firstBad, loss]);
    [this.sum, this.firstBad] = [sum!, firstBad!];
  }

  due(endOfEpoch: boolean): boolean {
    return this.places.length >= this.every || (endOfEpoch && this.places.length > 0);
  }

  /** Mean loss and count since the last check; TrainingError naming the step, member or tensor on NaN/Inf. */
  check(): { mean: number; count: number } {
    const [sum, firstBad] = tf.tidy(() => tf.stack([this.sum, this.firstBad]).dataSync());
    const places = this.places;
    this.reset();
    if (Number.isFinite(firstBad))
      throw new TrainingError(`training diverged: the loss became non-finite (NaN/Inf) at ${where(places[firstBad!]!)}; ${ADVICE}`);
    const now = places[places.length - 1]!;
    const tensor = firstNonFinite(this.model);
    if (tensor) {
      const since = this.lastChecked ? `after ${where(this.lastChecked)} and by ${where(now)}` : `by ${where(now)}`;
      throw new TrainingError(`training diverged ${since}: tensor '${tensor}' holds NaN/Inf; ${ADVICE}`);
    }
    this.lastChecked = now;
    return { mean: sum! / places.length, count: places.length };
  }

  private reset(): void {
    tf.dispose([this.sum, this.firstBad]);
    this.sum = tf.scalar(0);
    this.firstBad = tf.scalar(Number.POSITIVE_INFINITY);
    this.places = [];
  }

  dispose(): void {
    tf.dispose([this.sum, this.firstBad]);
  }
}

const ADVICE = 'lower the learning rate (or sigma0), or check the data for NaN/Inf';

/** The name of the first parameter or state tensor (running statistic) holding NaN or Inf, if any. */
function firstNonFinite(model: Model): string | null {
  const vars = uniqueByVariable([...model.params(), ...model.net.state()]);
  if (!vars.length) return null;
  const finite = tf.tidy(() => tf.stack(vars.map((v) => tf.all(tf.isFinite(v.variable)))).dataSync());
  const bad = finite.findIndex((f) => !f);
  return bad >= 0 ? vars[bad]!.name : null;
}

/**
 * Train `model` on `data` with Algorithm 1. With `parallel.workers` > 0 each minibatch's gradients
 * are split over that many worker threads plus this one (see dataParallel.ts for what changes:
 * BatchNorm statistics are per shard).
 */
export async function trainLatePhase(
  model: Model,
  data: Dataset,
  cfg: TrainConfig,
  hooks: TrainHooks = {},
  parallel?: DataParallelOptions,
): Promise<TrainResult> {
  checkTrainConfig(cfg);
  checkDataset(data, 'training data');
  const late = cfg.t0 < cfg.epochs && latePhaseUnits(model).length > 0;
  if (cfg.t0 < cfg.epochs && !late) throw new ConfigError(`model '${model.name}' has no late-phase layers; set t0 >= epochs for plain training`);
  const n = exampleCount(data);
  const stepsPerEpoch = Math.ceil(n / cfg.batchSize);
  const lateSteps = (cfg.epochs - cfg.t0) * stepsPerEpoch;
  if (late && cfg.k > lateSteps)
    throw new ConfigError(
      `k = ${cfg.k} members need at least ${cfg.k} late-phase minibatches, the data gives ${lateSteps} (${cfg.epochs - cfg.t0} epoch(s) of ${stepsPerEpoch}); members would never take a step: lower k or the batch size`,
    );
  const rng = new Rng(cfg.seed);
  const shuffleRng = rng.fork();
  const releaseSeed = Math.floor(rng.next() * 2 ** 31);

  const x = featureTensor(data);
  const y = oneHotLabels(data);
  let gradients: GradientSource;
  try {
    const ghost = cfg.ghostBatches ?? defaultGhostBatches(cfg.batchSize);
    const augment = cfg.augment && { augmentation: cfg.augment, seed: cfg.seed };
    gradients =
      parallel && parallel.workers > 0
        ? await DataParallelGradients.start(model, data, x, y, parallel, ghost, augment)
        : new LocalGradients(x, y, ghost, augment);
  } catch (err) {
    tf.dispose([x, y]);
    throw err;
  }
  const sharedOpt = new Sgd(cfg.shared);
  const losses = new DivergenceMonitor(cfg.lossCheckEvery ?? 25, model);
  let cycle: MemberCycle | null = null;
  let minibatches = 0;
  const memberSteps = new Array<number>(late ? cfg.k : 1).fill(0);
  const epochLoss: number[] = [];
  let recentLoss = Number.NaN;

  try {
    for (let epoch = 0; epoch < cfg.epochs; epoch++) {
      if (late && epoch === cfg.t0) {
        hooks.onRelease?.(model);
        releaseMembers(model, cfg.k, cfg.sigma0, releaseSeed);
        await gradients.released(model, cfg.k);
        cycle = new MemberCycle(model, cfg.k, cfg.member, sharedOpt, cfg.gammaTheta);
        sharedOpt.retainOnly(sharedParams(model)); // the tied copy's momentum buffers go with it
      }
      const lrShared = learningRate(cfg.shared.lr, cfg.schedule, epoch, cfg.epochs);
      const lrMember = learningRate(cfg.member.lr, cfg.schedule, epoch, cfg.epochs);
      const perm = shuffleRng.permutation(n);
      let epochSum = 0;
      let epochCount = 0;
      for (let step = 0; step < stepsPerEpoch; step++) {
        const member = cycle ? cycle.member : 0;
        const rows = perm.subarray(step * cfg.batchSize, Math.min(n, (step + 1) * cfg.batchSize));
        const groups = cycle ? cycle.params() : { shared: plainParams(model), own: [] };
        const { loss, grads } = await gradients.compute(model, rows, [...groups.shared, ...groups.own], member, stepState(model, member), epoch);
        if (cycle) cycle.apply(groups.own, grads, lrMember);
        else {
          sharedOpt.step(groups.shared, grads, lrShared);
          tf.dispose(grads);
        }
        losses.add(loss, { epoch, step, member });
        minibatches++;
        memberSteps[member]!++;
        cycle?.advance(lrShared);
        if (losses.due(step === stepsPerEpoch - 1)) {
          const { mean, count } = losses.check();
          recentLoss = mean;
          epochSum += mean * count;
          epochCount += count;
          await new Promise<void>((resolve) => setImmediate(resolve)); // let progress output and signals through
        }
        hooks.onStep?.({ epoch, epochs: cfg.epochs, step, stepsPerEpoch, phase: cycle ? 'late' : 'plain', member, recentLoss });
      }
      epochLoss.push(epochSum / Math.max(epochCount, 1));
      hooks.onEpochEnd?.({ epoch, epochs: cfg.epochs, phase: cycle ? 'late' : 'plain', loss: epochLoss[epoch]!, lrShared, lrMember });
    }
    cycle?.stepShared(learningRate(cfg.shared.lr, cfg.schedule, cfg.epochs - 1, cfg.epochs)); // a cycle left partial
  } finally {
    await gradients.close();
    cycle?.dispose();
    losses.dispose();
    tf.dispose([x, y]);
    sharedOpt.dispose();
  }
  if (late) selectMember(model, 'average');
  return { minibatches, sharedSteps: cycle?.sharedSteps ?? 0, memberSteps, released: late, epochLoss };
}
