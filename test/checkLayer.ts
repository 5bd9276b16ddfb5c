/**
 * One call checks a layer both ways (as tinygrad's helper_test_op checks forward and backward
 * against a peer): its gradients against finite differences, and its ONNX export against
 * onnxruntime. A layer therefore cannot get one check without the other. Late-phase layers are
 * released to K = 2 with noise, checked with member 1 selected, then folded for the export.
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Layer, TRAIN } from '../src/nn/layer';
import { Model } from '../src/nn/model';
import { Rng } from '../src/nn/rng';
import { latePhaseUnits, releaseMembers } from '../src/latephase/members';
import { foldMembers } from '../src/latephase/fold';
import { exportOnnx } from '../export/onnx/exportOnnx';
import { verifyExport } from '../export/verify/verify';
import { checkGradients, seededTensor } from './helpers';
import { warmStatistics } from './parityModels';

export interface CheckLayerOptions {
  readonly seed?: number;
  /** Piecewise-linear layers (ReLU, max-pool) need a tiny step so no input crosses a kink. */
  readonly piecewise?: boolean;
  /** Integer ids in [0, vocab) instead of normal inputs (embeddings); no input gradient then. */
  readonly vocab?: number;
  /** Relative tolerance of the gradient check (default 2e-3; 1e-2 for piecewise layers). */
  readonly gradientTolerance?: number;
}

/** Seeded inputs for a batch: normal values, or ids for an embedding. */
function inputs(shape: readonly number[], rows: number, seed: number, vocab?: number): tf.Tensor {
  if (vocab === undefined) return seededTensor([rows, ...shape], seed);
  const rng = new Rng(seed);
  const size = rows * shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: size }, () => Math.floor(rng.next() * vocab)),
    [rows, ...shape],
  );
}

/** The tensors a step of member 1 trains: plain parameters, the units' shared ones and member 1's own. */
function trainedVariables(layer: Layer): tf.Variable[] {
  const units = latePhaseUnits(layer);
  const otherMembers = new Set(units.flatMap((u) => u.memberParams(0).map((p) => p.variable)));
  return [
    ...new Set(
      layer
        .params()
        .map((p) => p.variable)
        .filter((v) => !otherMembers.has(v)),
    ),
  ];
}

export function checkLayerGradients(layer: Layer, inputShape: readonly number[], opts: CheckLayerOptions = {}): void {
  const seed = opts.seed ?? 100;
  const [eps, tol] = opts.piecewise ? [1e-4, 1e-2] : [1e-2, opts.gradientTolerance ?? 2e-3];
  const units = latePhaseUnits(layer);
  const rng = new Rng(seed);
  for (const u of units) u.replicate(2, 0.3, rng);
  for (const u of units) u.select(1);
  const x = inputs(inputShape, 3, seed, opts.vocab);
  const xVar = opts.vocab === undefined ? tf.variable(x) : null;
  const r = seededTensor([3, ...layer.outputShape(inputShape)], seed + 1);
  const vars = [...(xVar ? [xVar] : []), ...trainedVariables(layer)];
  const f = (): tf.Scalar => tf.sum(tf.mul(layer.forward(xVar ?? x, TRAIN), r)) as tf.Scalar;
  const res = checkGradients(f, vars, seed + 2, eps);
  assert.ok(res.relErr < tol, `${layer.kind} '${layer.name}': analytic ${res.analytic} vs numeric ${res.numeric} (rel ${res.relErr})`);
  tf.dispose([x, r, ...(xVar ? [xVar] : [])]);
}

export async function checkLayerExport(model: Model, opts: CheckLayerOptions = {}): Promise<void> {
  const seed = opts.seed ?? 100;
  warmStatistics(model, seed, opts.vocab);
  const plain = latePhaseUnits(model).length ? foldMembers(model) : model;
  const exported = exportOnnx(plain, { provenance: { test: model.name } });
  const rows = 9;
  const x = inputs(model.inputShape, rows, seed + 3, opts.vocab);
  const report = await verifyExport(plain, exported, [{ label: `seeded ${seed}`, values: x.dataSync() as Float32Array, rows }], {
    batchSizes: [1, rows],
  });
  x.dispose();
  const worst = report.cases.find((c) => !c.pass);
  assert.ok(
    report.pass,
    `${model.name}: ${worst ? `${worst.output} batch ${worst.batch} ${worst.optimization}: abs ${worst.maxAbs} rel ${worst.maxRel}` : 'no cases'}`,
  );
  assert.equal(report.cases.length, 2 * 2 * exported.outputs.length);
  if (plain !== model) plain.dispose();
}

/** Gradients against finite differences, then the export (folded if late-phase) against onnxruntime. */
export async function checkLayer(make: () => Layer, inputShape: readonly number[], opts: CheckLayerOptions = {}): Promise<void> {
  const layer = make();
  checkLayerGradients(layer, inputShape, opts);
  layer.dispose();
  const fresh = make();
  const model = new Model(`check_${fresh.name}`, fresh, inputShape);
  if (latePhaseUnits(model).length) releaseMembers(model, 2, 0.3, opts.seed ?? 100);
  await checkLayerExport(model, opts);
  model.dispose();
}
