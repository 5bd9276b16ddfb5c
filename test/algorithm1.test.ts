/**
 * Algorithm 1 bookkeeping on a tiny MLP with late-phase BatchNorm + head. Full-batch minibatches
 * make every step see the same data, so the expected updates can be computed independently:
 * members start identical (sigma0 = 0), shared weights must not move inside a cycle and must move
 * once at its end by lr * (gammaTheta * sum_k g_k + wd * theta).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { mlp } from '../models/mlp';
import { Model } from '../src/nn/model';
import { TRAIN } from '../src/nn/layer';
import { Dataset } from '../src/data/dataset';
import { Rng } from '../src/nn/rng';
import { memberParams, sharedParams } from '../src/latephase/members';
import { trainLatePhase, TrainConfig, StepInfo } from '../src/train/trainer';
import { softmaxCrossEntropy } from '../src/nn/loss';
import { useBackend } from './helpers';

before(async () => {
  await useBackend('wasm');
});

const N = 8;
function tinyData(): Dataset {
  const rng = new Rng(3);
  return { x: rng.normalArray(N * 4), y: Int32Array.from({ length: N }, (_, i) => i % 3), featureShape: [4], classes: 3 };
}
const build = (): Model => mlp({ inputs: 4, hidden: [5], classes: 3, seed: 11 });

function snapshot(params: { variable: tf.Variable }[]): Float32Array[] {
  return params.map((p) => p.variable.dataSync().slice() as Float32Array);
}
function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((arr, i) => arr.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i]![j]!)))));
  return m;
}

/** Gradients of the full-batch loss at the model's initial state, in sharedParams then member-0 order. */
function initialGradients(data: Dataset): { shared: Float32Array[]; member: Float32Array[]; theta: Float32Array[]; phi: Float32Array[] } {
  const model = build();
  const shared = sharedParams(model);
  const member = memberParams(model, 0);
  const theta = snapshot(shared);
  const phi = snapshot(member);
  const x = tf.tensor(data.x, [N, 4]);
  const y = tf.oneHot(tf.tensor1d(data.y, 'int32'), 3);
  const { grads } = tf.variableGrads(
    () => softmaxCrossEntropy(model.forward(x, TRAIN), y),
    [...shared, ...member].map((p) => p.variable),
  );
  const read = (ps: typeof shared): Float32Array[] => ps.map((p) => grads[p.variable.name]!.dataSync().slice() as Float32Array);
  const out = { shared: read(shared), member: read(member), theta, phi };
  tf.dispose([x, y, ...Object.values(grads)]);
  model.dispose();
  return out;
}

function config(overrides: Partial<TrainConfig>): TrainConfig {
  return {
    epochs: 3,
    t0: 0,
    k: 3,
    sigma0: 0,
    gammaTheta: 1,
    batchSize: N,
    seed: 5,
    shared: { lr: 0.1, momentum: 0, nesterov: false, weightDecay: 0 },
    member: { lr: 0.05, momentum: 0, nesterov: false, weightDecay: 0 },
    schedule: { kind: 'constant' },
    lossCheckEvery: 1,
    ...overrides,
  };
}

for (const [label, gamma, wd] of [
  ['gammaTheta = 1', 1, 0],
  ['gammaTheta = 1/K with weight decay', '1/K', 0.01],
] as const) {
  test(`one cycle: shared weights frozen inside, one step of ${label} at the end; members step on their own minibatch`, async () => {
    const data = tinyData();
    const g = initialGradients(data);
    const model = build();
    const cfg = config({ gammaTheta: gamma, shared: { lr: 0.1, momentum: 0, nesterov: false, weightDecay: wd } });
    const sharedAfter: Float32Array[][] = [];
    const membersAfter: Float32Array[][][] = [];
    await trainLatePhase(model, data, cfg, {
      onStep: (_s: StepInfo) => {
        sharedAfter.push(snapshot(sharedParams(model)));
        membersAfter.push([0, 1, 2].map((k) => snapshot(memberParams(model, k))));
      },
    });
    // Inside the cycle (after members 0 and 1) the shared weights have not moved.
    assert.ok(maxDiff(sharedAfter[0]!, g.theta) === 0, 'shared weights moved after member 0');
    assert.ok(maxDiff(sharedAfter[1]!, g.theta) === 0, 'shared weights moved after member 1');
    // At the end of the cycle: theta - lr * (gamma * K * g + wd * theta) (decay only where the param has it).
    const gammaValue = gamma === '1/K' ? 1 / 3 : gamma;
    const params = sharedParams(model);
    const expected = g.theta.map((t, i) => t.map((v, j) => v - 0.1 * (gammaValue * 3 * g.shared[i]![j]! + (params[i]!.decay ? wd * v : 0))));
    assert.ok(maxDiff(sharedAfter[2]!, expected) < 1e-5, `shared step off by ${maxDiff(sharedAfter[2]!, expected)}`);
    // Member k moves at step k only, by -lr_member * g_phi (all members start equal and see the same batch).
    const moved = g.phi.map((p, i) => p.map((v, j) => v - 0.05 * g.member[i]![j]!));
    for (let step = 0; step < 3; step++) {
      for (let k = 0; k < 3; k++) {
        const want = k <= step ? moved : g.phi;
        assert.ok(maxDiff(membersAfter[step]![k]!, want) < 1e-5, `member ${k} after step ${step}: off by ${maxDiff(membersAfter[step]![k]!, want)}`);
      }
    }
    model.dispose();
  });
}

test('a cycle the run leaves partial steps with the mean over the members it had when gammaTheta = 1/K', async () => {
  // K = 3, 4 full-batch minibatches, members frozen (lr 1e-30: below float32 resolution): one full cycle, then a partial one of
  // member 0 alone, whose shared step must be 1 * g (the mean over one member), not 1/3 * g.
  const data = tinyData();
  const model = build();
  const after: Float32Array[][] = [];
  await trainLatePhase(model, data, config({ epochs: 4, gammaTheta: '1/K', member: { lr: 1e-30, momentum: 0, nesterov: false, weightDecay: 0 } }), {
    onStep: () => after.push(snapshot(sharedParams(model))),
  });
  const theta1 = after[2]!; // after the first full cycle
  const probe = build();
  sharedParams(probe).forEach((p, i) => p.variable.assign(tf.tensor(theta1[i]!, p.variable.shape)));
  const x = tf.tensor(data.x, [N, 4]);
  const y = tf.oneHot(tf.tensor1d(data.y, 'int32'), 3);
  const shared = sharedParams(probe);
  const { grads } = tf.variableGrads(
    () => softmaxCrossEntropy(probe.forward(x, TRAIN), y),
    shared.map((p) => p.variable),
  );
  const g1 = shared.map((p) => grads[p.variable.name]!.dataSync());
  const expected = theta1.map((t, i) => t.map((v, j) => v - 0.1 * g1[i]![j]!));
  const got = snapshot(sharedParams(model));
  assert.ok(maxDiff(got, expected) < 1e-5, `shared step off by ${maxDiff(got, expected)}`);
  tf.dispose([x, y, ...Object.values(grads)]);
  [model, probe].forEach((m) => m.dispose());
});

test('Nesterov momentum: the first step of every group is lr * (1 + momentum) * gradient', async () => {
  // PyTorch's SGD starts the buffer at the first gradient, so the first Nesterov update is (1 + m) g.
  const data = tinyData();
  const g = initialGradients(data);
  const model = build();
  const m = 0.9;
  await trainLatePhase(
    model,
    data,
    config({
      shared: { lr: 0.1, momentum: m, nesterov: true, weightDecay: 0 },
      member: { lr: 0.05, momentum: m, nesterov: true, weightDecay: 0 },
    }),
  );
  const theta = g.theta.map((t, i) => t.map((v, j) => v - 0.1 * (1 + m) * 3 * g.shared[i]![j]!));
  const phi = g.phi.map((p, i) => p.map((v, j) => v - 0.05 * (1 + m) * g.member[i]![j]!));
  assert.ok(maxDiff(snapshot(sharedParams(model)), theta) < 1e-5);
  for (let k = 0; k < 3; k++) assert.ok(maxDiff(snapshot(memberParams(model, k)), phi) < 1e-5, `member ${k}`);
  model.dispose();
});

test('training is deterministic for a seed, and counts minibatches per member', async () => {
  const data = tinyData();
  const runs = [];
  for (let r = 0; r < 2; r++) {
    const model = build();
    const result = await trainLatePhase(model, data, config({ epochs: 7, t0: 2, batchSize: 3, sigma0: 0.1 }));
    runs.push({ weights: snapshot(model.params()), result });
    model.dispose();
  }
  assert.equal(maxDiff(runs[0]!.weights, runs[1]!.weights), 0);
  const { result } = runs[0]!;
  // 3 minibatches per epoch (8 examples, batch 3); 5 late epochs = 15 late minibatches = 5 cycles.
  assert.equal(result.minibatches, 21);
  assert.deepEqual(result.memberSteps, [5 + 6, 5, 5]); // member 0 also counts the 6 plain-phase minibatches
  assert.equal(result.sharedSteps, 5);
});

test('tensor count stays flat over late-phase training steps', async () => {
  const data = tinyData();
  const model = build();
  const counts: number[] = [];
  await trainLatePhase(model, data, config({ epochs: 8, t0: 1, batchSize: 4, lossCheckEvery: 3 }), {
    onStep: (s) => {
      if (s.phase === 'late') counts.push(tf.memory().numTensors);
    },
  });
  // Counts at the same cycle position (after each completed cycle) must be equal.
  const atCycleEnd = counts.filter((_, i) => i % 3 === 2);
  assert.ok(atCycleEnd.length >= 3);
  assert.ok(
    atCycleEnd.every((c) => c === atCycleEnd[0]),
    `tensor counts drift: ${atCycleEnd.join(', ')}`,
  );
  model.dispose();
});
