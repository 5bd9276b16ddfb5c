/**
 * Rank-1, template-bank and full-layer late-phase kinds: gradients against finite differences,
 * and each fold mode against the documented averaged computation (within 1e-5).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { EVAL, TRAIN } from '../src/nn/layer';
import { conv2dForward } from '../src/nn/conv2d';
import { denseForward } from '../src/nn/dense';
import { Rng } from '../src/nn/rng';
import { Rank1Conv2d, Rank1Dense } from '../src/latephase/rank1';
import { TemplateBank, TemplateConv2d, TemplateDense, orthonormalVectors } from '../src/latephase/templateBank';
import { LatePhaseConv2d } from '../src/latephase/latePhaseConv2d';
import { MemberLayer } from '../src/latephase/memberLayer';
import { checkGradients, maxAbs, maxAbsDiff, seededTensor, useBackend } from './helpers';

before(async () => {
  await useBackend('wasm');
});

type Kind = MemberLayer<string>;
const rng = (): Rng => new Rng(3);
const IMAGE = [5, 5, 3];

function makeKinds(): Array<[string, () => Kind, number[]]> {
  return [
    ['rank-1 dense', () => new Rank1Dense('r1d', 6, 4, { rng: rng() }), [6]],
    ['rank-1 conv2d', () => new Rank1Conv2d('r1c', 3, 4, { kernelSize: 3, rng: rng() }), IMAGE],
    ['rank-1 conv2d strided, no bias', () => new Rank1Conv2d('r1c', 3, 4, { kernelSize: 3, stride: 2, bias: false, rng: rng() }), IMAGE],
    ['template conv2d', () => new TemplateConv2d('tc', 3, 4, new TemplateBank('bank', 5, [3, 3, 3, 4], 27, rng()), { kernelSize: 3 }), IMAGE],
    ['template dense', () => new TemplateDense('td', 6, 4, new TemplateBank('bank', 4, [6, 4], 6, rng())), [6]],
    ['full conv2d', () => new LatePhaseConv2d('fc', 3, 4, { kernelSize: 3, rng: rng() }), IMAGE],
  ];
}

for (const [name, make, shape] of makeKinds()) {
  test(`${name}: gradients of input, shared and member tensors match finite differences`, () => {
    const layer = make();
    layer.replicate(3, 0.3, new Rng(5));
    layer.select(2);
    const x = tf.variable(seededTensor([2, ...shape], 7));
    const r = seededTensor([2, ...layer.outputShape(shape)], 8);
    const vars = [x, ...[...layer.sharedParams(), ...layer.memberParams(2)].map((p) => p.variable)];
    const res = checkGradients(() => tf.sum(tf.mul(layer.forward(x, TRAIN), r)) as tf.Scalar, vars, 9, 1e-2);
    assert.ok(res.relErr < 2e-3, `${name}: analytic ${res.analytic} vs numeric ${res.numeric}`);
    tf.dispose([x, r]);
    layer.dispose();
  });

  test(`${name}: the exact fold equals the mean of member outputs`, () => {
    const layer = make();
    layer.replicate(4, 0.4, new Rng(6));
    const x = seededTensor([3, ...shape], 10);
    layer.select('average');
    const averaged = layer.forward(x, EVAL);
    const folded = layer.fold({ rank1: 'product' });
    const err = maxAbsDiff(folded.forward(x, EVAL), averaged) / maxAbs(averaged);
    assert.ok(err < 1e-5, `${name}: relative error ${err}`);
    tf.dispose([x, averaged]);
    folded.dispose();
    layer.dispose();
  });
}

test('rank-1 starts as its plain layer (factors are 1) and its default fold is the paper\'s parameter mean', () => {
  const layer = new Rank1Conv2d('r1', 3, 4, { kernelSize: 3, rng: rng() });
  const x = seededTensor([2, ...IMAGE], 1);
  const plain = conv2dForward(x, layer.weight.variable, layer.bias!.variable, 1, 'same');
  assert.ok(maxAbsDiff(layer.forward(x, EVAL), plain) < 1e-5);
  layer.replicate(3, 0.5, new Rng(2));
  const folded = layer.fold({});
  const meanS = layer.members.mean('s');
  const meanR = layer.members.mean('r');
  const want = tf.tidy(() => {
    const w = tf.mul(layer.weight.variable, tf.mul(tf.reshape(meanS, [1, 1, 3, 1]), tf.reshape(meanR, [1, 1, 1, 4])));
    return conv2dForward(x, w, layer.bias!.variable, 1, 'same');
  });
  const got = folded.forward(x, EVAL);
  assert.ok(maxAbsDiff(got, want) / maxAbs(want) < 1e-5);
  // With diverse members the two modes differ: the parameter mean is not the output mean.
  const product = layer.fold({ rank1: 'product' });
  assert.ok(maxAbsDiff(product.forward(x, EVAL), got) > 1e-3);
  tf.dispose([x, plain, meanS, meanR, want, got]);
  [folded, product, layer].forEach((l) => l.dispose());
});

test('template fold is the weight generated from the averaged coefficients', () => {
  const bank = new TemplateBank('bank', 3, [4, 2], 4, rng());
  const layer = new TemplateDense('td', 4, 2, bank);
  layer.replicate(5, 0.5, new Rng(4));
  const mean = layer.members.mean('coefficients');
  const x = seededTensor([3, 4], 2);
  const want = tf.tidy(() => denseForward(x as tf.Tensor2D, tf.reshape(tf.matMul(tf.reshape(mean, [1, 3]), tf.reshape(bank.templates.variable, [3, 8])), [4, 2]), layer.bias!.variable));
  const folded = layer.fold({});
  assert.ok(maxAbsDiff(folded.forward(x, EVAL), want) / maxAbs(want) < 1e-5);
  tf.dispose([mean, x, want]);
  folded.dispose();
  layer.dispose();
});

test('layers sharing a template bank start from orthonormal coefficients and share its templates', () => {
  const v = orthonormalVectors(4, 4, new Rng(1));
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 4; j++) {
      const dot = v[i]!.reduce((s, x, t) => s + x * v[j]![t]!, 0);
      assert.ok(Math.abs(dot - (i === j ? 1 : 0)) < 1e-6);
    }
  }
  const bank = new TemplateBank('bank', 4, [3, 3, 2, 2], 18, rng());
  const a = new TemplateConv2d('a', 2, 2, bank, { kernelSize: 3 });
  const b = new TemplateConv2d('b', 2, 2, bank, { kernelSize: 3 });
  assert.equal(a.sharedParams()[0]!.variable, b.sharedParams()[0]!.variable);
  const ca = Array.from(a.members.member(0).coefficients.dataSync());
  const cb = Array.from(b.members.member(0).coefficients.dataSync());
  assert.ok(Math.abs(ca.reduce((s, x, t) => s + x * cb[t]!, 0)) < 1e-6);
  assert.throws(() => new TemplateConv2d('c', 2, 3, bank, { kernelSize: 3 }), /holds \[3, 3, 2, 2\] weights, the layer needs \[3, 3, 2, 3\]/);
  a.dispose();
  b.dispose();
});
