/** Bad input gets a clear, typed error naming the problem; nothing the user had is lost. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { Model } from '../src/nn/model';
import { Sequential } from '../src/nn/sequential';
import { Dense } from '../src/nn/dense';
import { Conv2d } from '../src/nn/conv2d';
import { Residual } from '../src/nn/residual';
import { EVAL } from '../src/nn/layer';
import { Rng } from '../src/nn/rng';
import { mlp } from '../models/mlp';
import { trainLatePhase } from '../src/train/trainer';
import { DEFAULT_TRAIN_CONFIG } from '../job/runPlan';
import { releaseMembers, selectMember } from '../src/latephase/members';
import { accuracy } from '../src/eval/accuracy';
import { evaluateMembers } from '../src/eval/ensemble';
import { AtomicWriteIo, writeFileAtomic } from '../src/io/atomicWrite';
import { selectBackend, describeBackend } from '../src/backend/selectBackend';
import { ConfigError, ShapeError, TrainingError, WriteError } from '../src/errors';
import { DivergenceMonitor } from '../src/train/divergenceMonitor';
import { useBackend } from './helpers';

before(async () => {
  await useBackend('wasm');
});

test('shape mismatches name the layer at build time and the model at call time', () => {
  const rng = new Rng(1);
  assert.throws(
    () => new Model('m', new Sequential('s', [new Dense('fc1', 4, 3, { rng }), new Dense('fc2', 5, 2, { rng })]), [4]),
    (e: unknown) => e instanceof ShapeError && /layer 'fc2': expected 5 input/.test(e.message),
  );
  assert.throws(
    () => new Model('m', new Residual('block', new Conv2d('c', 2, 3, { kernelSize: 3, rng })), [4, 4, 2]),
    (e: unknown) => e instanceof ShapeError && /'block'.*projection shortcut/.test(e.message),
  );
  const model = new Model('m', new Sequential('s', [new Dense('fc', 4, 3, { rng })]), [4]);
  assert.throws(
    () => model.forward(tf.zeros([2, 5]), EVAL),
    (e: unknown) => e instanceof ShapeError && /model 'm': expected input \[batch, 4\], got \[2, 5\]/.test(e.message),
  );
  model.dispose();
});

test('a NaN loss stops training with a TrainingError naming where it happened', async () => {
  const model = mlp({ inputs: 3, hidden: [4], classes: 2, seed: 1 });
  const x = new Float32Array(24).fill(0.5);
  x[7] = Number.NaN;
  const data = { x, y: Int32Array.from({ length: 8 }, (_, i) => i % 2), featureShape: [3], classes: 2 };
  await assert.rejects(
    trainLatePhase(model, data, { ...DEFAULT_TRAIN_CONFIG, epochs: 2, t0: 1, k: 2, batchSize: 4 }),
    (e: unknown) =>
      e instanceof TrainingError &&
      /training diverged: the loss became non-finite \(NaN\/Inf\) at epoch 1, minibatch [12] \(member 0\)/.test(e.message),
  );
  model.dispose();
});

test('divergence the loss does not show (a running variance overflowing to Inf) stops training, naming the tensor', async () => {
  const model = mlp({ inputs: 3, hidden: [4], classes: 2, seed: 1 });
  // Squares of 1e25 overflow float32: the batch variance is Inf, so train-mode outputs normalise to
  // zero and the loss stays finite while the running variance becomes Inf.
  const x = Float32Array.from({ length: 24 }, (_, i) => (i % 2 ? 1e25 : -1e25));
  const data = { x, y: Int32Array.from({ length: 8 }, (_, i) => i % 2), featureShape: [3], classes: 2 };
  await assert.rejects(
    trainLatePhase(model, data, { ...DEFAULT_TRAIN_CONFIG, epochs: 2, t0: 1, k: 2, batchSize: 4, lossCheckEvery: 1 }),
    (e: unknown) =>
      e instanceof TrainingError &&
      /training diverged by epoch 1, minibatch 1 \(member 0\): tensor 'bn1\.running(Var|Mean)' holds NaN\/Inf/.test(e.message),
  );
  model.dispose();
});

test('evaluation refuses non-finite outputs with a TrainingError (not an export verdict)', () => {
  const model = mlp({ inputs: 3, hidden: [4], classes: 2, seed: 1 });
  releaseMembers(model, 2, 0, 1);
  const bias = model.params().find((p) => p.name === 'head.bias[0]')!.variable; // member 0 diverged
  bias.assign(tf.fill(bias.shape, Number.NaN));
  const data = { x: new Float32Array(12).fill(0.5), y: new Int32Array(4), featureShape: [3], classes: 2 };
  assert.throws(
    () => accuracy(model, data),
    (e: unknown) => e instanceof TrainingError && /outputs are not finite/.test(e.message),
  );
  assert.throws(
    () => evaluateMembers(model, data),
    (e: unknown) => e instanceof TrainingError && /member 0: outputs are not finite/.test(e.message),
  );
  model.dispose();
});

test('bad training configuration is a ConfigError naming the field', async () => {
  const model = mlp({ inputs: 3, hidden: [4], classes: 2, seed: 1 });
  const data = { x: new Float32Array(24), y: new Int32Array(8), featureShape: [3], classes: 2 };
  const bad: Array<[object, RegExp]> = [
    [{ epochs: 0 }, /epochs must be an integer >= 1/],
    [{ k: 1.5 }, /k must be an integer >= 1/],
    [{ shared: { ...DEFAULT_TRAIN_CONFIG.shared, lr: -1 } }, /shared.lr must be a positive number/],
    [{ member: { ...DEFAULT_TRAIN_CONFIG.member, momentum: 1.2 } }, /member.momentum must be in \[0, 1\)/],
    [{ schedule: { kind: 'annealing', start: 5, end: 2, endLr: 0 } }, /annealing needs 0 <= start < end/],
  ];
  for (const [override, message] of bad) {
    await assert.rejects(
      trainLatePhase(model, data, { ...DEFAULT_TRAIN_CONFIG, ...override }),
      (e: unknown) => e instanceof ConfigError && message.test(e.message),
    );
  }
  model.dispose();
});

test('late-phase misuse is reported: double release, unknown member, training on the average', () => {
  const model = mlp({ inputs: 3, hidden: [4], classes: 2, seed: 1 });
  releaseMembers(model, 2, 0, 1);
  assert.throws(() => releaseMembers(model, 2, 0, 1), /already released into 2 members/);
  assert.throws(() => selectMember(model, 5), /member 5 does not exist \(it has 2\)/);
  model.dispose();
});

test('atomic writes replace a file whole and leave no temporary files', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-atomic-'));
  const file = path.join(dir, 'artifact.json');
  writeFileAtomic(file, 'first');
  writeFileAtomic(file, new Uint8Array([1, 2, 3]));
  assert.deepEqual([...fs.readFileSync(file)], [1, 2, 3]);
  assert.deepEqual(fs.readdirSync(dir), ['artifact.json']);
  fs.rmSync(dir, { recursive: true });
});

test('a failed atomic write (ENOSPC, short writes, failed flush or rename) leaves the old file intact and no temporary file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-atomic-'));
  const file = path.join(dir, 'model.onnx');
  writeFileAtomic(file, 'old contents');
  const enospc = (): never => {
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  };
  const failing: Array<[string, Partial<AtomicWriteIo>]> = [
    [
      'no space after the first bytes',
      { writeSync: (fd, data, offset, length) => (offset === 0 ? fs.writeSync(fd, data, offset, Math.min(length, 4)) : enospc()) },
    ],
    ['a write that makes no progress', { writeSync: () => 0 }],
    ['a failed flush', { fsyncSync: enospc }],
    ['a failed rename', { renameSync: () => enospc() }],
  ];
  for (const [label, override] of failing) {
    assert.throws(
      () => writeFileAtomic(file, 'new contents that must not land', { ...fs, ...override } as AtomicWriteIo),
      (e: unknown) => e instanceof WriteError && /cannot write .*model\.onnx: (ENOSPC|short write)/.test(e.message),
      label,
    );
    assert.equal(fs.readFileSync(file, 'utf8'), 'old contents', label);
    assert.deepEqual(fs.readdirSync(dir), ['model.onnx'], label);
  }
  // Short writes that do progress are continued to the end.
  writeFileAtomic(file, 'written three bytes at a time', {
    ...fs,
    writeSync: (fd: number, data: Uint8Array, offset: number, length: number) => fs.writeSync(fd, data, offset, Math.min(length, 3)),
  } as AtomicWriteIo);
  assert.equal(fs.readFileSync(file, 'utf8'), 'written three bytes at a time');
  fs.rmSync(dir, { recursive: true });
});

test('the backend report says which backend runs and why better ones were skipped', async () => {
  const report = await selectBackend('wasm');
  assert.equal(report.choice, 'wasm');
  assert.equal(report.tfjsBackend, 'wasm');
  assert.ok(report.forced);
  assert.match(describeBackend(report), /^wasm \(WebAssembly/);
  const auto = await selectBackend('auto');
  assert.ok(!auto.forced);
  assert.equal(auto.attempts[auto.attempts.length - 1]!.ok, true);
  assert.equal(auto.attempts[0]!.choice, 'tensorflow-gpu');
  await assert.rejects(selectBackend('tpu'), (e: unknown) => e instanceof ConfigError && /unknown backend 'tpu'/.test(e.message));
});

test('the logged loss is a mean per example: a short last minibatch counts for the rows it holds', () => {
  const model = mlp({ inputs: 3, hidden: [4], classes: 2, seed: 1 });
  const monitor = new DivergenceMonitor(10, model);
  monitor.add(tf.scalar(1), { epoch: 0, step: 0, member: 0 }, 64);
  monitor.add(tf.scalar(4), { epoch: 0, step: 1, member: 0 }, 2); // the epoch's short tail
  const { mean, rows } = monitor.check();
  assert.equal(rows, 66);
  assert.ok(Math.abs(mean - (64 + 8) / 66) < 1e-6, `${mean}: not the per-minibatch mean 2.5`);
  monitor.dispose();
  model.dispose();
});
