/**
 * A late-phase kind written from the README (the `gain` example, extracted from README.md) and
 * registered from its own module: nothing else changes, and the model factory, the trainer,
 * folding, the exporter and verification all work with it.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { Rng } from '../src/nn/rng';
import { Model } from '../src/nn/model';
import { LayerFactory } from '../src/latephase/layerFactory';
import { describeChoice, parseLatePhaseChoice } from '../src/latephase/kindRegistry';
import { foldMembers } from '../src/latephase/fold';
import { mnistCnn } from '../models/mnistCnn';
import { parameterCounts } from '../src/eval/parameterCounts';
import { trainLatePhase } from '../src/train/trainer';
import { DEFAULT_TRAIN_CONFIG } from '../job/runPlan';
import { exportOnnx } from '../export/onnx/exportOnnx';
import { verifyExport } from '../export/verify/verify';
import { readmeBlock, transpile, typeErrors } from './readmeExample';
import { checkLayer } from './checkLayer';
import { useBackend } from './helpers';

const ROOT = path.join(__dirname, '..', '..');

before(async () => {
  await useBackend('wasm');
  // Inside the repository, so that the block's `from 'latephase'` resolves to this package.
  const dir = fs.mkdtempSync(path.join(ROOT, 'dist', 'readme-kind-'));
  fs.writeFileSync(path.join(dir, 'gainKind.js'), transpile(readmeBlock('kind')));
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a module written at test time
  require(path.join(dir, 'gainKind.js'));
});

test('the README kind type-checks against the public API', () => {
  const dir = fs.mkdtempSync(path.join(ROOT, 'dist', 'readme-kind-ts-'));
  const errors = typeErrors(dir, { 'gainKind.ts': readmeBlock('kind') });
  fs.rmSync(dir, { recursive: true });
  assert.deepEqual(errors, []);
});

test('the registered kind is a choice like the built-in ones, with its checks', () => {
  assert.equal(describeChoice({ batchNorm: true, gain: true }), 'batchnorm+gain');
  assert.throws(() => parseLatePhaseChoice({ gain: 'yes' }), /late-phase\.gain must be true or false, got "yes"/);
  assert.throws(() => parseLatePhaseChoice({ gain: true, rank1: true }), /both reparametrise the same weights/);
});

test('gain conv and dense layers pass checkLayer (gradients and ONNX parity)', async () => {
  await checkLayer(() => new LayerFactory({ gain: true }, new Rng(1)).conv('gc', 3, 4, { kernelSize: 3 }), [5, 5, 3]);
  await checkLayer(() => new LayerFactory({ gain: true }, new Rng(2)).dense('gd', 6, 4), [6]);
});

test('a model with the new kind trains, folds, exports and matches onnxruntime', async () => {
  const model = mnistCnn({ widths: [3, 4], latePhase: { batchNorm: true, gain: true } });
  assert.deepEqual(Object.keys(parameterCounts(model, 3).perMemberByKind).sort(), ['batchnorm', 'gain']);
  const rng = new Rng(5);
  const data = { x: rng.normalArray(24 * 784), y: Int32Array.from({ length: 24 }, (_, i) => i % 10), featureShape: [784], classes: 10 };
  await trainLatePhase(model, data, { ...DEFAULT_TRAIN_CONFIG, epochs: 2, t0: 1, k: 3, batchSize: 4 });
  const folded = foldMembers(model);
  const report = await verifyExport(folded, exportOnnx(folded), [{ label: 'r', values: data.x.subarray(0, 5 * 784), rows: 5 }], {
    batchSizes: [1, 5],
  });
  assert.ok(report.pass, `max abs ${report.maxAbs}`);
  folded.dispose();
  model.dispose();
  const plain = new Model('p', new LayerFactory({}, new Rng(1)).dense('d', 2, 2), [2]);
  assert.equal(parameterCounts(plain, 3).perMember, 0);
  plain.dispose();
});
