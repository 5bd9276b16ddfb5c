/** Verification semantics: tolerances, NaN/Inf, execution-provider choice and hard failure. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { PlainWeight } from '../src/nn/weight';
import { compareArrays } from '../export/verify/compare';
import { ConfigError } from '../src/errors';
import { chooseProvider, cudaProviderInstalled, CUDA_INSTALL_COMMAND } from '../export/verify/executionProvider';
import { assertVerified, verifyExport } from '../export/verify/verify';
import { exportOnnx } from '../export/onnx/exportOnnx';
import { Model } from '../src/nn/model';
import { Sequential } from '../src/nn/sequential';
import { Dense } from '../src/nn/dense';
import { Rng } from '../src/nn/rng';
import { VerificationError } from '../src/errors';
import { useBackend } from './helpers';

before(async () => {
  await useBackend('wasm');
});

test('compareArrays applies |a - b| <= atol + rtol |b| and flags NaN/Inf', () => {
  const tol = { atol: 1e-4, rtol: 1e-3 };
  assert.ok(compareArrays([1.0005, 0], [1, 0.00005], tol).pass);
  const off = compareArrays([1.002, 0], [1, 0], tol);
  assert.ok(!off.pass);
  assert.equal(off.mismatched, 1);
  assert.ok(Math.abs(off.maxAbs - 0.002) < 1e-9);
  assert.ok(Math.abs(off.maxRel - 0.002) < 1e-9);
  const nan = compareArrays([Number.NaN, 1], [0, 1], tol);
  assert.ok(!nan.pass);
  assert.equal(nan.nonFinite, 1);
  assert.ok(!compareArrays([Infinity], [Infinity], tol).pass, 'Inf on both sides is still a failure');
  assert.ok(!compareArrays([1, 2], [1], tol).pass, 'length mismatch fails');
});

test(
  'asking for CUDA without its provider is a clear error, or an explicit, reported fallback',
  { skip: cudaProviderInstalled() ? 'CUDA provider installed here' : false },
  () => {
    assert.throws(
      () => chooseProvider('cuda', false),
      (e: unknown) => e instanceof ConfigError && e.message.includes(CUDA_INSTALL_COMMAND) && /--allow-cpu-fallback/.test(e.message),
    );
    const choice = chooseProvider('cuda', true);
    assert.equal(choice.requested, 'cuda');
    assert.equal(choice.used, 'cpu');
    assert.match(choice.fallbackReason ?? '', /not installed/);
  },
);

test('a mismatching export fails verification hard, naming the output', async () => {
  const model = new Model('m', new Sequential('m', [new Dense('fc', 3, 2, { rng: new Rng(1) })]), [3]);
  const exported = exportOnnx(model);
  // Change the tfjs weights after export: the ONNX file no longer matches the model.
  const fc = model.net.children()[0] as Dense;
  const kernel = (fc.kernel as PlainWeight).variable;
  kernel.assign(tf.add(kernel, 0.5));
  const rng = new Rng(2);
  const report = await verifyExport(model, exported, [{ label: 'seeded', values: rng.normalArray(12), rows: 4 }], {
    batchSizes: [4],
    optimizationLevels: ['disabled'],
  });
  assert.equal(report.pass, false);
  assert.ok(report.maxAbs > 0.01);
  assert.throws(
    () => assertVerified(report),
    (e: unknown) => e instanceof VerificationError && /logits on seeded \(batch 4, optimisation disabled\)/.test(e.message),
  );
  await assert.rejects(
    verifyExport(model, exported, [{ label: 'short', values: new Float32Array(5), rows: 2 }]),
    (e: unknown) => e instanceof VerificationError && /input set 'short': 5 values cannot hold 2 rows of shape \[3\]/.test(e.message),
  );
  model.dispose();
});
