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
import { Param, TRAIN } from '../nn/layer';
import { Rng } from '../nn/rng';
import { ConfigError, TrainingError } from '../errors';
import { Dataset, checkDataset, exampleCount, featureTensor, oneHotLabels } from '../data/dataset';
import { memberParams, releaseMembers, selectMember, sharedParams, latePhaseLayers } from '../latephase/members';
import { checkSgdConfig, Sgd, SgdConfig } from './sgd';
import { checkSchedule, learningRate, Schedule } from './schedule';
import { softmaxCrossEntropy } from '../nn/loss';

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
  schedule: { kind: 'cosine', total: 6, minLr: 0.001 },
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

export interface TrainHooks {
  onStep?(info: StepInfo): void;
  /** Called once, just before release, with the model as plain training left it. */
  onRelease?(model: Model): void;
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
  if (!(cfg.sigma0 >= 0)) throw new ConfigError(`sigma0 must be >= 0, got ${cfg.sigma0}`);
  const g = resolveGammaTheta(cfg.gammaTheta, cfg.k);
  if (!(g > 0) || !Number.isFinite(g)) throw new ConfigError(`gammaTheta must be a positive number or '1/K', got ${cfg.gammaTheta}`);
  checkSgdConfig(cfg.shared, 'shared');
  checkSgdConfig(cfg.member, 'member');
  checkSchedule(cfg.schedule);
}

/** Loss and gradients of `params` (in order) on one minibatch, in train mode. */
function lossAndGrads(model: Model, xb: tf.Tensor, yb: tf.Tensor, params: readonly Param[]): { loss: tf.Scalar; grads: tf.Tensor[] } {
  const { value, grads } = tf.variableGrads(() => softmaxCrossEntropy(model.forward(xb, TRAIN), yb), params.map((p) => p.variable));
  return { loss: value, grads: params.map((p) => grads[p.variable.name]!) };
}

export async function trainLatePhase(model: Model, data: Dataset, cfg: TrainConfig, hooks: TrainHooks = {}): Promise<TrainResult> {
  checkTrainConfig(cfg);
  checkDataset(data, 'training data');
  const late = cfg.t0 < cfg.epochs && latePhaseLayers(model).length > 0;
  if (cfg.t0 < cfg.epochs && !late) throw new ConfigError(`model '${model.name}' has no late-phase layers; set t0 >= epochs for plain training`);
  const n = exampleCount(data);
  const stepsPerEpoch = Math.ceil(n / cfg.batchSize);
  const rng = new Rng(cfg.seed);
  const shuffleRng = rng.fork();
  const releaseSeed = Math.floor(rng.next() * 2 ** 31);
  const gamma = resolveGammaTheta(cfg.gammaTheta, cfg.k);
  const checkEvery = cfg.lossCheckEvery ?? 25;

  const x = featureTensor(data);
  const y = oneHotLabels(data);
  const sharedOpt = new Sgd(cfg.shared);
  let memberOpts: Sgd[] = [];
  let accum: tf.Tensor[] | null = null;
  let cyclePos = 0;
  let sharedSteps = 0;
  let minibatches = 0;
  const memberSteps = new Array<number>(late ? cfg.k : 1).fill(0);
  const epochLoss: number[] = [];
  let lossSum: tf.Scalar = tf.scalar(0);
  let lossCount = 0;
  let recentLoss = Number.NaN;

  const stepShared = (lr: number): void => {
    if (!accum) return;
    sharedOpt.step(sharedParams(model), accum, lr, gamma);
    for (const g of accum) g.dispose();
    accum = null;
    sharedSteps++;
  };
  const readLoss = (epoch: number, step: number, member: number): number => {
    const mean = lossSum.dataSync()[0]! / Math.max(lossCount, 1);
    if (!Number.isFinite(mean)) {
      throw new TrainingError(`loss became ${mean} by epoch ${epoch + 1}, minibatch ${step + 1} (member ${member}); lower the learning rate or check the data for NaN/Inf`);
    }
    return mean;
  };

  try {
    for (let epoch = 0; epoch < cfg.epochs; epoch++) {
      const inLatePhase = late && epoch >= cfg.t0;
      if (late && epoch === cfg.t0) {
        hooks.onRelease?.(model);
        releaseMembers(model, cfg.k, cfg.sigma0, releaseSeed);
        memberOpts = Array.from({ length: cfg.k }, () => new Sgd(cfg.member));
        sharedOpt.retainOnly(sharedParams(model)); // the tied copy's buffers go with it
      }
      const lrShared = learningRate(cfg.shared.lr, cfg.schedule, epoch);
      const lrMember = learningRate(cfg.member.lr, cfg.schedule, epoch);
      const perm = shuffleRng.permutation(n);
      let epochSum = 0;
      let epochCount = 0;
      for (let step = 0; step < stepsPerEpoch; step++) {
        const member = inLatePhase ? cyclePos : 0;
        const batchLoss = tf.tidy(() => {
          const idx = tf.tensor1d(perm.subarray(step * cfg.batchSize, Math.min(n, (step + 1) * cfg.batchSize)), 'int32');
          const xb = tf.gather(x, idx);
          const yb = tf.gather(y, idx);
          if (!inLatePhase) {
            const params = [...sharedParams(model), ...memberParams(model, 0)];
            const { loss, grads } = lossAndGrads(model, xb, yb, params);
            sharedOpt.step(params, grads, lrShared);
            return loss;
          }
          selectMember(model, member);
          const shared = sharedParams(model);
          const own = memberParams(model, member);
          const { loss, grads } = lossAndGrads(model, xb, yb, [...shared, ...own]);
          memberOpts[member]!.step(own, grads.slice(shared.length), lrMember);
          const sharedGrads = grads.slice(0, shared.length);
          const next = accum ? sharedGrads.map((g, i) => tf.add(accum![i]!, g)) : sharedGrads;
          if (accum) for (const g of accum) g.dispose();
          accum = next.map((g) => tf.keep(g));
          return loss;
        });
        const nextSum = tf.add(lossSum, batchLoss) as tf.Scalar;
        lossSum.dispose();
        batchLoss.dispose();
        lossSum = nextSum;
        lossCount++;
        minibatches++;
        memberSteps[member]!++;
        if (inLatePhase && ++cyclePos === cfg.k) {
          stepShared(lrShared);
          cyclePos = 0;
        }
        if (lossCount >= checkEvery || step === stepsPerEpoch - 1) {
          recentLoss = readLoss(epoch, step, member);
          epochSum += recentLoss * lossCount;
          epochCount += lossCount;
          lossSum.dispose();
          lossSum = tf.scalar(0);
          lossCount = 0;
          await new Promise<void>((resolve) => setImmediate(resolve)); // let progress output and signals through
        }
        hooks.onStep?.({ epoch, epochs: cfg.epochs, step, stepsPerEpoch, phase: inLatePhase ? 'late' : 'plain', member, recentLoss });
      }
      epochLoss.push(epochSum / Math.max(epochCount, 1));
    }
    if (late) stepShared(learningRate(cfg.shared.lr, cfg.schedule, cfg.epochs - 1));
  } finally {
    if (accum) for (const g of accum as tf.Tensor[]) g.dispose();
    lossSum.dispose();
    x.dispose();
    y.dispose();
    sharedOpt.dispose();
    for (const o of memberOpts) o.dispose();
  }
  if (late) selectMember(model, 'average');
  return { minibatches, sharedSteps, memberSteps, released: late, epochLoss };
}
