/**
 * SWA combined with late-phase weights, checked against an independent computation on a tiny MLP
 * (fc1 -> late-phase BN -> ReLU -> fc2 -> late-phase BN -> ReLU -> late-phase head, K = 2):
 * - the weights after training are the equal average of the weights at each epoch end from
 *   swa.start on, each member's late-phase weights averaged on their own;
 * - every member's running statistics are the exact mean, over the training data's ghost batches,
 *   of the batch statistics its own averaged network produces, recomputed here by hand in float64.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mlp } from '../models/mlp';
import { Dataset } from '../src/data/dataset';
import { Rng } from '../src/nn/rng';
import { BN_EPSILON } from '../src/nn/batchNorm';
import { memberTensorName } from '../src/latephase/memberSet';
import { trainLatePhase, TrainConfig, checkTrainConfig } from '../src/train/trainer';
import { DEFAULT_TRAIN_CONFIG } from '../job/runPlan';
import { ConfigError } from '../src/errors';
import { useBackend } from './helpers';

before(async () => {
  await useBackend('wasm');
});

const N = 64;
const K = 2;
const data = (): Dataset => {
  const rng = new Rng(4);
  return { x: rng.normalArray(N * 4), y: Int32Array.from({ length: N }, (_, i) => (i * 7) % 3), featureShape: [4], classes: 3 };
};

const CONFIG: TrainConfig = {
  epochs: 5,
  t0: 1,
  k: K,
  sigma0: 0,
  gammaTheta: 1,
  batchSize: 16,
  ghostBatches: 2,
  seed: 3,
  shared: { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
  member: { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
  schedule: { kind: 'constant' },
  swa: { start: 2 },
};

type Weights = Map<string, Float64Array>;

/** y = x W for row-major x [rows, in] and W [in, out]. */
function matmul(x: Float64Array, rows: number, w: Float64Array, out: number): Float64Array {
  const inner = w.length / out;
  const y = new Float64Array(rows * out);
  for (let r = 0; r < rows; r++) for (let i = 0; i < inner; i++) for (let o = 0; o < out; o++) y[r * out + o]! += x[r * inner + i]! * w[i * out + o]!;
  return y;
}

/** Train-mode BatchNorm + ReLU on a shard; returns the output and the shard's mean and unbiased variance. */
function bnRelu(
  x: Float64Array,
  rows: number,
  gamma: Float64Array,
  beta: Float64Array,
): { y: Float64Array; mean: Float64Array; variance: Float64Array } {
  const c = gamma.length;
  const mean = new Float64Array(c);
  const biased = new Float64Array(c);
  for (let r = 0; r < rows; r++) for (let j = 0; j < c; j++) mean[j]! += x[r * c + j]! / rows;
  for (let r = 0; r < rows; r++) for (let j = 0; j < c; j++) biased[j]! += (x[r * c + j]! - mean[j]!) ** 2 / rows;
  const y = new Float64Array(rows * c);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < c; j++) y[r * c + j] = Math.max(0, (gamma[j]! * (x[r * c + j]! - mean[j]!)) / Math.sqrt(biased[j]! + BN_EPSILON) + beta[j]!);
  return { y, mean, variance: biased.map((v) => (v * rows) / (rows - 1)) };
}

test('SWA: equal average of the epoch-end weights from swa.start, members averaged separately; BatchNorm statistics recomputed per member exactly', async () => {
  const model = mlp({ inputs: 4, hidden: [6, 5], classes: 3, seed: 9 });
  const snapshots: Weights[] = [];
  const result = await trainLatePhase(model, data(), CONFIG, {
    onEpochEnd: (e) => {
      if (e.epoch >= CONFIG.swa!.start) snapshots.push(new Map(model.params().map((p) => [p.name, Float64Array.from(p.variable.dataSync())])));
    },
  });
  assert.equal(result.swaSnapshots, 3);
  assert.equal(snapshots.length, 3);

  // Weights: the plain mean of the snapshots, parameter by parameter (members included).
  const weights: Weights = new Map();
  let worst = 0;
  for (const p of model.params()) {
    const mean = snapshots[0]!.get(p.name)!.map((_, i) => snapshots.reduce((s, snap) => s + snap.get(p.name)![i]!, 0) / snapshots.length);
    weights.set(p.name, mean);
    p.variable.dataSync().forEach((v, i) => (worst = Math.max(worst, Math.abs(v - mean[i]!))));
  }
  assert.ok(worst < 1e-6, `SWA weights differ from the snapshot mean by ${worst}`);
  assert.ok(
    snapshots[0]!.get('fc1.weight')!.some((v, i) => v !== snapshots[2]!.get('fc1.weight')![i]),
    'the weights moved between snapshots',
  );

  // Running statistics: per member, the mean over the 8 ghost batches (4 minibatches of 16, 2 x 8 rows) of each shard's statistics.
  const x = Float64Array.from(data().x);
  const state = new Map(model.net.state().map((s) => [s.name, s.variable.dataSync()]));
  const w = (name: string): Float64Array => weights.get(name)!;
  let statWorst = 0;
  const memberBn: number[][] = [];
  for (let k = 0; k < K; k++) {
    const m = (name: string): string => memberTensorName(name, k, K);
    const sums = { m1: new Float64Array(6), v1: new Float64Array(6), m2: new Float64Array(5), v2: new Float64Array(5) };
    const shards = N / 8;
    for (let s = 0; s < shards; s++) {
      const rows = x.subarray(s * 8 * 4, (s + 1) * 8 * 4);
      const bn1 = bnRelu(matmul(rows, 8, w('fc1.weight'), 6), 8, w(m('bn1.gamma')), w(m('bn1.beta')));
      const bn2 = bnRelu(matmul(bn1.y, 8, w('fc2.weight'), 5), 8, w(m('bn2.gamma')), w(m('bn2.beta')));
      bn1.mean.forEach((v, j) => ((sums.m1[j]! += v / shards), (sums.v1[j]! += bn1.variance[j]! / shards)));
      bn2.mean.forEach((v, j) => ((sums.m2[j]! += v / shards), (sums.v2[j]! += bn2.variance[j]! / shards)));
    }
    const compare = (name: string, want: Float64Array): void => {
      const got = state.get(m(name))!;
      want.forEach((v, j) => (statWorst = Math.max(statWorst, Math.abs(got[j]! - v) / Math.max(1, Math.abs(v)))));
    };
    compare('bn1.runningMean', sums.m1);
    compare('bn1.runningVar', sums.v1);
    compare('bn2.runningMean', sums.m2);
    compare('bn2.runningVar', sums.v2);
    memberBn.push([...sums.m2]);
  }
  assert.ok(statWorst < 1e-5, `recomputed BatchNorm statistics differ from the independent ones by ${statWorst} (relative)`);
  assert.ok(
    memberBn[0]!.some((v, j) => Math.abs(v - memberBn[1]![j]!) > 1e-6),
    'the members (own BN1 weights) give bn2 different statistics',
  );
  model.dispose();
});

test('SWA config: start inside the run, and not before release when there is a late phase', () => {
  const base = { ...DEFAULT_TRAIN_CONFIG, epochs: 6, t0: 4 };
  assert.throws(
    () => checkTrainConfig({ ...base, swa: { start: 6 } }),
    (e: Error) => e instanceof ConfigError && /swa\.start must be an integer epoch in 0\.\.5/.test(e.message),
  );
  assert.throws(
    () => checkTrainConfig({ ...base, swa: { start: 2 } }),
    (e: Error) => e instanceof ConfigError && /swa\.start \(2\) must be >= t0 \(4\)/.test(e.message),
  );
  checkTrainConfig({ ...base, swa: { start: 4 } });
  checkTrainConfig({ ...base, t0: 6, swa: { start: 0 } }); // plain training with SWA: any epoch
});
