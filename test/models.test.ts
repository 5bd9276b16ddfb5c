/**
 * Every architecture in models/ with every late-phase kind (small widths for speed): trains a few
 * steps with K = 3, folds, exports, and matches onnxruntime. Parameter counts match the paper's models.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as path from 'path';
import { Model } from '../src/nn/model';
import { Rng } from '../src/nn/rng';
import { Dataset } from '../src/data/dataset';
import { trainLatePhase } from '../src/train/trainer';
import { DEFAULT_TRAIN_CONFIG } from '../job/runPlan';
import { foldMembers, isPlain } from '../src/latephase/fold';
import { memberCount } from '../src/latephase/members';
import { exportOnnx } from '../export/onnx/exportOnnx';
import { verifyExport } from '../export/verify/verify';
import { parameterCounts } from '../src/eval/parameterCounts';
import { LatePhaseChoice, buildModel, mlp, mnistCnn, resNet, wideResNet } from '../models/index';
import { FoldOptions } from '../src/latephase/latePhaseLayer';
import { useBackend } from './helpers';

before(async () => {
  await useBackend('wasm');
});

const CHOICES: Array<[string, LatePhaseChoice]> = [
  ['BN + head', { batchNorm: true, head: true }],
  ['rank-1 + head', { batchNorm: false, head: true, rank1: true }],
  ['templates (T=3) + BN', { batchNorm: true, head: false, templates: 3 }],
];

const IMAGE = [8, 8, 3] as const;
const ARCHITECTURES: Array<[string, (lp: LatePhaseChoice) => Model]> = [
  ['WRN-10-1', (lp) => wideResNet({ depth: 10, widen: 1, inputShape: IMAGE, latePhase: lp, seed: 1 })],
  ['ResNet-8', (lp) => resNet({ depth: 8, widthScale: 0.5, inputShape: IMAGE, latePhase: lp, seed: 2 })],
  ['MNIST CNN', (lp) => mnistCnn({ widths: [3, 4], latePhase: lp, seed: 3 })],
  ['MLP', (lp) => mlp({ inputs: 12, hidden: [8, 6], classes: 4, latePhase: lp, seed: 4 })],
];

function randomData(model: Model, rows: number, classes: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const per = model.inputShape.reduce((a, b) => a * b, 1);
  return {
    x: Float32Array.from({ length: rows * per }, () => rng.next()),
    y: Int32Array.from({ length: rows }, () => Math.floor(rng.next() * classes)),
    featureShape: model.inputShape,
    classes,
  };
}

for (const [arch, build] of ARCHITECTURES) {
  for (const [label, choice] of CHOICES) {
    test(`${arch} with ${label}: trains with K = 3, folds, exports, matches onnxruntime`, async () => {
      const model = build(choice);
      const classes = model.outputShape[0]!;
      const data = randomData(model, 12, classes, 5);
      const result = await trainLatePhase(model, data, {
        ...DEFAULT_TRAIN_CONFIG,
        epochs: 2,
        t0: 1,
        k: 3,
        batchSize: 4,
        sigma0: 0.1,
        schedule: { kind: 'constant' },
      });
      assert.equal(memberCount(model), 3);
      assert.deepEqual(result.memberSteps, [3 + 1, 1, 1]);
      for (const options of [{}, { rank1: 'product', batchNorm: 'mean' }] as FoldOptions[]) {
        const folded = foldMembers(model, options);
        assert.ok(isPlain(folded));
        const exported = exportOnnx(folded);
        const rows = 5;
        const inputs = [{ label: 'train rows', values: data.x.subarray(0, rows * (data.x.length / 12)), rows }];
        const report = await verifyExport(folded, exported, inputs, { batchSizes: [1, rows] });
        assert.ok(report.pass, `${arch} ${label} ${JSON.stringify(options)}: max abs ${report.maxAbs}`);
        folded.dispose();
      }
      model.dispose();
    });
  }
}

test('full-layer late-phase ablation by layer name, and unknown names are rejected', async () => {
  const model = mnistCnn({ widths: [3, 4], latePhase: { batchNorm: false, head: false, full: ['conv2', 'head'] } });
  assert.deepEqual(Object.keys(parameterCounts(model, 3).perMemberByKind), ['full']);
  await trainLatePhase(model, randomData(model, 8, 10, 1), { ...DEFAULT_TRAIN_CONFIG, epochs: 3, t0: 1, k: 3, batchSize: 4 });
  const folded = foldMembers(model);
  const report = await verifyExport(folded, exportOnnx(folded), [{ label: 'r', values: randomData(model, 3, 10, 2).x, rows: 3 }], {
    batchSizes: [3],
  });
  assert.ok(report.pass);
  assert.throws(() => mnistCnn({ latePhase: { batchNorm: true, head: true, full: ['conv9'] } }), /latePhase.kinds.full: 'conv9' matches no layer/);
  folded.dispose();
  model.dispose();
});

test("parameter counts match the paper's models (WRN-28-10: 36.5M; BN + head at K = 10: +0.6%)", () => {
  const wrn = buildModel('wrn-28-10');
  const c = parameterCounts(wrn, 10);
  assert.equal(c.single, 36_479_194);
  assert.deepEqual(c.perMemberByKind, { batchnorm: 17_952, head: 6_410 });
  assert.ok(Math.abs(c.overhead - 0.006) < 0.0005, `overhead ${c.overhead}`);
  wrn.dispose();
  const wrn100 = buildModel('wrn-28-10', { classes: 100 });
  assert.equal(parameterCounts(wrn100, 10).single, 36_536_884);
  wrn100.dispose();
  const resnet20 = buildModel('resnet-20', { latePhase: { batchNorm: false, head: false } });
  assert.equal(resnet20.parameterCount(), 272_474);
  resnet20.dispose();
  assert.throws(() => buildModel('wrn-27-10'), /depth must be 6n \+ 4/);
  assert.throws(() => buildModel('vgg-16'), /unknown model 'vgg-16'/);
});

test('latephase inspect prints the groups and the overhead at K', () => {
  const cli = path.join(__dirname, '..', 'cli', 'main.js');
  const r = spawnSync(process.execPath, [cli, 'inspect', 'wrn-28-10', '--k', '10'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /shared parameters\s+36,454,832/);
  assert.match(r.stdout, /late-phase per member\s+24,362 \(batchnorm 17,952, head 6,410\)/);
  assert.match(r.stdout, /total at K = 10\s+36,698,452 \(\+0\.60% while training\)/);
  const bad = spawnSync(process.execPath, [cli, 'inspect'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /needs a model name/);
});
