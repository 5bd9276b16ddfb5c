/** Summaries over seeds (src/eval/intervals.ts): Student t intervals of the mean and paired differences. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clearOfZero, pairedDifference, summarize, tQuantile975 } from '../src/eval/intervals';

test('t quantiles: the table values, conservative between rows, 1.96 in the limit; bad degrees of freedom refused', () => {
  assert.equal(tQuantile975(1), 12.706);
  assert.equal(tQuantile975(2), 4.303);
  assert.equal(tQuantile975(11), 2.228, 'between 10 and 12: the wider 10');
  assert.equal(tQuantile975(5000), 1.96);
  assert.throws(() => tQuantile975(0), RangeError);
});

test('summaries: mean, sample std, the 95% interval (none for one value); paired differences by seed; clear of zero', () => {
  const s = summarize([1, 2, 3])!;
  assert.equal(s.mean, 2);
  assert.equal(s.std, 1);
  const half = (4.303 * 1) / Math.sqrt(3);
  assert.deepEqual(s.ci95, [2 - half, 2 + half]);
  assert.equal(summarize([5])!.ci95, null);
  assert.equal(summarize([]), null);
  const d = pairedDifference(
    new Map([
      [0, 0.9],
      [1, 0.8],
      [2, 0.85],
    ]),
    new Map([
      [0, 0.7],
      [1, 0.72],
      [3, 0.1],
    ]),
  )!;
  assert.equal(d.n, 2, 'only the seeds both have');
  assert.ok(Math.abs(d.mean - 0.14) < 1e-12);
  assert.equal(clearOfZero(d), false, 'two pairs: t(1) makes the interval wide');
  assert.equal(clearOfZero(summarize([0.2, 0.21, 0.19, 0.2])), true);
  assert.equal(clearOfZero(summarize([-0.1, 0.1, 0.05])), false);
  assert.equal(clearOfZero(null), false);
});
