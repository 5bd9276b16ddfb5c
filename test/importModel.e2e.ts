/**
 * Bring your own model. Models we did not write: torchvision's ResNet-18, DenseNet-121 and MobileNetV2 (random weights, randomised
 * BatchNorm statistics), exported by Debian's python3-torch in eval mode (BatchNorm folded into the
 * convolutions) and with BatchNormalization kept, are imported, re-exported by latephase, and
 * compared with the original under onnxruntime (max abs within 1e-5 at batch 1 and 3); the
 * imported tfjs model agrees with onnxruntime. The fixtures are generated here
 * (test/fixtures/exportTorchvision.py), never committed. Skipped without python3-torch and
 * python3-torchvision unless LATEPHASE_REQUIRE_TORCH=1 (.ci/run installs them). And a job config
 * naming `model: { onnx }` fine-tunes an imported model with late-phase BatchNorm and head from the
 * first step (T0 = 0, the paper's fine-tuning regime) into a verified bundle.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { exportOnnx } from '../export/onnx/exportOnnx';
import { verifyExport } from '../export/verify/verify';
import * as tfl from '@tensorflow/tfjs';
import { saveTfjsModel } from './tfjsFixture';
import { importOnnx } from '../import/onnx/importOnnx';
import { inspectOnnx } from '../export/verify/inspect';
import { readOnnxModel } from '../src/onnx/readOnnx';
import { Rng } from '../src/nn/rng';
import { Sequential } from '../src/nn/sequential';
import { Conv2d } from '../src/nn/conv2d';
import { BatchNorm } from '../src/nn/batchNorm';
import { ReLU } from '../src/nn/activation';
import { GlobalAvgPool } from '../src/nn/pooling';
import { Dense } from '../src/nn/dense';
import { Model } from '../src/nn/model';
import { buildFromRecipe } from '../src/nn/modelRecipe';
import { loadCheckpoint, readCheckpointHeader } from '../src/train/checkpoint';
import { resolveConfig } from '../src/config/resolve';
import { JobConfigInput } from '../src/config/schema';
import { planRun } from '../job/runPlan';
import { largestDifference, ortOutput, runCli, runMain, useBackend } from './helpers';

const PYTHON = '/usr/bin/python3';
const hasTorch = spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { encoding: 'utf8' }).status === 0;
const required = process.env['LATEPHASE_REQUIRE_TORCH'] === '1';
const skip =
  !hasTorch && !required ? 'python3-torch and python3-torchvision not installed (apt-get install python3-torch python3-torchvision)' : false;

test(
  'torchvision ResNet-18, DenseNet-121 and MobileNetV2 (depthwise convolutions, ReLU6) exported by PyTorch: import, re-export, the same outputs under onnxruntime',
  { skip },
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-torchvision-'));
    const script = path.join(__dirname, '..', '..', 'test', 'fixtures', 'exportTorchvision.py');
    const made = spawnSync(PYTHON, [script, dir], { encoding: 'utf8', timeout: 300_000 });
    assert.equal(made.status, 0, made.stderr);
    await useBackend('wasm');
    const names = fs.readFileSync(path.join(dir, 'names.txt'), 'utf8').trim().split('\n');
    assert.deepEqual(names, [
      'resnet18-eval.onnx',
      'resnet18-bn.onnx',
      'densenet121-eval.onnx',
      'densenet121-bn.onnx',
      'mobilenet_v2-eval.onnx',
      'mobilenet_v2-bn.onnx',
    ]);
    for (const name of names) {
      const file = path.join(dir, name);
      const original = fs.readFileSync(file);
      const { model, report } = importOnnx(file);
      assert.deepEqual(model.inputShape, [32, 32, 3], name);
      assert.equal(report.input.name, 'image');
      assert.deepEqual(model.meta.onnxNames, { input: 'image', logits: 'logits' });
      if (name.endsWith('-bn.onnx'))
        assert.ok(
          report.nodes.some((n) => n.op === 'BatchNormalization' && n.became.includes('batchnorm')),
          `${name}: BatchNorm kept`,
        );
      const again = exportOnnx(model);
      for (const n of [1, 3]) {
        const [a, b] = [await ortOutput(original, [n, 3, 32, 32]), await ortOutput(again.bytes, [n, 3, 32, 32])];
        assert.ok(largestDifference(a, b) <= 1e-5, `${name}, batch ${n}: max abs ${largestDifference(a, b)}`);
      }
      const values = Float32Array.from({ length: 2 * 32 * 32 * 3 }, (_, i) => Math.sin(i * 0.01));
      const checked = await verifyExport(model, again, [{ label: 'seeded', values, rows: 2 }], { batchSizes: [2] });
      assert.ok(checked.pass, `${name}: the imported tfjs model against onnxruntime, max abs ${checked.maxAbs}`);
      model.dispose();
    }
    const printed = await runMain(['import', path.join(dir, 'resnet18-bn.onnx')]);
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(printed.stdout, /opset 17.*pytorch/i);
    assert.match(printed.stdout, /BatchNormalization x20 -> batchnorm/);
    assert.match(printed.stdout, /batchNorm: 20 BatchNorm layers: \/bn1\/BatchNormalization, /);
    assert.match(printed.stdout, /head: '\/fc\/Gemm' \(Gemm\)/);
    assert.match(printed.stdout, /rank1, full: 21 conv and dense layers/);
    // latephase export: converted without training into a verified bundle that is a drop-in for the original
    const out = path.join(dir, 'converted');
    const converted = await runMain(['export', path.join(dir, 'densenet121-bn.onnx'), '--out', out]);
    assert.equal(converted.code, 0, converted.stderr);
    assert.match(converted.stdout, /drop-in check: signature the same; outputs against the original max abs \S+ \(batches 1, 7; atol 0.00001\)/);
    const inspected = inspectOnnx(readOnnxModel(path.join(out, 'model.onnx')).model);
    assert.deepEqual(
      [inspected.inputs.map((v) => v.name), inspected.outputs.map((v) => v.name)],
      [['image'], ['logits']],
      'the original names, and no probabilities output it did not have',
    );
    assert.equal(inspected.operators['Transpose'] ?? 0, 0, 'no layout transposes: NCHW stays NCHW');
    assert.equal((await runMain(['verify-bundle', out])).code, 0);
    fs.rmSync(dir, { recursive: true, force: true });
  },
);

test('latephase train with model: { onnx }: late-phase BatchNorm and head from the first step (T0 = 0), a verified bundle that records the source', async () => {
  await useBackend('wasm');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-finetune-'));
  // the "pretrained" model: a small CNN on 28 x 28 x 1 images, exported by latephase (an NCHW input)
  const rng = new Rng(5);
  const net = new Sequential('net', [
    new Conv2d('conv', 1, 6, { kernelSize: 3, stride: 2, rng }),
    new BatchNorm('bn', 6),
    new ReLU('relu'),
    new GlobalAvgPool('gap'),
    new Dense('fc', 6, 10, { rng }),
  ]);
  const source = new Model('pretrained', net, [28, 28, 1]);
  const file = path.join(dir, 'pretrained.onnx');
  fs.writeFileSync(file, exportOnnx(source, { foldBatchNorm: false }).bytes);
  source.dispose();
  const config = path.join(dir, 'finetune.json');
  fs.writeFileSync(
    config,
    JSON.stringify({
      name: 'finetune',
      model: { onnx: 'pretrained.onnx' },
      latePhase: { kinds: { batchNorm: true, head: true }, k: 2, t0: 0 },
      epochs: 1,
      batchSize: 32,
      data: { source: 'mnist', trainSize: 128, testSize: 200 },
      output: 'out',
      workers: 0,
      backend: 'wasm',
    }),
  );
  const r = runCli(['train', config, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /late phase: K=2, T0=0 of 1 epochs/);
  const bundle = path.join(dir, 'out');
  const manifest = JSON.parse(fs.readFileSync(path.join(bundle, 'manifest.json'), 'utf8')) as {
    verification: { pass: boolean };
    inputs: Array<{ dims: Array<number | string> }>;
    provenance: Record<string, string>;
  };
  assert.equal(manifest.verification.pass, true);
  assert.deepEqual(manifest.inputs[0]!.dims.slice(1), [1, 28, 28], 'NCHW in, as the original');
  assert.equal(manifest.provenance['model_source'], `the model imported from ${file}`);
  assert.equal(manifest.provenance['latephase_T0_epochs'], '0');
  assert.match(manifest.provenance['late_phase_weights']!, /batchnorm/i);
  const check = runCli(['verify-bundle', bundle]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  // a late-phase kind the imported model has nothing for is named before training
  fs.writeFileSync(
    config,
    JSON.stringify({ ...JSON.parse(fs.readFileSync(config, 'utf8')), latePhase: { kinds: { full: 'nosuchlayer' }, t0: 0, k: 2 }, output: 'out2' }),
  );
  const bad = runCli(['train', config, '--quiet']);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /nosuchlayer/);
  assert.doesNotMatch(bad.stdout, /epoch 1/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the fashion-finetune preset after its documented first step: a pretrained MNIST CNN (BatchNorm kept) fine-tuned with late-phase BatchNorm and head', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-preset-finetune-'));
  const tiny = [
    '--set',
    'data.trainSize=128',
    '--set',
    'data.testSize=200',
    '--set',
    'epochs=1',
    '--set',
    'workers=0',
    '--set',
    'backend="wasm"',
    '--quiet',
  ];
  const first = runCli([
    'train',
    'mnist-cnn',
    '--set',
    'export.foldBatchNorm=false',
    '--set',
    'latePhase.t0=0',
    '--set',
    'latePhase.k=2',
    '--out',
    path.join(dir, 'pretrained'),
    ...tiny,
  ]);
  assert.equal(first.code, 0, first.stderr);
  const pretrained = path.join(dir, 'pretrained', 'model.onnx');
  const second = runCli([
    'train',
    'fashion-finetune',
    '--set',
    `model.onnx=${JSON.stringify(pretrained)}`,
    '--set',
    'data={"source":"mnist","trainSize":128,"testSize":200}',
    '--set',
    'evaluation={"bins":15}',
    '--set',
    'latePhase.k=2',
    '--out',
    path.join(dir, 'finetuned'),
    ...tiny,
  ]);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /late phase: K=2, T0=0 of 1 epochs/);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'finetuned', 'manifest.json'), 'utf8')) as {
    verification: { pass: boolean };
    provenance: Record<string, string>;
    inputs: Array<{ name: string }>;
  };
  assert.equal(manifest.verification.pass, true);
  assert.equal(manifest.provenance['model_source'], `the model imported from ${pretrained}`);
  assert.equal(manifest.inputs[0]!.name, 'input', "the pretrained model's input name");
  fs.rmSync(dir, { recursive: true, force: true });
});

test('latephase train with model: { tfjs }: a TensorFlow.js model fine-tuned with late-phase BatchNorm and head into a verified bundle', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-tfjs-train-'));
  const source = tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [28, 28, 1],
        filters: 4,
        kernelSize: 3,
        strides: 2,
        padding: 'same',
        kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }),
      }),
      tfl.layers.batchNormalization(),
      tfl.layers.activation({ activation: 'relu' }),
      tfl.layers.globalAveragePooling2d({}),
      tfl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  await saveTfjsModel(source, dir);
  const config = path.join(dir, 'job.json');
  fs.writeFileSync(
    config,
    JSON.stringify({
      name: 'tfjs-finetune',
      model: { tfjs: 'model.json' },
      latePhase: { kinds: { batchNorm: true, head: true }, k: 2, t0: 0 },
      epochs: 1,
      batchSize: 64, // two ghost batches: one for the worker
      data: { source: 'mnist', trainSize: 128, testSize: 200 },
      output: 'out',
      workers: 1,
      backend: 'wasm',
    }),
  );
  const r = runCli(['train', config, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /gradient workers: 1 \+ this thread/, 'a gradient worker rebuilt the imported model from its recipe');
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'manifest.json'), 'utf8')) as {
    verification: { pass: boolean };
    provenance: Record<string, string>;
  };
  assert.equal(manifest.verification.pass, true);
  assert.equal(manifest.provenance['model_source'], `the model imported from ${path.join(dir, 'model.json')}`);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('model.init from a finished run: late-phase BatchNorm by name pattern, a frozen and an own-rate group, default workers; the frozen weights are the pretrained ones', async () => {
  await useBackend('wasm');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-init-'));
  const tiny = ['--set', 'data.trainSize=128', '--set', 'data.testSize=200', '--set', 'epochs=1', '--set', 'backend="wasm"', '--quiet'];
  const first = runCli(['train', 'mnist-cnn', '--set', 'latePhase.t0=0', '--set', 'latePhase.k=2', '--out', path.join(dir, 'pretrained'), ...tiny]);
  assert.equal(first.code, 0, first.stderr);
  const second = runCli([
    'train',
    'mnist-cnn',
    '--set',
    `model.init=${JSON.stringify(path.join(dir, 'pretrained'))}`,
    '--set',
    'latePhase.kinds={"batchNorm":["bn2"],"head":true}',
    '--set',
    'latePhase.t0=0',
    '--set',
    'latePhase.k=2',
    '--set',
    'optimizer.groups=[{"match":"conv1","freeze":true},{"match":"head","lr":0.05}]',
    '--out',
    path.join(dir, 'finetuned'),
    ...tiny,
  ]);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /init: \d+ tensors from .*pretrained\/latephase\.ckpt \(matched by name\)/);
  assert.match(second.stdout, /parameter groups: conv1 \(1 tensor\): frozen; head \(2 tensors\): lr 0\.05/);
  assert.match(
    second.stdout,
    /parallel layout: (workers|kernel threads) \((auto, (measured|remembered): |too little data to measure)/,
    'the default (auto) layout',
  );
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'finetuned', 'manifest.json'), 'utf8')) as {
    verification: { pass: boolean };
    provenance: Record<string, string>;
  };
  assert.equal(manifest.verification.pass, true);
  assert.match(manifest.provenance['model_source']!, /^the mnist-cnn model, initialised from .*pretrained$/);
  const conv1 = (run: string): Float32Array => {
    const file = path.join(dir, run, 'latephase.ckpt');
    const plan = planRun(resolveConfig(JSON.parse(readCheckpointHeader(file).meta['config'] as string) as JobConfigInput, file));
    const model = buildFromRecipe(plan.model.recipe(10));
    loadCheckpoint(model, file);
    const values = model
      .params()
      .find((p) => p.name === 'conv1.weight')!
      .variable.dataSync()
      .slice() as Float32Array;
    model.dispose();
    return values;
  };
  assert.deepEqual(conv1('finetuned'), conv1('pretrained'));
  fs.rmSync(dir, { recursive: true, force: true });
});
