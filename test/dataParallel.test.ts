/**
 * Data-parallel gradients over worker threads: the combined gradient is the full-minibatch gradient
 * (exactly, up to float summation order, on a model without BatchNorm); with BatchNorm it is the
 * row-weighted mean of the shards' gradients and running statistics, as documented; workers that
 * rebuild a different model or cannot build one are errors that name the problem.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { mlp, MlpOptions } from '../models/mlp';
import { Model } from '../src/nn/model';
import { NamedVariable } from '../src/nn/layer';
import { Dataset } from '../src/data/dataset';
import { Rng } from '../src/nn/rng';
import { buildFromRecipe, ModelRecipe, modelSignature } from '../src/nn/modelRecipe';
import { buildModel, zooRecipe } from '../models/index';
import { ConfigError } from '../src/errors';
import { trainLatePhase, TrainConfig } from '../src/train/trainer';
import { DEFAULT_TRAIN_CONFIG } from '../job/runPlan';
import { DataParallelGradients, shardSizes } from '../src/train/dataParallel';
import { LocalGradients } from '../src/train/gradients';
import { workerCount } from '../job/trainJob';
import { overridesFromFlags } from '../cli/runCommand';
import { MemberGroups, memberParams, releaseMembers, selectMember, sharedParams, stepState } from '../src/latephase/members';
import { useBackend } from './helpers';

before(async () => {
  await useBackend('wasm');
});

const N = 48;
function data(): Dataset {
  const rng = new Rng(5);
  return { x: rng.normalArray(N * 6), y: Int32Array.from({ length: N }, (_, i) => (i * 7) % 3), featureShape: [6], classes: 3 };
}

/** No BatchNorm (a linear softmax classifier with a late-phase head), so shards change nothing but summation order. */
const LINEAR: MlpOptions = { inputs: 6, hidden: [], classes: 3, seed: 4, latePhase: { batchNorm: false, head: true } };
/** Hidden Dense-BN-ReLU blocks with late-phase BatchNorm and head. */
const WITH_BN: MlpOptions = { inputs: 6, hidden: [8, 5], classes: 3, seed: 4 };

const recipe = (opts: MlpOptions): ModelRecipe => ({ module: require.resolve('../models/mlp'), exportName: 'mlp', args: [opts] });

const config = (over: Partial<TrainConfig>): TrainConfig => ({
  ...DEFAULT_TRAIN_CONFIG,
  epochs: 4,
  t0: 2,
  k: 3,
  batchSize: 16,
  schedule: { kind: 'constant' },
  lossCheckEvery: 5,
  ghostBatches: 2,
  ...over,
});

function values(vars: readonly NamedVariable[]): Float32Array[] {
  return vars.map((v) => v.variable.dataSync().slice() as Float32Array);
}
function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((arr, i) => arr.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i]![j]!)))));
  return m;
}
const allState = (m: Model): NamedVariable[] => m.net.state();

test('shard sizes: equal split, the first shard takes the remainder, never a shard under 8 rows', () => {
  assert.deepEqual(shardSizes(32, 2), [16, 16]);
  assert.deepEqual(shardSizes(17, 2), [9, 8]);
  assert.deepEqual(shardSizes(26, 3), [9, 9, 8]);
  assert.deepEqual(shardSizes(15, 2), [15]);
  assert.deepEqual(shardSizes(20, 4), [10, 10]);
  assert.deepEqual(shardSizes(64, 16), [8, 8, 8, 8, 8, 8, 8, 8]);
  assert.deepEqual(shardSizes(1, 2), [1]);
});

test('without BatchNorm, training with one worker equals training in one thread (both phases)', async () => {
  const finals: Float32Array[][] = [];
  for (const workers of [0, 1]) {
    const model = mlp(LINEAR);
    // 45 rows, batch 17: two batches split 9 + 8, the last (11 rows) stays in one shard
    await trainLatePhase(model, { ...data(), x: data().x.subarray(0, 45 * 6), y: data().y.subarray(0, 45) }, config({ batchSize: 17 }), {
      parallel: { workers, recipe: recipe(LINEAR) },
    });
    finals.push(values(model.params()));
    model.dispose();
  }
  const diff = maxDiff(finals[0]!, finals[1]!);
  assert.ok(diff < 1e-5, `one-worker training differs from one-thread training by ${diff}`);
});

test('with BatchNorm, gradients and running statistics are the row-weighted means of the shards', async () => {
  const d = data();
  const rows = Int32Array.from({ length: 19 }, (_, i) => (i * 5) % N); // 19 rows: shards of 10 and 9
  const model = mlp(WITH_BN);
  const params = model.params();
  const initialState = values(allState(model));

  // Reference: each shard in this thread from the same starting state.
  const local = new LocalGradients(d);
  const shards = [rows.subarray(0, 10), rows.subarray(10)];
  const expectedGrads: Float32Array[] = params.map((p) => new Float32Array(p.variable.size));
  const expectedState: Float32Array[] = initialState.map((s) => new Float32Array(s.length));
  let expectedLoss = 0;
  for (const shard of shards) {
    allState(model).forEach((s, i) => s.variable.assign(tf.tensor(initialState[i]!, s.variable.shape)));
    const weight = shard.length / rows.length;
    const { loss, grads } = local.computeNow(model, shard, params, 0);
    expectedLoss += loss.dataSync()[0]! * weight;
    grads.forEach((g, i) => g.dataSync().forEach((v, j) => (expectedGrads[i]![j]! += v * weight)));
    values(allState(model)).forEach((s, i) => s.forEach((v, j) => (expectedState[i]![j]! += v * weight)));
    tf.dispose([loss, ...grads]);
  }
  allState(model).forEach((s, i) => s.variable.assign(tf.tensor(initialState[i]!, s.variable.shape)));

  const pool = await DataParallelGradients.start(model, d, { workers: 1, recipe: recipe(WITH_BN) }, 2);
  try {
    const { loss, grads } = await pool.compute(model, { rows, params, member: 0, state: stepState(model, 0), epoch: 0 });
    assert.ok(Math.abs(loss.dataSync()[0]! - expectedLoss) < 1e-5);
    assert.ok(
      maxDiff(
        grads.map((g) => g.dataSync() as Float32Array),
        expectedGrads,
      ) < 1e-5,
    );
    assert.ok(maxDiff(values(allState(model)), expectedState) < 1e-6);
    // And the shards really differ from the full-batch statistics (else this test proves nothing).
    const { loss: fullLoss, grads: fullGrads } = local.computeNow(model, rows, params, 0);
    assert.ok(
      maxDiff(
        fullGrads.map((g) => g.dataSync() as Float32Array),
        expectedGrads,
      ) > 1e-4,
    );
    tf.dispose([loss, ...grads, fullLoss, ...fullGrads]);
  } finally {
    await pool.close();
    model.dispose();
  }
});

test('ghost batches fix the math: 0, 1 or 2 workers train the same weights and statistics (with BatchNorm)', async () => {
  for (const ghostBatches of [2, 3]) {
    const runs: Float32Array[][] = [];
    for (const workers of [0, 1, 2]) {
      const model = mlp(WITH_BN);
      await trainLatePhase(model, data(), config({ batchSize: 24, ghostBatches }), { parallel: { workers, recipe: recipe(WITH_BN) } });
      runs.push(values([...model.params(), ...allState(model)]));
      model.dispose();
    }
    for (const w of [1, 2]) {
      const diff = maxDiff(runs[w]!, runs[0]!);
      assert.ok(diff < 1e-6, `${ghostBatches} ghost batches: ${w} worker(s) differ from one thread by ${diff}`);
    }
  }
});

test('training with a worker is deterministic: two runs give identical weights', async () => {
  const runs: Float32Array[][] = [];
  for (let r = 0; r < 2; r++) {
    const model = mlp(WITH_BN);
    await trainLatePhase(model, data(), config({}), { parallel: { workers: 1, recipe: recipe(WITH_BN) } });
    runs.push(values([...model.params(), ...allState(model)]));
    model.dispose();
  }
  assert.equal(maxDiff(runs[0]!, runs[1]!), 0);
});

test('late-phase training with workers: members cycle, tensors stay flat, the loss falls', async () => {
  const model = mlp(WITH_BN);
  const counts: number[] = [];
  const result = await trainLatePhase(model, data(), config({ epochs: 8, t0: 2 }), {
    onStep: (s) => {
      if (s.phase === 'late') counts.push(tf.memory().numTensors);
    },
    parallel: { workers: 1, recipe: recipe(WITH_BN) },
  });
  assert.deepEqual(result.memberSteps, [6 + 6, 6, 6]);
  const atCycleEnd = counts.filter((_, i) => i % 3 === 2);
  assert.ok(
    atCycleEnd.every((c) => c === atCycleEnd[0]),
    `tensor counts drift: ${atCycleEnd.join(', ')}`,
  );
  assert.ok(result.epochLoss[7]! < result.epochLoss[0]!, `loss did not fall: ${result.epochLoss.join(', ')}`);
  model.dispose();
});

test('a worker whose recipe builds a different model is a ConfigError naming the tensor', async () => {
  const model = mlp(WITH_BN);
  await assert.rejects(
    trainLatePhase(model, data(), config({}), { parallel: { workers: 1, recipe: recipe({ ...WITH_BN, hidden: [8, 6] }) } }),
    (err: Error) => err instanceof ConfigError && /does not match the model being trained/.test(err.message) && /fc2/.test(err.message),
  );
  await assert.rejects(
    trainLatePhase(model, data(), config({}), {
      parallel: { workers: 1, recipe: { module: require.resolve('../models/mlp'), exportName: 'noSuchBuilder', args: [] } },
    }),
    (err: Error) => err instanceof ConfigError && /gradient worker 1: .*exports no function 'noSuchBuilder'/.test(err.message),
  );
  model.dispose();
});

test("stepState: the running statistics a step of member k may update, and no other member's", () => {
  const model = mlp(WITH_BN);
  assert.deepEqual(
    stepState(model, 0).map((s) => s.name),
    ['bn1.runningMean', 'bn1.runningVar', 'bn2.runningMean', 'bn2.runningVar'],
  );
  releaseMembers(model, 3, 0, 1);
  assert.deepEqual(
    stepState(model, 2).map((s) => s.name),
    ['bn1.runningMean[2]', 'bn1.runningVar[2]', 'bn2.runningMean[2]', 'bn2.runningVar[2]'],
  );
  model.dispose();
});

test('MemberGroups: the groups the walking functions give, per member, and a selection every unit follows', () => {
  const model = mlp(WITH_BN);
  releaseMembers(model, 3, 0.5, 1); // noise, so that members compute different outputs
  const groups = new MemberGroups(model);
  const names = (xs: readonly NamedVariable[]): string[] => xs.map((x) => x.name);
  assert.equal(groups.count, 3);
  assert.deepEqual(names(groups.shared), names(sharedParams(model)));
  const x = tf.tensor2d(data().x.slice(0, 12), [2, 6]);
  for (let k = 0; k < 3; k++) {
    assert.deepEqual(names(groups.memberParams(k)), names(memberParams(model, k)));
    assert.deepEqual(names(groups.stepState(k)), names(stepState(model, k)));
    selectMember(model, k);
    const expected = model.predict(x).arraySync();
    selectMember(model, (k + 1) % 3);
    groups.select(k);
    assert.deepEqual(model.predict(x).arraySync(), expected, `member ${k}`);
  }
  assert.throws(
    () => groups.memberParams(3),
    (err: Error) => err instanceof ConfigError && /member 3 does not exist: the model has 3/.test(err.message),
  );
  assert.throws(() => groups.select(-1), ConfigError);
  x.dispose();
  model.dispose();
});

test('a zoo recipe rebuilds the zoo model with the same tensors', () => {
  const opts = { seed: 3, latePhase: { batchNorm: true, head: true } };
  const [a, b] = [buildModel('mlp', opts), buildFromRecipe(zooRecipe('mlp', opts))];
  assert.deepEqual(modelSignature(b), modelSignature(a));
  assert.deepEqual(values(b.params()), values(a.params())); // same seed, same initial weights
  a.dispose();
  b.dispose();
});

test('--workers: auto follows the backend, counts are checked', () => {
  assert.equal(workerCount('auto', 'tensorflow'), 0);
  assert.equal(workerCount(2, 'wasm'), 2);
  assert.equal(workerCount(0, 'wasm'), 0);
  assert.deepEqual(overridesFromFlags({ workers: '2' }), ['workers=2']);
  assert.deepEqual(overridesFromFlags({ workers: 'auto' }), ['workers="auto"']);
  assert.throws(() => overridesFromFlags({ workers: 'two' }), ConfigError);
  assert.throws(() => overridesFromFlags({ workers: '-1' }), ConfigError);
});
