/**
 * Exporter options: fp16 weight storage (exact binary16 rounding, clipped and flushed counts,
 * verified against the fp32 export on real digits with fp16 tolerances and argmax agreement) and
 * external data (a small threshold moves weights to a side file that onnxruntime, our safe reader
 * and `latephase verify` all load; the write refuses paths and links).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { mnistCnn } from '../models/mnistCnn';
import { Model } from '../src/nn/model';
import { TRAIN } from '../src/nn/layer';
import { foldMembers } from '../src/latephase/fold';
import { releaseMembers, selectMember } from '../src/latephase/members';
import { exportOnnx } from '../export/onnx/exportOnnx';
import { float16Bits, float16Value } from '../export/onnx/passes/fp16Weights';
import { checkWriteLocation, splitExternalData, writeModelFiles } from '../export/onnx/passes/externalData';
import { verifyPrecision } from '../export/verify/verifyPrecision';
import { readOnnxModel } from '../src/onnx/readOnnx';
import { verifyOnnxFile } from '../export/verify/verifyFile';
import { loadMnist } from '../src/data/mnist';
import { Rng } from '../src/nn/rng';
import { seededTensor, useBackend } from './helpers';

before(async () => {
  await useBackend('wasm');
});

function trainedCnn(): Model {
  const model = mnistCnn({ seed: 3, widths: [8, 12] });
  releaseMembers(model, 2, 0.3, 1);
  for (let k = 0; k < 2; k++) {
    selectMember(model, k);
    tf.tidy(() => model.forward(seededTensor([16, 784], k + 1), TRAIN));
  }
  const folded = foldMembers(model);
  model.dispose();
  return folded;
}

test('float16 bits: exact values, round to nearest even, clipping, subnormals and flushing', () => {
  const cases: Array<[number, number]> = [
    [1, 0x3c00],
    [-2, 0xc000],
    [0.1, 0x2e66],
    [65504, 0x7bff],
    [1e6, 0x7bff], // clipped
    [-1e6, 0xfbff],
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -26, 0x0000], // flushed
    [1 + 2 ** -11, 0x3c00], // halfway: ties to even (down)
    [1 + 3 * 2 ** -11, 0x3c02], // halfway: ties to even (up)
    [0, 0],
  ];
  for (const [v, bits] of cases) assert.equal(float16Bits(v), bits, `${v}`);
  assert.equal(float16Bits(Number.NaN) & 0x7c00, 0x7c00);
  const rng = new Rng(3);
  for (let i = 0; i < 2000; i++) {
    const v = (rng.next() - 0.5) * 10 ** Math.floor(rng.next() * 8 - 4);
    const back = float16Value(float16Bits(v));
    if (Math.abs(v) >= 2 ** -14) assert.ok(Math.abs(back - v) <= Math.abs(v) * 2 ** -11, `${v} -> ${back}`);
  }
});

test('fp16 weights: half the size, counts reported, verified against the fp32 export on real digits', async () => {
  const model = trainedCnn();
  tf.tidy(() =>
    model
      .params()[0]!
      .variable.assign(
        tf.add(model.params()[0]!.variable, tf.oneHot([0], model.params()[0]!.variable.size).reshape(model.params()[0]!.variable.shape).mul(1e5)),
      ),
  );
  const fp32 = exportOnnx(model, { foldBatchNorm: true });
  const fp16 = exportOnnx(model, { foldBatchNorm: true, weights: 'fp16' });
  assert.ok(fp16.bytes.length < 0.6 * fp32.bytes.length, `${fp16.bytes.length} vs ${fp32.bytes.length} bytes`);
  assert.ok(fp16.fp16!.tensors > 0);
  assert.equal(fp16.fp16!.clipped, 1, 'the 1e5 weight is clipped to 65504 and counted');
  assert.match(fp16.metadata['latephase.weights_precision']!, /fp16 storage, fp32 compute \(\d+ tensors; 1 values clipped/);
  // The clipped weight changes that model a lot: compare on a model without it for the tolerance check.
  model.dispose();
  const clean = trainedCnn();
  const digits = loadMnist();
  const set = { label: 'MNIST digits', values: digits.x.subarray(0, 512 * 784), rows: 512 };
  const report = await verifyPrecision(exportOnnx(clean, { weights: 'fp16' }), exportOnnx(clean), clean.inputShape, set);
  assert.ok(report.pass, JSON.stringify(report.outputs.map((o) => [o.output, o.maxAbs, o.argmaxAgreement])));
  assert.ok(
    report.outputs.every((o) => (o.argmaxAgreement ?? 1) >= 0.99 && o.maxAbs > 0),
    'fp16 changes the outputs a little, not the answers',
  );
  // A deliberately wrong candidate (other weights) fails the same check.
  const other = foldMembers(mnistCnn({ seed: 9, widths: [8, 12] }));
  const wrong = await verifyPrecision(exportOnnx(other), exportOnnx(clean), clean.inputShape, set);
  assert.equal(wrong.pass, false);
  other.dispose();
  clean.dispose();
});

test('external data: a small threshold moves weights to a side file that every reader loads; writes refuse paths and links', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-extdata-'));
  const model = trainedCnn();
  const exported = exportOnnx(model);
  const { model: bytes, external } = splitExternalData(exported.bytes, 256, 'model.onnx.data');
  assert.ok(external && external.tensors > 0 && bytes.length < exported.bytes.length / 2);
  writeModelFiles(dir, 'model.onnx', bytes, external);
  const read = readOnnxModel(path.join(dir, 'model.onnx'));
  assert.ok(read.externalBytes > 0 && read.externalBytes <= external.bytes.length, 'the safe reader loads the side file');
  const x = new ort.Tensor('float32', new Float32Array(3 * 784).fill(0.3), [3, 784]);
  const [fromFile, inline] = [await ort.InferenceSession.create(path.join(dir, 'model.onnx')), await ort.InferenceSession.create(exported.bytes)];
  const [a, b] = [await fromFile.run({ input: x }), await inline.run({ input: x })];
  assert.deepEqual(Array.from(a['logits']!.data as Float32Array), Array.from(b['logits']!.data as Float32Array), 'onnxruntime reads the side file');
  await fromFile.release();
  await inline.release();
  assert.ok((await verifyOnnxFile(path.join(dir, 'model.onnx'), { trials: 1 })).pass);
  for (const bad of ['../model.data', '/tmp/x.data', 'sub/x.data', '.hidden', 'a\0b'])
    assert.throws(() => checkWriteLocation(bad), /must be a plain file name/, bad);
  fs.symlinkSync('/tmp/elsewhere.data', path.join(dir, 'linked.data'));
  assert.throws(() => writeModelFiles(dir, 'model2.onnx', bytes, { ...external, location: 'linked.data' }), /is a symbolic link/);
  assert.ok(!fs.existsSync('/tmp/elsewhere.data'), 'nothing written through the link');
  model.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});
