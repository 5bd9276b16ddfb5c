/** Calibration and OOD metrics against independent (differently written) computations. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auroc, classMetrics, entropy } from '../src/eval/metrics';
import { Rng } from '../src/nn/rng';

/** Random probability rows (softmax of normals) and labels that agree with the argmax 70% of the time. */
function fixture(n: number, c: number, seed: number): { probs: Float32Array; labels: Int32Array } {
  const rng = new Rng(seed);
  const probs = new Float32Array(n * c);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: c }, () => 2 * rng.normal());
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    e.forEach((v, k) => (probs[i * c + k] = v / s));
    const arg = z.indexOf(m);
    labels[i] = rng.next() < 0.7 ? arg : Math.floor(rng.next() * c);
  }
  return { probs, labels };
}

test('accuracy, NLL, ECE (15 bins) and Brier match a direct computation', () => {
  const [n, c] = [500, 10];
  const { probs, labels } = fixture(n, c, 1);
  const rowsOf = Array.from({ length: n }, (_, i) => Array.from(probs.subarray(i * c, (i + 1) * c)));
  const conf = rowsOf.map((r) => Math.max(...r));
  const correct = rowsOf.map((r, i) => (r.indexOf(Math.max(...r)) === labels[i] ? 1 : 0));
  const acc = correct.reduce<number>((a, b) => a + b, 0) / n;
  const nll = -rowsOf.reduce((s, r, i) => s + Math.log(r[labels[i]!]!), 0) / n;
  const brier = rowsOf.reduce((s, r, i) => s + r.reduce((t, p, k) => t + (p - (k === labels[i] ? 1 : 0)) ** 2, 0), 0) / n;
  let ece = 0;
  for (let b = 0; b < 15; b++) {
    const inBin = conf.map((p, i) => [p, i] as const).filter(([p]) => (b === 14 ? p >= b / 15 : p >= b / 15 && p < (b + 1) / 15));
    if (!inBin.length) continue;
    const binAcc = inBin.reduce((s, [, i]) => s + correct[i]!, 0) / inBin.length;
    const binConf = inBin.reduce((s, [p]) => s + p, 0) / inBin.length;
    ece += (inBin.length / n) * Math.abs(binAcc - binConf);
  }
  const m = classMetrics(probs, labels);
  assert.ok(Math.abs(m.accuracy - acc) < 1e-12);
  assert.ok(Math.abs(m.nll - nll) < 1e-6, `nll ${m.nll} vs ${nll}`);
  assert.ok(Math.abs(m.brier - brier) < 1e-6, `brier ${m.brier} vs ${brier}`);
  assert.ok(Math.abs(m.ece - ece) < 1e-6, `ece ${m.ece} vs ${ece}`);
  // A perfectly confident, always right model: ECE 0, NLL 0, Brier 0.
  const sure = classMetrics(Float32Array.from([1, 0, 0, 1]), Int32Array.from([0, 1]));
  assert.deepEqual(sure, { accuracy: 1, nll: 0, ece: 0, brier: 0 });
});

test('AUROC equals the fraction of (OOD, in-distribution) pairs ranked right, ties half', () => {
  const rng = new Rng(2);
  const neg = Array.from({ length: 300 }, () => Math.round(rng.normal() * 4) / 4);
  const pos = Array.from({ length: 200 }, () => Math.round((rng.normal() + 0.8) * 4) / 4); // ties on purpose
  let wins = 0;
  for (const p of pos) for (const q of neg) wins += p > q ? 1 : p === q ? 0.5 : 0;
  assert.ok(Math.abs(auroc(neg, pos) - wins / (pos.length * neg.length)) < 1e-12);
  assert.equal(auroc([0, 1], [2, 3]), 1);
  assert.equal(auroc([2, 3], [0, 1]), 0);
  assert.equal(auroc([1, 1], [1, 1]), 0.5);
  assert.throws(() => auroc([], [1]), /non-empty/);
});

test('entropy: uniform rows give log C, one-hot rows 0', () => {
  const h = entropy(Float32Array.from([0.25, 0.25, 0.25, 0.25, 1, 0, 0, 0]), 4);
  assert.ok(Math.abs(h[0]! - Math.log(4)) < 1e-7);
  assert.equal(h[1], 0);
});
