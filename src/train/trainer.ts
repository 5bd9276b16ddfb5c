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
 *   left partial by the end of training steps with the partial sum (before the last epoch ends);
 * - with SWA, the weights at each epoch end from swa.start on are averaged (swa.ts), and after
 *   the last epoch the average replaces them and BatchNorm statistics are recomputed per member.
 * Learning rates follow the schedule per epoch. Every random choice derives from `seed` and the
 * epoch, so a run resumed from a checkpoint (TrainControl.resume) replays the same data order and
 * ends with the same weights, bit for bit, as one that never stopped.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Model } from '../nn/model';
import { NamedVariable, Param } from '../nn/layer';
import { Rng } from '../nn/rng';
import { ConfigError, DataError, TrainingInterrupted } from '../errors';
import { Examples, checkDataset, exampleCount } from '../data/dataset';
import { MemberGroups, memberCount, releaseMembers, selectMember, latePhaseUnits } from '../latephase/members';
import { checkSgdConfig, Sgd, SgdConfig } from './sgd';
import { checkSchedule, learningRate, Schedule } from './schedule';
import { defaultGhostBatches, GradientSource, LocalGradients, MIN_SHARD_ROWS, SeededAugmentation } from './gradients';
import { MemberCycle } from './memberCycle';
import { DivergenceMonitor } from './divergenceMonitor';
import { SwaAverage, SwaConfig } from './swa';
import { recomputeRunningStatistics } from './batchNormRecompute';
import { NamedTensor, tensorsUnder, TrainPosition, TrainSnapshot, withPrefix } from './trainingState';
import { Augmentation } from '../data/augment';
import { DataParallelGradients, DataParallelOptions } from './dataParallel';
import { checkParamGroupRules, ParamGroupRule, ParamGroups } from './paramGroups';

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
  /** Stochastic weight averaging from epoch `start` (0-based), then a BatchNorm recompute per member (swa.ts). */
  readonly swa?: SwaConfig;
  /** Parameters by name pattern with their own base learning rate, or frozen (paramGroups.ts). */
  readonly paramGroups?: readonly ParamGroupRule[];
}

export interface StepInfo {
  readonly epoch: number;
  readonly epochs: number;
  readonly step: number;
  readonly stepsPerEpoch: number;
  readonly phase: 'plain' | 'late';
  /** Member trained on this minibatch (0 in the plain phase). */
  readonly member: number;
  /** Mean loss over the minibatches between the previous loss check and the latest (NaN before the first). */
  readonly recentLoss: number;
  /** Whether this minibatch ended with a loss check (so `recentLoss` is new). */
  readonly lossChecked: boolean;
}

export interface EpochInfo {
  readonly epoch: number;
  readonly epochs: number;
  readonly phase: 'plain' | 'late';
  readonly loss: number;
  readonly lrShared: number;
  readonly lrMember: number;
}

/** Why a checkpoint is offered: every `checkpointEvery` minibatches, an epoch's end, or a stop request. */
export type CheckpointReason = 'steps' | 'epoch' | 'stop';

export interface TrainHooks {
  onStep?(info: StepInfo): void;
  /** Called once, just before release, with the model as plain training left it. */
  onRelease?(model: Model): void;
  /** After each epoch, with its mean training loss and the learning rates it used (evaluation, logs). */
  onEpochEnd?(info: EpochInfo): void;
  /**
   * A consistent point to save the run from: the model's tensors and `snapshot` as they are now
   * (losses checked finite first, so a diverged run never offers one). Write before returning:
   * the tensors go on changing.
   */
  onCheckpoint?(snapshot: TrainSnapshot, reason: CheckpointReason): void;
}

export interface TrainControl {
  /** Continue from a checkpoint's snapshot; the model must already hold that checkpoint's tensors. */
  readonly resume?: TrainSnapshot;
  /** Minibatches between 'steps' checkpoints (0 or absent: epoch ends only). */
  readonly checkpointEvery?: number;
  /** Polled after every minibatch: when true the run offers a 'stop' checkpoint and throws TrainingInterrupted. */
  readonly stopRequested?: () => boolean;
}

export interface TrainResult {
  readonly minibatches: number;
  readonly sharedSteps: number;
  readonly memberSteps: readonly number[];
  readonly released: boolean;
  /** Mean training loss of each epoch. */
  readonly epochLoss: readonly number[];
  /** Epoch ends averaged by SWA (0 without SWA). */
  readonly swaSnapshots: number;
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
  if (cfg.ghostBatches !== undefined) {
    int(cfg.ghostBatches, 'ghostBatches', 1);
    const most = Math.max(1, Math.floor(cfg.batchSize / MIN_SHARD_ROWS));
    if (cfg.ghostBatches > most)
      throw new ConfigError(
        `ghostBatches ${cfg.ghostBatches} is more than a minibatch of ${cfg.batchSize} rows can hold: each ghost batch needs at least ${MIN_SHARD_ROWS} rows (BatchNorm statistics of fewer are noise), so at most ${most}`,
      );
  }
  if (!(cfg.sigma0 >= 0)) throw new ConfigError(`sigma0 must be >= 0, got ${cfg.sigma0}`);
  const g = resolveGammaTheta(cfg.gammaTheta, cfg.k);
  if (!(g > 0) || !Number.isFinite(g)) throw new ConfigError(`gammaTheta must be a positive number or '1/K', got ${cfg.gammaTheta}`);
  checkSgdConfig(cfg.shared, 'shared');
  checkSgdConfig(cfg.member, 'member');
  checkSchedule(cfg.schedule);
  checkParamGroupRules(cfg.paramGroups ?? []);
  if (cfg.swa) {
    if (!Number.isInteger(cfg.swa.start) || cfg.swa.start < 0 || cfg.swa.start >= cfg.epochs)
      throw new ConfigError(
        `swa.start must be an integer epoch in 0..${cfg.epochs - 1} (0-based: its end is the first averaged), got ${cfg.swa.start}`,
      );
    if (cfg.t0 < cfg.epochs && cfg.swa.start < cfg.t0)
      throw new ConfigError(
        `swa.start (${cfg.swa.start}) must be >= t0 (${cfg.t0}): each member's late-phase weights are averaged over time on their own, and members exist only from release on`,
      );
  }
}

/** Let progress output and signals through. */
const yieldToEvents = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

/** What one minibatch differentiates (shared parameters first, then the member's own) and the state it may update. */
interface StepGroups {
  readonly shared: readonly Param[];
  readonly own: readonly Param[];
  readonly state: readonly NamedVariable[];
}

/** Before release every parameter (the late-phase layers' tied copy included) steps with the shared optimizer. */
function plainStep(groups: MemberGroups): StepGroups {
  return { shared: [...groups.shared, ...groups.memberParams(0)], own: [], state: groups.stepState(0) };
}

/** The run's counters, as a checkpoint stores them (TrainPosition without the place and SWA count). */
interface Progress {
  minibatches: number;
  memberSteps: number[];
  epochLoss: number[];
  recentLoss: number;
  epochSum: number;
  epochCount: number;
}

/** A checkpoint's position must fit this config and data: the same epochs, minibatches per epoch and K. */
function checkResume(p: TrainPosition, cfg: TrainConfig, stepsPerEpoch: number, late: boolean, slots: number, model: Model): void {
  const bad = (why: string): DataError => new DataError(`cannot resume: ${why}`);
  if (!(Number.isInteger(p.epoch) && p.epoch >= 0 && p.epoch <= cfg.epochs))
    throw bad(`the checkpoint is at epoch ${p.epoch}, the run has ${cfg.epochs}`);
  if (!(Number.isInteger(p.step) && p.step >= 0 && p.step < stepsPerEpoch))
    throw bad(`the checkpoint is at minibatch ${p.step} of an epoch, the data gives ${stepsPerEpoch} per epoch`);
  const releasedByNow = late && (p.epoch > cfg.t0 || (p.epoch === cfg.t0 && p.step > 0));
  if (p.released !== releasedByNow) throw bad(`the checkpoint ${p.released ? 'is' : 'is not'} past release, but t0 = ${cfg.t0} says otherwise`);
  if (p.memberSteps.length !== slots) throw bad(`the checkpoint counts ${p.memberSteps.length} member(s), the config K = ${cfg.k}`);
  if (p.released && memberCount(model) !== cfg.k) throw bad(`the model holds ${memberCount(model)} member(s), the config K = ${cfg.k}`);
  if (p.swaSnapshots > 0 && !cfg.swa) throw bad('the checkpoint holds SWA averages but the config has no swa section');
}

/** How a run is driven, beside its config: the hooks, data-parallel workers, resume, checkpoints and stop. */
export interface TrainOptions extends TrainHooks, TrainControl {
  /** Split each minibatch's ghost batches over `workers` threads plus this one (absent or 0 workers: this thread alone). */
  readonly parallel?: DataParallelOptions;
}

/**
 * Train `model` on `data` with Algorithm 1. With `options.parallel.workers` > 0 each minibatch's
 * gradients are split over that many worker threads plus this one (the ghost-batch count fixes the
 * math, so the weights do not depend on the worker count). `options` also carries the hooks, a
 * checkpoint to resume from, the checkpoint cadence and a stop request polled after every minibatch.
 */
export async function trainLatePhase(model: Model, data: Examples, cfg: TrainConfig, options: TrainOptions = {}): Promise<TrainResult> {
  const hooks: TrainHooks = options;
  const control: TrainControl = options;
  const parallel = options.parallel;
  checkTrainConfig(cfg);
  checkDataset(data, 'training data');
  const late = cfg.t0 < cfg.epochs && latePhaseUnits(model).length > 0;
  if (cfg.t0 < cfg.epochs && !late)
    throw new ConfigError(
      `model '${model.name}' has no late-phase layers: choose late-phase kinds it has (latePhase.kinds), or train it plainly (latePhase.enabled: false in a job config, --no-late-phase with latephase run, t0 = epochs in a TrainConfig)`,
    );
  const n = exampleCount(data);
  const stepsPerEpoch = Math.ceil(n / cfg.batchSize);
  const lateSteps = (cfg.epochs - cfg.t0) * stepsPerEpoch;
  if (late && cfg.k > lateSteps)
    throw new ConfigError(
      `k = ${cfg.k} members need at least ${cfg.k} late-phase minibatches, the data gives ${lateSteps} (${cfg.epochs - cfg.t0} epoch(s) of ${stepsPerEpoch}); members would never take a step: lower k or the batch size`,
    );
  const slots = late ? cfg.k : 1; // members counted in the position: the plain phase trains one
  const resume = control.resume;
  if (resume) checkResume(resume.position, cfg, stepsPerEpoch, late, slots, model);
  const rng = new Rng(cfg.seed);
  const shuffleRng = rng.fork();
  const releaseSeed = Math.floor(rng.next() * 2 ** 31);
  const ghost = cfg.ghostBatches ?? defaultGhostBatches(cfg.batchSize);
  const augment: SeededAugmentation | undefined = cfg.augment && { augmentation: cfg.augment, seed: cfg.seed };

  const paramGroups = new ParamGroups(cfg.paramGroups ?? [], model.params()); // a pattern matching nothing fails here
  const trains = (param: Param): boolean => !paramGroups.frozen(param);
  const gradients: GradientSource =
    parallel && parallel.workers > 0
      ? await DataParallelGradients.start(model, data, parallel, ghost, augment)
      : new LocalGradients(data, ghost, augment);
  const sharedOpt = new Sgd(cfg.shared);
  const swa = cfg.swa ? new SwaAverage(cfg.swa) : null;
  const losses = new DivergenceMonitor(cfg.lossCheckEvery ?? 25, model);
  let cycle = null as MemberCycle | null; // assigned by release(): widened so the loop's checks narrow
  let swaSnapshots = 0;
  const p: Progress = {
    minibatches: resume?.position.minibatches ?? 0,
    memberSteps: [...(resume?.position.memberSteps ?? new Array<number>(slots).fill(0))],
    epochLoss: [...(resume?.position.epochLoss ?? [])],
    recentLoss: resume?.position.recentLoss ?? Number.NaN,
    epochSum: resume?.position.epochSum ?? 0,
    epochCount: resume?.position.epochCount ?? 0,
  };
  const plain = plainStep(new MemberGroups(model, trains)); // the plain phase's groups; the cycle has the late phase's
  const trainedParams = (): readonly Param[] => (cycle ? cycle.sharedParams() : plain.shared);
  const release = async (): Promise<void> => {
    await gradients.released(model, cfg.k);
    cycle = new MemberCycle(new MemberGroups(model, trains), cfg.member, sharedOpt, cfg.gammaTheta);
    sharedOpt.retainOnly(cycle.sharedParams()); // the tied copy's momentum buffers go with it
  };
  /** Read the pending losses (a sync; throws on NaN/Inf naming the step). */
  const checkLosses = async (): Promise<void> => {
    const { mean, sum, rows } = losses.check();
    p.recentLoss = mean;
    p.epochSum += sum;
    p.epochCount += rows;
    await yieldToEvents();
  };
  const offerCheckpoint = (reason: 'steps' | 'epoch' | 'stop', epoch: number, step: number): void => {
    if (!hooks.onCheckpoint) return;
    const pendingLoss = losses.settle(); // a diverged run offers no checkpoint
    const tensors: NamedTensor[] = [
      ...withPrefix('opt.shared/', sharedOpt.momentum(trainedParams())),
      ...(cycle?.state() ?? []),
      ...withPrefix('swa/', swa?.state().tensors ?? []),
    ];
    const position: TrainPosition = {
      epoch,
      step,
      ...p,
      recentLoss: Number.isNaN(p.recentLoss) ? null : p.recentLoss,
      sharedSteps: cycle?.sharedSteps ?? 0,
      released: cycle !== null,
      member: cycle?.member ?? 0,
      swaSnapshots: swa?.count ?? 0,
      ...(pendingLoss.places.length > 0 && { pendingLoss }),
    };
    hooks.onCheckpoint({ position, tensors }, reason);
  };

  try {
    const start = resume?.position ?? { epoch: 0, step: 0, released: false };
    if (resume) {
      if (start.released) {
        await release();
        cycle!.restore(resume.position.member, resume.position.sharedSteps, resume.tensors);
      }
      sharedOpt.restoreMomentum(trainedParams(), tensorsUnder(resume.tensors, 'opt.shared/'));
      swa?.restore(tensorsUnder(resume.tensors, 'swa/'), resume.position.swaSnapshots);
      if (resume.position.pendingLoss) losses.restore(resume.position.pendingLoss);
    }
    for (let e = 0; e < start.epoch; e++) shuffleRng.permutation(n); // replay the data order up to the resumed epoch
    for (let epoch = start.epoch; epoch < cfg.epochs; epoch++) {
      if (late && epoch === cfg.t0 && !cycle) {
        hooks.onRelease?.(model);
        releaseMembers(model, cfg.k, cfg.sigma0, releaseSeed);
        await release();
      }
      const lrShared = learningRate(cfg.shared.lr, cfg.schedule, epoch, cfg.epochs);
      const lrMember = learningRate(cfg.member.lr, cfg.schedule, epoch, cfg.epochs);
      const scheduled = (base: number): number => learningRate(base, cfg.schedule, epoch, cfg.epochs);
      const [ratesShared, ratesMember] = [paramGroups.rates(lrShared, scheduled), paramGroups.rates(lrMember, scheduled)];
      const perm = shuffleRng.permutation(n);
      const firstStep = epoch === start.epoch ? start.step : 0;
      if (firstStep === 0) [p.epochSum, p.epochCount] = [0, 0];
      for (let step = firstStep; step < stepsPerEpoch; step++) {
        const c = cycle;
        const member = c ? c.member : 0;
        const rows = perm.subarray(step * cfg.batchSize, Math.min(n, (step + 1) * cfg.batchSize));
        const groups = c ? c.params() : plain;
        const { loss, grads } = await gradients.compute(model, {
          rows,
          params: [...groups.shared, ...groups.own],
          member,
          state: groups.state,
          epoch,
        });
        if (c) c.apply(groups.own, grads, ratesMember);
        else {
          sharedOpt.step(groups.shared, grads, ratesShared);
          tf.dispose(grads);
        }
        losses.add(loss, { epoch, step, member }, rows.length);
        p.minibatches++;
        p.memberSteps[member]!++;
        c?.advance(ratesShared);
        const last = step === stepsPerEpoch - 1;
        const stop = control.stopRequested?.() ?? false;
        const every = control.checkpointEvery ?? 0;
        const checkpointDue = !last && (stop || (every > 0 && p.minibatches % every === 0));
        // Loss checks fall where lossCheckEvery and epoch ends put them, never where a run was
        // checkpointed or stopped: the metrics log of a resumed run equals an uninterrupted one's.
        const lossChecked = losses.due(last);
        if (lossChecked) await checkLosses();
        else if (checkpointDue) await yieldToEvents();
        hooks.onStep?.({
          epoch,
          epochs: cfg.epochs,
          step,
          stepsPerEpoch,
          phase: c ? 'late' : 'plain',
          member,
          recentLoss: p.recentLoss,
          lossChecked,
        });
        if (last) {
          if (epoch === cfg.epochs - 1) c?.stepShared(ratesShared); // a cycle the run's end leaves partial
          p.epochLoss.push(p.epochSum / Math.max(p.epochCount, 1));
          hooks.onEpochEnd?.({ epoch, epochs: cfg.epochs, phase: c ? 'late' : 'plain', loss: p.epochLoss[epoch]!, lrShared, lrMember });
          if (swa?.due(epoch)) swa.add(model.params());
          offerCheckpoint(stop ? 'stop' : 'epoch', epoch + 1, 0);
        } else if (checkpointDue) offerCheckpoint(stop ? 'stop' : 'steps', epoch, step + 1);
        if (stop) throw new TrainingInterrupted(`stopped on request after epoch ${epoch + 1}, minibatch ${step + 1}`);
      }
    }
    if (swa) {
      swaSnapshots = swa.count;
      swa.apply(model.params());
      recomputeRunningStatistics(model, data, { batchSize: cfg.batchSize, ghostBatches: ghost, augment, epoch: cfg.epochs });
    }
  } finally {
    await gradients.close();
    cycle?.dispose();
    losses.dispose();
    swa?.dispose();
    sharedOpt.dispose();
  }
  if (late) selectMember(model, 'average');
  return {
    minibatches: p.minibatches,
    sharedSteps: cycle?.sharedSteps ?? 0,
    memberSteps: p.memberSteps,
    released: late,
    epochLoss: p.epochLoss,
    swaSnapshots,
  };
}
