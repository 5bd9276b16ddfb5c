/**
 * Embedding, LSTM and rank-1 LSTM: gradients against finite differences, ONNX parity (Gather and
 * the LSTM op), fold rules; the character-level language model on a generated text file.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { EVAL, TRAIN } from '../src/nn/layer';
import { Embedding } from '../src/nn/embedding';
import { LSTM, lstmForward } from '../src/nn/lstm';
import { Model } from '../src/nn/model';
import { Sequential } from '../src/nn/sequential';
import { Dense } from '../src/nn/dense';
import { Rng } from '../src/nn/rng';
import { rank1Mask, Rank1Weight } from '../src/latephase/kinds/rank1';
import { FullWeight } from '../src/latephase/kinds/full';
import { LayerFactory } from '../src/latephase/layerFactory';
import { latePhaseUnits, releaseMembers, selectMember } from '../src/latephase/members';
import { PlainWeight } from '../src/nn/weight';
import { charLstm } from '../models/charLstm';
import { readTextCorpus, sequenceDataset } from '../src/data/text';
import { trainLatePhase } from '../src/train/trainer';
import { DEFAULT_TRAIN_CONFIG } from '../job/runPlan';
import { foldMembers } from '../src/latephase/fold';
import { bitsPerCharacter } from '../src/eval/crossEntropy';
import { exportOnnx } from '../export/onnx/exportOnnx';
import { verifyExport } from '../export/verify/verify';
import { DataError } from '../src/errors';
import { checkGradients, maxAbs, maxAbsDiff, seededTensor, useBackend } from './helpers';

before(async () => {
  await useBackend('wasm');
});

const ids = (rows: number, steps: number, vocab: number, seed: number): tf.Tensor => {
  const rng = new Rng(seed);
  return tf.tensor(
    Float32Array.from({ length: rows * steps }, () => Math.floor(rng.next() * vocab)),
    [rows, steps],
  );
};

test('LSTM and rank-1 LSTM gradients match finite differences', () => {
  const plain = new LSTM('lstm', 3, 4, { rng: new Rng(1) });
  const rank1 = new Model('r1', new LayerFactory({ rank1: true }, new Rng(2)).lstm('r1', 3, 4), [5, 3]);
  releaseMembers(rank1, 2, 0.3, 3);
  selectMember(rank1, 1);
  for (const layer of [plain, rank1.net]) {
    const x = tf.variable(seededTensor([2, 5, 3], 4));
    const r = seededTensor([2, 5, 4], 5);
    const own = latePhaseUnits(layer).flatMap((u) => [...u.sharedParams(), ...u.memberParams(1)]);
    const vars = [x, ...(own.length ? [...own, (layer as LSTM).bias.params()[0]!] : layer.params()).map((p) => p.variable)];
    const res = checkGradients(() => tf.sum(tf.mul(layer.forward(x, TRAIN), r)) as tf.Scalar, vars, 6, 1e-2);
    assert.ok(res.relErr < 5e-3, `${layer.kind}: analytic ${res.analytic} vs numeric ${res.numeric}`);
    tf.dispose([x, r]);
    layer.dispose();
  }
});

test('embedding gradient matches finite differences', () => {
  const layer = new Embedding('emb', 7, 3, { rng: new Rng(1) });
  const x = ids(2, 6, 7, 2);
  const r = seededTensor([2, 6, 3], 3);
  const res = checkGradients(() => tf.sum(tf.mul(layer.forward(x, TRAIN), r)) as tf.Scalar, [(layer.table as PlainWeight).variable], 4, 1e-2);
  assert.ok(res.relErr < 2e-3, `analytic ${res.analytic} vs numeric ${res.numeric}`);
  tf.dispose([x, r]);
  layer.dispose();
});

test('rank-1 LSTM folds follow the documented weight rules', () => {
  const model = new Model('r1', new LayerFactory({ rank1: true }, new Rng(2)).lstm('r1', 3, 4), [5, 3]);
  releaseMembers(model, 3, 0.5, 3);
  const layer = model.net as LSTM;
  const input = layer.input as Rank1Weight;
  const recurrent = layer.recurrent as Rank1Weight;
  const x = seededTensor([2, 5, 3], 4);
  for (const mode of ['mean', 'product'] as const) {
    const folded = foldMembers(model, { rank1: mode });
    const masked = (w: Rank1Weight): tf.Tensor =>
      tf.mul(
        w.base.variable,
        mode === 'mean'
          ? rank1Mask(w.members.mean('s'), w.members.mean('r'))
          : tf.div(tf.addN([0, 1, 2].map((k) => rank1Mask(w.members.member(k).s, w.members.member(k).r))), 3),
      );
    const want = tf.tidy(() => lstmForward(x, { input: masked(input), recurrent: masked(recurrent), bias: (layer.bias as PlainWeight).variable }, 4));
    assert.ok(maxAbsDiff(folded.forward(x, EVAL), want) / maxAbs(want) < 1e-5, mode);
    want.dispose();
    folded.dispose();
  }
  x.dispose();
  model.dispose();
});

test('a fully late-phase LSTM (by name) folds to the member-mean weights and exports', async () => {
  const model = charLstm({ vocab: 9, seqLen: 5, embed: 4, hidden: 6, latePhase: { batchNorm: false, head: true, full: ['lstm'] } });
  releaseMembers(model, 3, 0.3, 2);
  const lstm = model.layers().find((l): l is LSTM => l instanceof LSTM)!;
  const folded = foldMembers(model);
  const plain = folded.layers().find((l): l is LSTM => l instanceof LSTM)!;
  const mean = (lstm.recurrent as FullWeight).members.mean('recurrent');
  assert.ok(maxAbsDiff((plain.recurrent as PlainWeight).variable, mean) < 1e-7);
  const report = await verifyExport(folded, exportOnnx(folded), [{ label: 'ids', values: ids(2, 5, 9, 1).dataSync() as Float32Array, rows: 2 }], {
    batchSizes: [2],
  });
  assert.ok(report.pass);
  mean.dispose();
  folded.dispose();
  model.dispose();
});

test('ONNX parity: embedding (Gather) -> LSTM op -> per-step dense (MatMul)', async () => {
  const net = new Sequential('seq', [
    new Embedding('emb', 11, 5, { rng: new Rng(1) }),
    new LSTM('lstm', 5, 6, { rng: new Rng(2) }),
    new Dense('out', 6, 11, { rng: new Rng(3) }),
  ]);
  const model = new Model('seq', net, [7]);
  const exported = exportOnnx(model);
  const values = ids(4, 7, 11, 9).dataSync() as Float32Array;
  const report = await verifyExport(model, exported, [{ label: 'ids', values, rows: 4 }], { batchSizes: [1, 4] });
  assert.ok(report.pass, `max abs ${report.maxAbs}, max rel ${report.maxRel}`);
  assert.deepEqual(
    exported.outputs.map((o) => [o.name, o.dims]),
    [
      ['logits', ['N', 7, 11]],
      ['probabilities', ['N', 7, 11]],
    ],
  );
  model.dispose();
});

test('character LSTM with rank-1 late-phase weights: learns a text file, folds, exports, matches onnxruntime', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-text-'));
  const file = path.join(dir, 'corpus.txt');
  fs.writeFileSync(file, 'the quick brown fox jumps over the lazy dog. '.repeat(40));
  const corpus = readTextCorpus(file);
  assert.equal(corpus.vocab.length, 28);
  const data = sequenceDataset(corpus, 16, 8);
  const model = charLstm({ vocab: corpus.vocab.length, seqLen: 16, embed: 8, hidden: 24, seed: 1, labels: corpus.vocab });
  const before = bitsPerCharacter(model, data);
  await trainLatePhase(model, data, {
    ...DEFAULT_TRAIN_CONFIG,
    epochs: 4,
    t0: 2,
    k: 3,
    batchSize: 16,
    shared: { ...DEFAULT_TRAIN_CONFIG.shared, lr: 0.5 },
    member: { ...DEFAULT_TRAIN_CONFIG.member, lr: 0.5 },
    schedule: { kind: 'constant' },
  });
  const folded = foldMembers(model);
  const after = bitsPerCharacter(folded, data);
  assert.ok(after < before - 1, `bits per character ${before.toFixed(3)} -> ${after.toFixed(3)}`);
  const report = await verifyExport(folded, exportOnnx(folded), [{ label: 'text windows', values: data.x.subarray(0, 3 * 16), rows: 3 }], {
    batchSizes: [1, 3],
  });
  assert.ok(report.pass, `max abs ${report.maxAbs}`);
  folded.dispose();
  model.dispose();
  fs.rmSync(dir, { recursive: true });
});

test('text corpora: byte-level vocabulary, sequence windows, and clear errors', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-text-'));
  const file = path.join(dir, 'bytes.bin');
  fs.writeFileSync(file, Buffer.from([0, 255, 7, 7, 1, 2]));
  const bytes = readTextCorpus(file, { bytes: true });
  assert.equal(bytes.vocab.length, 256);
  const d = sequenceDataset(bytes, 2, 1);
  assert.deepEqual([...d.x], [0, 255, 255, 7, 7, 7, 7, 1]);
  assert.deepEqual([...d.y], [255, 7, 7, 7, 7, 1, 1, 2]);
  assert.throws(
    () => sequenceDataset(bytes, 6),
    (e: unknown) => e instanceof DataError && /too few/.test(e.message),
  );
  assert.throws(
    () => readTextCorpus(path.join(dir, 'none.txt')),
    (e: unknown) => e instanceof DataError && /cannot read/.test(e.message),
  );
  fs.writeFileSync(path.join(dir, 'empty.txt'), '');
  assert.throws(() => readTextCorpus(path.join(dir, 'empty.txt')), /is empty/);
  fs.rmSync(dir, { recursive: true });
});
