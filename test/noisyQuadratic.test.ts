/**
 * The noisy quadratic problem: the closed forms give the notes' example values, and a seeded
 * simulation of Algorithm 1 (theta frozen inside the member loop, summed shared gradient, gammaTheta,
 * averaging) reproduces the stationary variances of the averaged model and of a single member
 * within 3%, for gammaTheta = 1 and 1/K.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectedLoss, nqpClosedForm, sgdClosedForm, simulateNqp } from '../src/analysis/noisyQuadratic';
import { ConfigError } from '../src/errors';
import { runCli } from './helpers';

const BASE = { h: 2, sigma: 1, etaPhi: 0.05, etaTheta: 0.05 };

test('closed forms: the example values of the notes (h = 2, sigma = 1, eta = 0.05, K = 10)', () => {
  assert.equal(sgdClosedForm(2, 1, 0.05).toFixed(4), '0.0526');
  const inv = nqpClosedForm({ ...BASE, k: 10, gammaTheta: 1 / 10 });
  assert.equal(inv.averaged.toFixed(4), '0.0111');
  assert.equal(inv.member.toFixed(4), '0.0585');
  assert.equal(nqpClosedForm({ ...BASE, k: 10, gammaTheta: 1 }).averaged.toFixed(4), '0.1222');
  assert.ok(expectedLoss(2, 1, inv.averaged) < expectedLoss(2, 1, sgdClosedForm(2, 1, 0.05)), 'with gammaTheta = 1/K the averaged model beats SGD');
  assert.throws(
    () => nqpClosedForm({ ...BASE, k: 50, gammaTheta: 1 }),
    (e: Error) => e instanceof ConfigError && /must be < 2/.test(e.message),
  );
});

for (const k of [4, 10]) {
  for (const [label, gammaTheta] of [
    ['1', 1],
    ['1/K', 1 / k],
  ] as const) {
    test(`simulated stationary variances match the closed forms within 3% (K = ${k}, gammaTheta = ${label})`, () => {
      const s = { ...BASE, k, gammaTheta };
      const closed = nqpClosedForm(s);
      const sim = simulateNqp(s, { iterations: 400_000, burnIn: 2000, seed: 11 + k });
      for (const which of ['averaged', 'member'] as const) {
        const rel = Math.abs(sim[which] - closed[which]) / closed[which];
        assert.ok(
          rel < 0.03,
          `${which}: simulated ${sim[which].toFixed(5)}, closed form ${closed[which].toFixed(5)} (${(100 * rel).toFixed(2)}% off)`,
        );
      }
    });
  }
}

test('latephase nqp prints the table: closed form beside simulation for each K and gammaTheta', () => {
  const r = runCli(['nqp', '--k', '1,10', '--iterations', '20000']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /plain SGD \(lr 0\.05\): Var 0\.0526/);
  assert.match(r.stdout, /\n {2}10 {2}1\/10 +0\.0111 \/ 0\.01\d\d/);
  assert.equal(r.stdout.split('\n').filter((l) => /^ {2}1 /.test(l)).length, 1, 'K = 1 has one row');
  assert.equal(runCli(['nqp', '--k', '0']).code, 2);
});
