/** The README's API example, run as written (on a small subset, through the package's public entry). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  selectBackend, Model, Sequential, Conv2d, ReLU, MaxPool, Flatten, Rng,
  LatePhaseBatchNorm, LatePhaseDense, trainLatePhase, DEFAULT_TRAIN_CONFIG, foldMembers,
  exportOnnx, verifyExport, assertVerified, writeBundle, loadMnist, splitDataset, ImageReshape, subset, isPlain,
} from '../src/index';

test('README API example: build, train, fold, export, verify, bundle', async () => {
  await selectBackend('wasm');
  const rng = new Rng(0);
  const net = new Sequential('net', [
    new ImageReshape('img', 28, 28, 1),
    new Conv2d('conv', 1, 8, { kernelSize: 3, bias: false, rng }),
    new LatePhaseBatchNorm('bn', 8),
    new ReLU('relu'),
    new MaxPool('pool', 2),
    new Flatten('flat'),
    new LatePhaseDense('head', 14 * 14 * 8, 10, { rng }),
  ]);
  const model = new Model('tiny', net, [784]);
  const split = splitDataset(loadMnist(), 8000, 2021);
  const train = subset(split.train, Array.from({ length: 640 }, (_, i) => i));
  await trainLatePhase(model, train, { ...DEFAULT_TRAIN_CONFIG, epochs: 3, t0: 2, k: 4 });
  const plain = foldMembers(model, { batchNorm: 'exact' });
  assert.ok(isPlain(plain));
  const exported = exportOnnx(plain, { provenance: { K: 4 } });
  const rows = 32;
  const report = await verifyExport(plain, exported, [{ label: 'held-out', values: split.heldOut.x.subarray(0, rows * 784), rows }]);
  assertVerified(report);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-readme-'));
  writeBundle(out, plain, exported, report);
  assert.deepEqual(fs.readdirSync(out).sort(), ['manifest.json', 'model.onnx', 'verification.json']);
  fs.rmSync(out, { recursive: true });
  plain.dispose();
  model.dispose();
});
