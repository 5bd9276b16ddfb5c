/** Folding K members into plain weights: exactness of each mode against the documented averaged computation. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { mnistCnn } from '../models/mnistCnn';
import { Model } from '../src/nn/model';
import { EVAL, TRAIN } from '../src/nn/layer';
import { BatchNorm, batchNormEval } from '../src/nn/batchNorm';
import { Dense } from '../src/nn/dense';
import { LatePhaseBatchNorm } from '../src/latephase/kinds/batchNorm';
import { latePhaseHead } from '../src/latephase/kinds/head';
import { FullWeight } from '../src/latephase/kinds/full';
import { PlainWeight } from '../src/nn/weight';
import { foldMembers, isPlain } from '../src/latephase/fold';
import { latePhaseUnits, releaseMembers, selectMember } from '../src/latephase/members';
import { Rng } from '../src/nn/rng';
import { maxAbs, maxAbsDiff, seededTensor, useBackend } from './helpers';

before(async () => {
  await useBackend('wasm');
});

/** A released CNN whose members differ in gamma/beta/head (sigma0 noise) and in running statistics. */
function divergedCnn(): Model {
  const model = mnistCnn({ seed: 3, widths: [4, 6] });
  releaseMembers(model, 3, 0.5, 9);
  for (let k = 0; k < 3; k++) {
    selectMember(model, k);
    for (let b = 0; b < 2 + k; b++) tf.tidy(() => model.forward(tf.mul(tf.add(seededTensor([16, 784], 20 * k + b), k), 0.5), TRAIN));
  }
  selectMember(model, 'average');
  return model;
}

test('exact fold reproduces the layerwise-averaged eval outputs within 1e-5', () => {
  const model = divergedCnn();
  const folded = foldMembers(model, { batchNorm: 'exact' });
  assert.ok(isPlain(folded));
  assert.ok(!isPlain(model), 'the source model keeps its members');
  const x = tf.clipByValue(seededTensor([10, 784], 77, 0.5), 0, 1);
  const want = model.predict(x);
  const got = folded.predict(x);
  const err = maxAbsDiff(got, want) / Math.max(maxAbs(want), 1);
  assert.ok(err < 1e-5, `relative error ${err}`);
  tf.dispose([x, want, got]);
  folded.dispose();
  model.dispose();
});

test('exact BatchNorm fold equals the mean of member BN outputs; parameter-mean fold equals BN of mean parameters', () => {
  const model = divergedCnn();
  const bn = latePhaseUnits(model).find((l): l is LatePhaseBatchNorm => l instanceof LatePhaseBatchNorm)!;
  const x = seededTensor([5, 7, 7, bn.channels], 4, 2);
  const exact = bn.fold({ batchNorm: 'exact' });
  const paramMean = bn.fold({ batchNorm: 'mean' });
  const reference = tf.tidy(() => {
    const outs = [0, 1, 2].map((k) => {
      const m = bn.members.member(k);
      return batchNormEval(x, m.gamma, m.beta, m.runningMean, m.runningVar, bn.config.epsilon);
    });
    return tf.div(tf.addN(outs), 3);
  });
  const meanReference = tf.tidy(() =>
    batchNormEval(
      x,
      bn.members.mean('gamma'),
      bn.members.mean('beta'),
      bn.members.mean('runningMean'),
      bn.members.mean('runningVar'),
      bn.config.epsilon,
    ),
  );
  const e1 = maxAbsDiff(exact.forward(x, EVAL), reference) / maxAbs(reference);
  const e2 = maxAbsDiff(paramMean.forward(x, EVAL), meanReference) / maxAbs(meanReference);
  assert.ok(e1 < 1e-5, `exact fold off by ${e1}`);
  assert.ok(e2 < 1e-5, `parameter-mean fold off by ${e2}`);
  // Members with different running statistics: the two rules genuinely differ.
  assert.ok(maxAbsDiff(reference, meanReference) > 1e-3, 'test members should have diverged statistics');
  assert.ok(exact instanceof BatchNorm && paramMean instanceof BatchNorm);
  tf.dispose([x, reference, meanReference]);
  exact.dispose();
  paramMean.dispose();
  model.dispose();
});

test('with shared running statistics both BatchNorm fold modes coincide', () => {
  const bn = new LatePhaseBatchNorm('bn', 3);
  bn.replicate(4, 0.4, new Rng(2)); // gamma/beta differ, running stats are the copied tied ones
  const x = seededTensor([6, 3], 8);
  const a = bn.fold({ batchNorm: 'exact' });
  const b = bn.fold({ batchNorm: 'mean' });
  assert.ok(maxAbsDiff(a.forward(x, EVAL), b.forward(x, EVAL)) < 1e-5);
  [a, b, bn].forEach((l) => l.dispose());
  x.dispose();
});

test('head fold is the weight average and equals the mean of member outputs', () => {
  const head = new Model('h', latePhaseHead('head', 6, 4, { rng: new Rng(1) }), [6]);
  releaseMembers(head, 5, 0.3, 3);
  const x = seededTensor([7, 6], 2);
  selectMember(head, 'average');
  const averaged = head.forward(x, EVAL);
  const folded = foldMembers(head);
  const dense = folded.net as Dense;
  assert.ok(dense instanceof Dense && dense.kernel instanceof PlainWeight);
  assert.ok(maxAbsDiff(folded.forward(x, EVAL), averaged) / maxAbs(averaged) < 1e-5);
  const meanW = ((head.net as Dense).kernel as FullWeight).members.mean('weight');
  assert.ok(maxAbsDiff((dense.kernel as PlainWeight).variable, meanW) < 1e-7);
  tf.dispose([x, averaged, meanW]);
  folded.dispose();
  head.dispose();
});

test('fold options are checked: unknown keys and values are ConfigErrors naming the allowed ones', () => {
  const model = divergedCnn();
  assert.throws(() => foldMembers(model, { batchnorm: 'exact' }), /fold option 'batchnorm' is unknown; known: .*batchNorm/);
  assert.throws(() => foldMembers(model, { batchNorm: 'median' }), /fold option batchNorm must be one of exact, mean, got 'median'/);
  model.dispose();
});
