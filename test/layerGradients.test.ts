/** Every layer's gradients (inputs and parameters) against finite differences, on the wasm backend. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Layer, TRAIN } from '../src/nn/layer';
import { Dense } from '../src/nn/dense';
import { Conv2d } from '../src/nn/conv2d';
import { BatchNorm } from '../src/nn/batchNorm';
import { ReLU } from '../src/nn/activation';
import { AvgPool, GlobalAvgPool, MaxPool } from '../src/nn/pooling';
import { Flatten, ImageReshape } from '../src/nn/reshape';
import { Standardize } from '../src/nn/standardize';
import { Residual } from '../src/nn/residual';
import { Sequential } from '../src/nn/sequential';
import { LatePhaseBatchNorm } from '../src/latephase/kinds/batchNorm';
import { latePhaseHead } from '../src/latephase/kinds/head';
import { latePhaseUnits } from '../src/latephase/members';
import { Rng } from '../src/nn/rng';
import { checkGradients, seededTensor, useBackend } from './helpers';

before(async () => {
  await useBackend('wasm');
});

/** Piecewise-linear layers need a tiny step so that no input crosses a kink; smooth ones a larger one for float32. */
function gradCheck(layer: Layer, inputShape: number[], seed: number, piecewise: boolean): void {
  const [eps, tol] = piecewise ? [1e-4, 1e-2] : [1e-2, 2e-3];
  const x = tf.variable(seededTensor([3, ...inputShape], seed));
  const r = seededTensor([3, ...layer.outputShape(inputShape)], seed + 1);
  const vars = [x, ...layer.params().map((p) => p.variable)];
  const f = (): tf.Scalar => tf.sum(tf.mul(layer.forward(x, TRAIN), r)) as tf.Scalar;
  const res = checkGradients(f, vars, seed + 2, eps);
  assert.ok(res.relErr < tol, `${layer.kind} '${layer.name}': analytic ${res.analytic} vs numeric ${res.numeric} (rel ${res.relErr})`);
  tf.dispose([x, r]);
}

const rng = (): Rng => new Rng(7);

const CASES: Array<[string, () => Layer, number[]]> = [
  ['dense', () => new Dense('fc', 5, 4, { rng: rng() }), [5]],
  ['dense without bias', () => new Dense('fc', 5, 4, { rng: rng(), bias: false }), [5]],
  ['conv2d same', () => new Conv2d('conv', 2, 3, { kernelSize: 3, rng: rng() }), [6, 6, 2]],
  ['conv2d valid stride 2', () => new Conv2d('conv', 2, 3, { kernelSize: 3, stride: 2, padding: 'valid', rng: rng() }), [7, 7, 2]],
  ['batchnorm 4d (train mode)', () => new BatchNorm('bn', 3), [4, 4, 3]],
  ['batchnorm 2d (train mode)', () => new BatchNorm('bn', 4), [4]],
  ['relu', () => new ReLU('relu'), [4, 4, 2]],
  ['maxpool', () => new MaxPool('pool', 2), [6, 6, 2]],
  ['maxpool same stride 1', () => new MaxPool('pool', 3, 1, 'same'), [5, 5, 2]],
  ['avgpool same', () => new AvgPool('pool', 3, 2, 'same'), [5, 5, 2]],
  ['globalavgpool', () => new GlobalAvgPool('gap'), [4, 4, 3]],
  ['flatten', () => new Flatten('flat'), [3, 3, 2]],
  ['imagereshape', () => new ImageReshape('img', 3, 2, 2), [12]],
  ['standardize', () => new Standardize('norm', 0.5, 0.25), [6]],
  [
    'residual with projection',
    () => new Residual('block', new Sequential('main', [new Conv2d('c1', 2, 3, { kernelSize: 3, rng: rng() }), new ReLU('r')]), new Conv2d('proj', 2, 3, { kernelSize: 1, rng: rng() })),
    [5, 5, 2],
  ],
  ['residual identity', () => new Residual('block', new Conv2d('c1', 2, 2, { kernelSize: 3, rng: rng() })), [5, 5, 2]],
];

for (const [i, [name, make, shape]] of CASES.entries()) {
  test(`gradient of ${name} matches finite differences`, () => {
    const layer = make();
    gradCheck(layer, shape, 100 + 10 * i, name.startsWith('max') || name === 'relu' || name.startsWith('residual'));
    layer.dispose();
  });
}

test('late-phase BatchNorm and head: gradients reach only the selected member', () => {
  const bn = new LatePhaseBatchNorm('lpbn', 3);
  const head = latePhaseHead('lphead', 4, 2, { rng: rng() });
  for (const layer of [bn, head]) {
    const unitsOf = latePhaseUnits(layer);
    unitsOf.forEach((u) => u.replicate(3, 0.3, new Rng(1)));
    unitsOf.forEach((u) => u.select(1));
    const shape = layer === bn ? [4, 4, 3] : [4];
    const x = seededTensor([3, ...shape], 5);
    const r = seededTensor([3, ...layer.outputShape(shape)], 6);
    const all = layer.params().map((p) => p.variable);
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.forward(x, TRAIN), r)) as tf.Scalar, all);
    for (let k = 0; k < 3; k++) {
      for (const p of unitsOf.flatMap((u) => u.memberParams(k))) {
        const g = grads[p.variable.name];
        const norm = g ? tf.tidy(() => tf.sum(tf.abs(g)).dataSync()[0]!) : 0; // null: no path to the loss
        if (k === 1) assert.ok(norm > 0, `${p.name} should get a gradient`);
        else assert.equal(norm, 0, `${p.name} must not get a gradient`);
      }
    }
    const selected = unitsOf.flatMap((u) => u.memberParams(1)).map((p) => p.variable);
    const res = checkGradients(() => tf.sum(tf.mul(layer.forward(x, TRAIN), r)) as tf.Scalar, selected, 9, 1e-2);
    assert.ok(res.relErr < 2e-3, `${layer.name}: ${res.analytic} vs ${res.numeric}`);
    tf.dispose([x, r, ...Object.values(grads).filter((g): g is tf.Tensor => g !== null)]);
    layer.dispose();
  }
});
