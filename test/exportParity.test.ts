/**
 * Whole folded models against onnxruntime (CPU EP), at two batch sizes and two optimisation
 * levels, with the default tolerances (atol 1e-4, rtol 1e-3); the exported header; refusals.
 * Single layers go through checkLayer in layers.test.ts.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { onnx } from 'onnx-proto';
import { Model } from '../src/nn/model';
import { StatelessLayer } from '../src/nn/layer';
import { Sequential } from '../src/nn/sequential';
import { Rng } from '../src/nn/rng';
import { mnistCnn } from '../models/mnistCnn';
import { releaseMembers } from '../src/latephase/members';
import { foldMembers } from '../src/latephase/fold';
import { exportOnnx, IR_VERSION, OPSET } from '../export/onnx/exportOnnx';
import { verifyExport, InputSet } from '../export/verify/verify';
import { ExportError } from '../src/errors';
import { FOLDED_CASES, warmStatistics } from './parityModels';
import { useBackend } from './helpers';

before(async () => {
  await useBackend('wasm');
});

function inputs(model: Model, seed: number, rows = 9): InputSet[] {
  const rng = new Rng(seed);
  const per = model.inputShape.reduce((a, b) => a * b, 1);
  return [{ label: `seeded normal ${seed}`, values: rng.normalArray(rows * per), rows }];
}

async function assertParity(name: string, model: Model): Promise<void> {
  warmStatistics(model, 5);
  const exported = exportOnnx(model, { provenance: { test: name } });
  const report = await verifyExport(model, exported, inputs(model, 17), { batchSizes: [1, 9] });
  const worst = report.cases.find((c) => !c.pass);
  assert.ok(
    report.pass,
    `${name}: ${worst ? `${worst.output} batch ${worst.batch} ${worst.optimization}: abs ${worst.maxAbs} rel ${worst.maxRel}` : 'no cases'}`,
  );
  assert.equal(report.cases.length, 2 * 2 * exported.outputs.length);
}

for (const [name, make] of FOLDED_CASES) {
  test(`ONNX parity: ${name}`, async () => {
    const folded = make();
    await assertParity(name, folded);
    folded.dispose();
  });
}

test('exported model header: opset 17, IR 8, dynamic batch, provenance, explicit epsilon, inference-mode BN', () => {
  const model = mnistCnn({ seed: 1, widths: [2, 2] });
  releaseMembers(model, 2, 0, 1);
  const folded = foldMembers(model, { batchNorm: 'mean' });
  const exported = exportOnnx(folded, { provenance: { latephase_K: 2, fold_batchnorm: 'mean', backend: 'wasm', seed: 1 } });
  const proto = onnx.ModelProto.decode(exported.bytes);
  assert.equal(Number(proto.irVersion), IR_VERSION);
  assert.equal(Number(proto.opsetImport![0]!.version), OPSET);
  assert.equal(proto.producerName, 'latephase');
  const meta = Object.fromEntries(proto.metadataProps!.map((p) => [p.key, p.value]));
  assert.equal(meta['latephase_K'], '2');
  assert.equal(meta['fold_batchnorm'], 'mean');
  const graph = proto.graph!;
  assert.equal(graph.input![0]!.type!.tensorType!.shape!.dim![0]!.dimParam, 'N');
  assert.deepEqual(
    graph.output!.map((o) => o.name),
    ['logits', 'probabilities'],
  );
  const bns = graph.node!.filter((n) => n.opType === 'BatchNormalization');
  assert.equal(bns.length, 2);
  for (const bn of bns) {
    const attrs = Object.fromEntries(bn.attribute!.map((a) => [a.name, a]));
    assert.ok(Math.abs(attrs['epsilon']!.f! - 1e-5) < 1e-12);
    assert.equal(Number(attrs['training_mode']!.i), 0);
    assert.equal(bn.output!.length, 1);
  }
  folded.dispose();
  model.dispose();
});

test('the exporter refuses unfolded late-phase layers and unknown layer kinds, naming them', () => {
  const model = mnistCnn({ seed: 1, widths: [2, 2] });
  assert.throws(
    () => exportOnnx(model),
    (e: unknown) => e instanceof ExportError && /'bn1'.*fold first/.test(e.message),
  );
  class Swish extends StatelessLayer {
    readonly kind = 'swish';
    outputShape(input: readonly number[]): number[] {
      return [...input];
    }
    forward(x: tf.Tensor): tf.Tensor {
      return tf.mul(x, tf.sigmoid(x));
    }
  }
  const odd = new Model('odd', new Sequential('odd', [new Swish('act7')]), [3]);
  assert.throws(
    () => exportOnnx(odd),
    (e: unknown) => e instanceof ExportError && /'act7' of kind 'swish' has no ONNX lowering/.test(e.message),
  );
  model.dispose();
});
