/**
 * The implicit-ensemble export: one graph with all K members (shared weights stored once) whose
 * probabilities, entropy, mutual information and member probabilities match the tfjs implicit
 * ensemble, for every late-phase kind; the invariants hold; foldMember(k) computes member k.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { mnistCnn } from '../models/mnistCnn';
import { Model } from '../src/nn/model';
import { TRAIN } from '../src/nn/layer';
import { LatePhaseChoice } from '../src/latephase/kindRegistry';
import { memberCount, releaseMembers, selectMember } from '../src/latephase/members';
import { foldMember } from '../src/latephase/fold';
import { exportOnnx } from '../export/onnx/exportOnnx';
import { dedupeInitializers, exportEnsemble } from '../export/onnx/exportEnsemble';
import { GraphBuilder } from '../export/onnx/graph';
import { int64Bytes } from '../src/onnx/proto';
import { onnx } from 'onnx-proto';
import { ensembleInvariants, verifyEnsembleExport } from '../export/verify/verifyEnsemble';
import { Rng } from '../src/nn/rng';
import { readOnnxModel } from '../src/onnx/readOnnx';
import { inspectOnnx } from '../export/verify/inspect';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { seededTensor, useBackend } from './helpers';

before(async () => {
  await useBackend('wasm');
});

const K = 3;

/** A small CNN with `choice` late-phase weights, released with noise and member-specific running statistics. */
function released(choice: LatePhaseChoice): Model {
  const model = mnistCnn({ seed: 2, widths: [3, 4], latePhase: choice });
  releaseMembers(model, K, 0.5, 7);
  for (let k = 0; k < K; k++) {
    selectMember(model, k);
    tf.tidy(() => model.forward(seededTensor([16, 784], k + 1), TRAIN));
  }
  selectMember(model, 'average');
  return model;
}

const inputs = (rows: number, seed: number): { label: string; values: Float32Array; rows: number } => {
  const rng = new Rng(seed);
  return { label: `seeded ${rows}`, values: Float32Array.from({ length: rows * 784 }, () => rng.next()), rows };
};

const CHOICES: Array<[string, LatePhaseChoice]> = [
  ['batchNorm + head', { batchNorm: true, head: true }],
  ['rank1 + head', { rank1: true, head: true }],
  ['templates', { templates: 2 }],
  ['full conv2', { full: ['conv2'] }],
];

for (const [label, choice] of CHOICES) {
  test(`ensemble export (${label}): matches the tfjs implicit ensemble, invariants hold, shared weights stored once`, async () => {
    const model = released(choice);
    const members = Array.from({ length: memberCount(model) }, (_, k) => foldMember(model, k));
    // foldMember(k) computes what selecting member k computes.
    const x = seededTensor([5, 784], 9);
    members.forEach((m, k) => {
      selectMember(model, k);
      const [a, b] = [m.predict(x), model.predict(x)];
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
      assert.ok(diff < 1e-5, `member ${k}: foldMember differs from selection by ${diff}`);
      tf.dispose([a, b]);
    });
    selectMember(model, 'average');
    x.dispose();

    const exported = exportEnsemble(members, { memberProbabilities: true });
    assert.deepEqual(
      exported.outputs.map((o) => [o.name, o.role, o.dims]),
      [
        ['probabilities', 'probabilities', ['N', 10]],
        ['entropy', 'entropy', ['N', 1]],
        ['mutual_information', 'mutual_information', ['N', 1]],
        ['member_probabilities', 'member_probabilities', ['N', K, 10]],
      ],
    );
    const single = exportOnnx(members[0]!);
    const bytesOf = (b: Uint8Array): number => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-ens-'));
      fs.writeFileSync(path.join(dir, 'm.onnx'), b);
      const n = inspectOnnx(readOnnxModel(path.join(dir, 'm.onnx')).model).initializers.bytes;
      fs.rmSync(dir, { recursive: true, force: true });
      return n;
    };
    assert.ok(exported.sharedInitializers > 0, 'identical (shared) weights are stored once');
    assert.ok(bytesOf(exported.bytes) < K * bytesOf(single.bytes), 'the ensemble is smaller than K separate models');

    // BatchNorm folded as in model.onnx wherever it stays shared: after weights the members share,
    // only a BatchNorm the members share too (late-phase BatchNorm stays a BatchNorm there).
    const fold = exported.batchNormFold!;
    const lateBatchNorm = 'batchNorm' in choice;
    assert.ok(lateBatchNorm ? fold.kept.length > 0 : fold.folded > 0, JSON.stringify(fold));
    if (lateBatchNorm)
      assert.ok(
        fold.kept.every((k) => /folding would store those weights once per member/.test(k.reason)),
        JSON.stringify(fold.kept),
      );
    const unfolded = exportEnsemble(members, { foldBatchNorm: false });
    assert.ok(bytesOf(exported.bytes) <= bytesOf(unfolded.bytes), 'folding never grows the stored weights');
    const ops = (b: Uint8Array): number => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-ens-'));
      fs.writeFileSync(path.join(dir, 'm.onnx'), b);
      const n = inspectOnnx(readOnnxModel(path.join(dir, 'm.onnx')).model).operators['BatchNormalization'] ?? 0;
      fs.rmSync(dir, { recursive: true, force: true });
      return n;
    };
    assert.equal(ops(exported.bytes), ops(unfolded.bytes) - fold.folded);

    const report = await verifyEnsembleExport(model, exported, [inputs(9, 1)], { batchSizes: [1, 9] });
    assert.ok(report.pass, `max abs ${report.maxAbs}: ${JSON.stringify(report.cases.filter((c) => !c.pass).slice(0, 2))}`);
    const inv = await ensembleInvariants(exported, model.inputShape, inputs(32, 2));
    assert.ok(inv.pass, JSON.stringify(inv));
    assert.ok(inv.mutualInformationMin >= 0 && inv.entropy.max <= inv.entropy.bound);
    members.forEach((m) => m.dispose());
    model.dispose();
  });
}

test('a deliberately wrong ensemble (one member from other weights) fails verification', async () => {
  const model = released({ batchNorm: true, head: true });
  const other = released({ batchNorm: true, head: true });
  tf.tidy(() => other.params()[0]!.variable.assign(tf.mul(other.params()[0]!.variable, 3)));
  const members = [foldMember(model, 0), foldMember(other, 1), foldMember(model, 2)];
  const report = await verifyEnsembleExport(model, exportEnsemble(members), [inputs(9, 1)], { batchSizes: [9] });
  assert.equal(report.pass, false);
  assert.ok(report.cases.some((c) => c.output === 'probabilities' && c.mismatched > 0));
  members.forEach((m) => m.dispose());
  model.dispose();
  other.dispose();
});

test('shared initializers are found by their values, however stored (raw bytes or typed fields)', () => {
  const graph = new GraphBuilder();
  const typed = (name: string, values: number[]): onnx.ITensorProto => ({
    name,
    dataType: onnx.TensorProto.DataType.INT64,
    dims: [2],
    int64Data: values,
  });
  graph.initializers.push(typed('a', [1, 2]), typed('b', [3, 4]), typed('c', [1, 2]), { ...typed('d', []), rawData: int64Bytes([1, 2]) });
  graph.node('Concat', ['a', 'b', 'c', 'd'], 'cat', { axis: { i: 0 } });
  assert.equal(dedupeInitializers(graph), 1, 'only c repeats a (same values, same storage); b differs in values');
  assert.deepEqual(
    graph.initializers.map((t) => t.name),
    ['a', 'b', 'd'],
  );
  assert.deepEqual(graph.nodes[0]!.input, ['a', 'b', 'a', 'd']);
});
