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
import { Rank1LSTM } from '../src/latephase/rank1Lstm';
import { rank1Mask } from '../src/latephase/rank1';
import { LatePhaseLSTM } from '../src/latephase/latePhaseLstm';
import { latePhaseLayers, releaseMembers } from '../src/latephase/members';
import { charLstm } from '../models/charLstm';
import { readTextCorpus, sequenceDataset } from '../src/data/text';
import { trainLatePhase, DEFAULT_TRAIN_CONFIG } from '../src/train/trainer';
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
  return tf.tensor(Float32Array.from({ length: rows * steps }, () => Math.floor(rng.next() * vocab)), [rows, steps]);
};

test('LSTM and rank-1 LSTM gradients match finite differences', () => {
  const plain = new LSTM('lstm', 3, 4, { rng: new Rng(1) });
  const rank1 = new Rank1LSTM('r1', 3, 4, { rng: new Rng(2) });
  rank1.replicate(2, 0.3, new Rng(3));
  rank1.select(1);
  for (const layer of [plain, rank1]) {
    const x = tf.variable(seededTensor([2, 5, 3], 4));
    const r = seededTensor([2, 5, 4], 5);
    const vars = [x, ...(layer === rank1 ? [...rank1.sharedParams(), ...rank1.memberParams(1)] : layer.params()).map((p) => p.variable)];
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
  const res = checkGradients(() => tf.sum(tf.mul(layer.forward(x, TRAIN), r)) as tf.Scalar, [layer.table.variable], 4, 1e-2);
  assert.ok(res.relErr < 2e-3, `analytic ${res.analytic} vs numeric ${res.numeric}`);
  tf.dispose([x, r]);
  layer.dispose();
});

test('rank-1 LSTM folds follow the documented weight rules', () => {
  const layer = new Rank1LSTM('r1', 3, 4, { rng: new Rng(2) });
  layer.replicate(3, 0.5, new Rng(3));
  const x = seededTensor([2, 5, 3], 4);
  for (const mode of ['mean', 'product'] as const) {
    const folded = layer.fold({ rank1: mode });
    const masks = (s: 'sIn' | 'sRec', r: 'rIn' | 'rRec'): tf.Tensor =>
      mode === 'mean'
        ? rank1Mask(layer.members.mean(s), layer.members.mean(r))
        : tf.div(tf.addN([0, 1, 2].map((k) => rank1Mask(layer.members.member(k)[s], layer.members.member(k)[r]))), 3);
    const want = tf.tidy(() => lstmForward(x, { input: tf.mul(layer.input.variable, masks('sIn', 'rIn')), recurrent: tf.mul(layer.recurrent.variable, masks('sRec', 'rRec')), bias: layer.bias.variable }, 4));
    assert.ok(maxAbsDiff(folded.forward(x, EVAL), want) / maxAbs(want) < 1e-5, mode);
    want.dispose();
    folded.dispose();
  }
  x.dispose();
  layer.dispose();
});

test('a fully late-phase LSTM (by name) folds to the member-mean weights and exports', async () => {
  const model = charLstm({ vocab: 9, seqLen: 5, embed: 4, hidden: 6, latePhase: { batchNorm: false, head: true, full: ['lstm'] } });
  releaseMembers(model, 3, 0.3, 2);
  const lstm = latePhaseLayers(model).find((l): l is LatePhaseLSTM => l instanceof LatePhaseLSTM)!;
  const folded = foldMembers(model);
  const plain = folded.layers().find((l): l is LSTM => l instanceof LSTM)!;
  const mean = lstm.members.mean('recurrent');
  assert.ok(maxAbsDiff(plain.recurrent.variable, mean) < 1e-7);
  const report = await verifyExport(folded, exportOnnx(folded), [{ label: 'ids', values: ids(2, 5, 9, 1).dataSync() as Float32Array, rows: 2 }], { batchSizes: [2] });
  assert.ok(report.pass);
  mean.dispose();
  folded.dispose();
  model.dispose();
});

test('ONNX parity: embedding (Gather) -> LSTM op -> per-step dense (MatMul)', async () => {
  const net = new Sequential('seq', [new Embedding('emb', 11, 5, { rng: new Rng(1) }), new LSTM('lstm', 5, 6, { rng: new Rng(2) }), new Dense('out', 6, 11, { rng: new Rng(3) })]);
  const model = new Model('seq', net, [7]);
  const exported = exportOnnx(model);
  const values = ids(4, 7, 11, 9).dataSync() as Float32Array;
  const report = await verifyExport(model, exported, [{ label: 'ids', values, rows: 4 }], { batchSizes: [1, 4] });
  assert.ok(report.pass, `max abs ${report.maxAbs}, max rel ${report.maxRel}`);
  assert.deepEqual(exported.outputs.map((o) => [o.name, o.dims]), [['logits', ['N', 7, 11]], ['probabilities', ['N', 7, 11]]]);
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
  await trainLatePhase(model, data, { ...DEFAULT_TRAIN_CONFIG, epochs: 4, t0: 2, k: 3, batchSize: 16, shared: { ...DEFAULT_TRAIN_CONFIG.shared, lr: 0.5 }, member: { ...DEFAULT_TRAIN_CONFIG.member, lr: 0.5 }, schedule: { kind: 'constant' } });
  const folded = foldMembers(model);
  const after = bitsPerCharacter(folded, data);
  assert.ok(after < before - 1, `bits per character ${before.toFixed(3)} -> ${after.toFixed(3)}`);
  const report = await verifyExport(folded, exportOnnx(folded), [{ label: 'text windows', values: data.x.subarray(0, 3 * 16), rows: 3 }], { batchSizes: [1, 3] });
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
  assert.throws(() => sequenceDataset(bytes, 6), (e: unknown) => e instanceof DataError && /too few/.test(e.message));
  assert.throws(() => readTextCorpus(path.join(dir, 'none.txt')), (e: unknown) => e instanceof DataError && /cannot read/.test(e.message));
  fs.writeFileSync(path.join(dir, 'empty.txt'), '');
  assert.throws(() => readTextCorpus(path.join(dir, 'empty.txt')), /is empty/);
  fs.rmSync(dir, { recursive: true });
});
