/**
 * Rank-1, template-bank and full-layer late-phase kinds, each as a weight source of the plain
 * layers: gradients against finite differences, and each fold mode against the documented
 * averaged computation (within 1e-5).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { EVAL, Layer, TRAIN } from '../src/nn/layer';
import { Conv2d, conv2dForward } from '../src/nn/conv2d';
import { Dense, denseForward } from '../src/nn/dense';
import { Rng } from '../src/nn/rng';
import { PlainWeight } from '../src/nn/weight';
import { LayerFactory } from '../src/latephase/layerFactory';
import { LatePhaseChoice } from '../src/latephase/kindRegistry';
import { latePhaseUnits } from '../src/latephase/members';
import { foldMembers } from '../src/latephase/fold';
import { Model } from '../src/nn/model';
import { Rank1Weight } from '../src/latephase/kinds/rank1';
import { orthonormalVectors, TemplateWeight } from '../src/latephase/kinds/templates';
import { checkGradients, maxAbs, maxAbsDiff, seededTensor, useBackend } from './helpers';

before(async () => {
  await useBackend('wasm');
});

const IMAGE = [5, 5, 3];

function build(choice: LatePhaseChoice, make: (f: LayerFactory) => Layer): Layer {
  return make(new LayerFactory(choice, new Rng(3)));
}

function release(layer: Layer, k: number, sigma0: number, seed: number): void {
  const rng = new Rng(seed);
  for (const unit of latePhaseUnits(layer)) unit.replicate(k, sigma0, rng);
}

function select(layer: Layer, member: number | 'average'): void {
  for (const unit of latePhaseUnits(layer)) unit.select(member);
}

/** A folded copy of one layer (through a one-layer model, as foldMembers works on models). */
function foldLayer(layer: Layer, inputShape: number[], options: Record<string, string>): Model {
  return foldMembers(new Model('m', layer, inputShape), options);
}

const CASES: Array<[string, LatePhaseChoice, (f: LayerFactory) => Layer, number[]]> = [
  ['rank-1 dense', { rank1: true }, (f) => f.dense('r1d', 6, 4), [6]],
  ['rank-1 conv2d', { rank1: true }, (f) => f.conv('r1c', 3, 4, { kernelSize: 3 }), IMAGE],
  ['rank-1 conv2d strided, no bias', { rank1: true }, (f) => f.conv('r1c', 3, 4, { kernelSize: 3, stride: 2, bias: false }), IMAGE],
  ['template conv2d', { templates: 5 }, (f) => f.conv('tc', 3, 4, { kernelSize: 3 }), IMAGE],
  ['template dense', { templates: 4 }, (f) => f.dense('td', 6, 4), [6]],
  ['full conv2d', { full: ['fc'] }, (f) => f.conv('fc', 3, 4, { kernelSize: 3 }), IMAGE],
  ['head', { head: true }, (f) => f.head('h', 6, 4), [6]],
];

for (const [name, choice, make, shape] of CASES) {
  test(`${name}: gradients of input, shared and member tensors match finite differences`, () => {
    const layer = build(choice, make);
    release(layer, 3, 0.3, 5);
    select(layer, 2);
    const x = tf.variable(seededTensor([2, ...shape], 7));
    const r = seededTensor([2, ...layer.outputShape(shape)], 8);
    const own = latePhaseUnits(layer).flatMap((u) => [...u.sharedParams(), ...u.memberParams(2)]);
    const plain = layer
      .params()
      .filter((p) => !latePhaseUnits(layer).some((u) => [0, 1].some((k) => u.memberParams(k).some((q) => q.variable === p.variable))));
    const vars = [x, ...new Set([...own, ...plain].map((p) => p.variable))];
    const res = checkGradients(() => tf.sum(tf.mul(layer.forward(x, TRAIN), r)) as tf.Scalar, vars, 9, 1e-2);
    assert.ok(res.relErr < 2e-3, `${name}: analytic ${res.analytic} vs numeric ${res.numeric}`);
    tf.dispose([x, r]);
    layer.dispose();
  });

  test(`${name}: the exact fold equals the mean of member outputs`, () => {
    const layer = build(choice, make);
    release(layer, 4, 0.4, 6);
    const x = seededTensor([3, ...shape], 10);
    const outs = [0, 1, 2, 3].map((k) => {
      select(layer, k);
      return layer.forward(x, EVAL);
    });
    const averaged = tf.div(tf.addN(outs), 4);
    select(layer, 'average');
    assert.ok(maxAbsDiff(layer.forward(x, EVAL), averaged) / maxAbs(averaged) < 1e-5, `${name}: 'average' selection`);
    const folded = foldLayer(layer, shape, { rank1: 'product' });
    const err = maxAbsDiff(folded.forward(x, EVAL), averaged) / maxAbs(averaged);
    assert.ok(err < 1e-5, `${name}: relative error ${err}`);
    tf.dispose([x, averaged, ...outs]);
    folded.dispose();
    layer.dispose();
  });
}

test("rank-1 starts as its plain layer (factors are 1) and its default fold is the paper's parameter mean", () => {
  const layer = build({ rank1: true }, (f) => f.conv('r1', 3, 4, { kernelSize: 3 })) as Conv2d;
  const weight = layer.filter as Rank1Weight;
  const bias = (layer.bias as PlainWeight).variable;
  const x = seededTensor([2, ...IMAGE], 1);
  const plain = conv2dForward(x, weight.base.variable, bias, 1, 'same');
  assert.ok(maxAbsDiff(layer.forward(x, EVAL), plain) < 1e-5);
  release(layer, 3, 0.5, 2);
  const folded = foldLayer(layer, IMAGE, {});
  const meanS = weight.members.mean('s');
  const meanR = weight.members.mean('r');
  const want = tf.tidy(() => {
    const w = tf.mul(weight.base.variable, tf.mul(tf.reshape(meanS, [1, 1, 3, 1]), tf.reshape(meanR, [1, 1, 1, 4])));
    return conv2dForward(x, w, bias, 1, 'same');
  });
  const got = folded.forward(x, EVAL);
  assert.ok(maxAbsDiff(got, want) / maxAbs(want) < 1e-5);
  // With diverse members the two modes differ: the parameter mean is not the output mean.
  const product = foldLayer(layer, IMAGE, { rank1: 'product' });
  assert.ok(maxAbsDiff(product.forward(x, EVAL), got) > 1e-3);
  tf.dispose([x, plain, meanS, meanR, want, got]);
  [folded, product, layer].forEach((l) => l.dispose());
});

test('template fold is the weight generated from the averaged coefficients', () => {
  const layer = build({ templates: 3 }, (f) => f.dense('td', 4, 2)) as Dense;
  const weight = layer.kernel as TemplateWeight;
  release(layer, 5, 0.5, 4);
  const mean = weight.members.mean('coefficients');
  const x = seededTensor([3, 4], 2);
  const want = tf.tidy(() =>
    denseForward(
      x,
      tf.reshape(tf.matMul(tf.reshape(mean, [1, 3]), tf.reshape(weight.bank.templates.variable, [3, 8])), [4, 2]),
      (layer.bias as PlainWeight).variable,
    ),
  );
  const folded = foldLayer(layer, [4], {});
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
  const factory = new LayerFactory({ templates: 4 }, new Rng(3));
  const a = (factory.conv('a', 2, 2, { kernelSize: 3 }) as Conv2d).filter as TemplateWeight;
  const b = (factory.conv('b', 2, 2, { kernelSize: 3 }) as Conv2d).filter as TemplateWeight;
  const c = (factory.conv('c', 2, 3, { kernelSize: 3 }) as Conv2d).filter as TemplateWeight;
  assert.equal(a.bank, b.bank);
  assert.notEqual(a.bank, c.bank, 'another weight shape gets its own bank');
  assert.equal(a.sharedParams()[0]!.variable, b.sharedParams()[0]!.variable);
  const ca = Array.from(a.members.member(0).coefficients.dataSync());
  const cb = Array.from(b.members.member(0).coefficients.dataSync());
  assert.ok(Math.abs(ca.reduce((s, x, t) => s + x * cb[t]!, 0)) < 1e-6);
  [a, b, c].forEach((w) => w.dispose());
});

test('more layers than templates: every layer gets coefficients of its own (none start identical)', () => {
  const factory = new LayerFactory({ templates: 2 }, new Rng(3));
  const weights = ['l0', 'l1', 'l2', 'l3', 'l4'].map((n) => (factory.dense(n, 3, 3) as Dense).kernel as TemplateWeight);
  const coeffs = weights.map((w) => Array.from(w.members.member(0).coefficients.dataSync()));
  for (let i = 0; i < coeffs.length; i++)
    for (let j = i + 1; j < coeffs.length; j++)
      assert.ok(
        coeffs[i]!.some((v, t) => Math.abs(v - coeffs[j]![t]!) > 1e-3),
        `layers ${i} and ${j} start identical`,
      );
  assert.ok(Math.abs(coeffs[0]![0]! * coeffs[1]![0]! + coeffs[0]![1]! * coeffs[1]![1]!) < 1e-6, 'the first T are orthonormal');
  weights.forEach((w) => w.dispose());
});
