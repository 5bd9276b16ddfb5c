/**
 * The BatchNorm folding pass: BN after Conv (mnist CNN) and after Gemm (MLP) disappears into the
 * weights, the graph still matches the tfjs model within the export tolerance, a shared weight is
 * never changed in place, and BNs that cannot be folded exactly (pre-activation ResNet blocks) are
 * kept with the reason.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { onnx } from 'onnx-proto';
import { mnistCnn } from '../models/mnistCnn';
import { mlp } from '../models/mlp';
import { wideResNet } from '../models/wideResNet';
import { Model } from '../src/nn/model';
import { TRAIN } from '../src/nn/layer';
import { foldMembers } from '../src/latephase/fold';
import { releaseMembers, selectMember } from '../src/latephase/members';
import { exportOnnx } from '../export/onnx/exportOnnx';
import { verifyExport } from '../export/verify/verify';
import { Rng } from '../src/nn/rng';
import { seededTensor, useBackend } from './helpers';

before(async () => {
  await useBackend('wasm');
});

/** Released with member-specific running statistics, then folded: BNs with non-trivial statistics. */
function plain(model: Model, rows: number): Model {
  releaseMembers(model, 2, 0.3, 3);
  for (let k = 0; k < 2; k++) {
    selectMember(model, k);
    tf.tidy(() => model.forward(seededTensor([rows, ...model.inputShape], k + 4, 2), TRAIN));
  }
  const folded = foldMembers(model);
  model.dispose();
  return folded;
}

const opCount = (bytes: Uint8Array, op: string): number => onnx.ModelProto.decode(bytes).graph!.node!.filter((n) => n.opType === op).length;

const seeded = (rows: number, perRow: number): { label: string; values: Float32Array; rows: number } => {
  const rng = new Rng(1);
  return { label: 'seeded', values: Float32Array.from({ length: rows * perRow }, () => rng.next()), rows };
};

for (const [label, make, perRow, expectFolded] of [
  ['Conv -> BatchNorm (mnist CNN)', () => plain(mnistCnn({ seed: 1, widths: [4, 6] }), 8), 784, 2],
  ['Gemm -> BatchNorm (MLP)', () => plain(mlp({ inputs: 6, hidden: [5, 4], classes: 3, seed: 2 }), 8), 6, 2],
] as const) {
  test(`BatchNorm folding pass: ${label}`, async () => {
    const model = make();
    const off = exportOnnx(model);
    const on = exportOnnx(model, { foldBatchNorm: true });
    assert.equal(on.batchNormFold?.folded, expectFolded);
    assert.equal(opCount(on.bytes, 'BatchNormalization'), 0);
    assert.equal(opCount(off.bytes, 'BatchNormalization'), expectFolded, 'off by default');
    assert.match(on.metadata['latephase.batchnorm_folded']!, new RegExp(`^${expectFolded} folded`));
    assert.notEqual(on.metadata['latephase.weights_sha256'], off.metadata['latephase.weights_sha256']);
    const report = await verifyExport(model, on, [seeded(9, perRow)], { batchSizes: [1, 9] });
    assert.ok(report.pass, `max abs ${report.maxAbs}`);
    model.dispose();
  });
}

test('BatchNorm folding pass: pre-activation blocks keep their BatchNorms, with the reason', () => {
  const model = plain(wideResNet({ depth: 10, widen: 1, classes: 3, inputShape: [8, 8, 3], seed: 1 }), 4);
  const result = exportOnnx(model, { foldBatchNorm: true }).batchNormFold!;
  assert.ok(result.kept.length > 0);
  assert.ok(
    result.kept.every((k) => /not a Conv or Gemm|read elsewhere/.test(k.reason)),
    JSON.stringify(result.kept),
  );
  model.dispose();
});
