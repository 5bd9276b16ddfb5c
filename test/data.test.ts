/** Data sets, seeded randomness and schedules. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadMnist } from '../src/data/mnist';
import { checkDataset, splitDataset } from '../src/data/dataset';
import { Rng } from '../src/nn/rng';
import { learningRate } from '../src/train/schedule';
import { DataError } from '../src/errors';

test('the mnist package yields 10,000 real digits with pixels in [0, 1]', () => {
  const d = loadMnist();
  assert.equal(d.y.length, 10000);
  assert.equal(d.x.length, 10000 * 784);
  const counts = new Array<number>(10).fill(0);
  for (const label of d.y) counts[label]!++;
  assert.deepEqual(counts, [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
  let min = Infinity;
  let max = -Infinity;
  for (const v of d.x) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  assert.equal(min, 0);
  assert.equal(max, 1);
  checkDataset(d, 'mnist');
});

test('the split is fixed by its seed, disjoint and complete', () => {
  const d = loadMnist();
  const a = splitDataset(d, 8000, 2021);
  const b = splitDataset(d, 8000, 2021);
  assert.deepEqual(a.heldOut.y, b.heldOut.y);
  assert.equal(a.train.y.length, 8000);
  assert.equal(a.heldOut.y.length, 2000);
  const sum = (xs: Float32Array): number => xs.reduce((s, v) => s + v, 0);
  assert.ok(Math.abs(sum(a.train.x) + sum(a.heldOut.x) - sum(d.x)) < 1);
  assert.throws(() => splitDataset(d, 10000, 1), DataError);
});

test('malformed data sets are rejected with the reason', () => {
  assert.throws(
    () => checkDataset({ x: new Float32Array(5), y: new Int32Array(2), featureShape: [3], classes: 2 }, 'train'),
    /5 feature values for 2 examples/,
  );
  assert.throws(
    () => checkDataset({ x: new Float32Array(6), y: Int32Array.from([0, 7]), featureShape: [3], classes: 2 }, 'train'),
    /label 7 outside 0..1/,
  );
});

test('Rng is deterministic and roughly standard normal', () => {
  const a = new Rng(42).normalArray(20000);
  const b = new Rng(42).normalArray(20000);
  assert.deepEqual(a, b);
  const mean = a.reduce((s, v) => s + v, 0) / a.length;
  const variance = a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length;
  assert.ok(Math.abs(mean) < 0.03 && Math.abs(variance - 1) < 0.05, `mean ${mean}, var ${variance}`);
  const p = new Rng(1).permutation(50);
  assert.deepEqual(
    [...p].sort((x, y) => x - y),
    Array.from({ length: 50 }, (_, i) => i),
  );
});

test("schedules: constant, the authors' annealing (constant -> linear -> constant) and cosine", () => {
  assert.equal(learningRate(0.1, { kind: 'constant' }, 7, 200), 0.1);
  const annealing = { kind: 'annealing', start: 100, end: 180, endLr: 0.001 } as const;
  assert.equal(learningRate(0.1, annealing, 50, 200), 0.1);
  assert.equal(learningRate(0.1, annealing, 100, 200), 0.1);
  assert.ok(Math.abs(learningRate(0.1, annealing, 140, 200) - 0.0505) < 1e-12);
  assert.equal(learningRate(0.1, annealing, 190, 200), 0.001);
  const cosine = { kind: 'cosine', total: 10, minLr: 0.01 } as const;
  assert.equal(learningRate(0.1, cosine, 0, 200), 0.1);
  assert.ok(Math.abs(learningRate(0.1, cosine, 5, 200) - 0.055) < 1e-12);
  assert.ok(Math.abs(learningRate(0.1, cosine, 10, 200) - 0.01) < 1e-12);
  // Without a total the cosine spans the run's epochs (3 here: the README example's run anneals fully).
  const whole = { kind: 'cosine', minLr: 0.01 } as const;
  assert.ok(Math.abs(learningRate(0.1, whole, 3, 3) - 0.01) < 1e-12);
  assert.ok(Math.abs(learningRate(0.1, whole, 1.5, 3) - 0.055) < 1e-12);
});
