/** Late-phase members: a step's gradients reach only the selected member (single layers' gradients: layers.test.ts). */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { TRAIN } from '../src/nn/layer';
import { LatePhaseBatchNorm } from '../src/latephase/kinds/batchNorm';
import { latePhaseHead } from '../src/latephase/kinds/head';
import { latePhaseUnits } from '../src/latephase/members';
import { Rng } from '../src/nn/rng';
import { checkGradients, seededTensor, useBackend } from './helpers';

before(async () => {
  await useBackend('wasm');
});

const rng = (): Rng => new Rng(7);

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
