/**
 * The deployment bundle a training run writes: golden data (model-zoo layout), a model card, a
 * Triton repository whose config matches the graph, all hashed in the manifest; `latephase
 * verify-bundle` re-checks it offline and catches a tampered file, golden output or Triton config.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCli, TINY, TINY_SETS } from './helpers';
import { verifyBundle } from '../export/bundle/verifyBundle';
import { checkTritonConfig, tritonConfig } from '../export/bundle/triton';
import { inspectOnnx } from '../export/verify/inspect';
import { readOnnxModel } from '../src/onnx/readOnnx';
import { decodeTensor, encodeTensor } from '../export/verify/golden';

test('a run writes goldens, a model card and a Triton repository; verify-bundle re-checks them and catches tampering', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-bundle-'));
  const out = path.join(dir, 'out');
  const r = runCli([...TINY, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')) as { files: Record<string, unknown> };
  for (const f of [
    'README.md',
    'test_data/test_data_set_0/input_0.pb',
    'test_data/test_data_set_1/output_1.pb',
    'triton/mnist-cnn/config.pbtxt',
    'triton/mnist-cnn/1/model.onnx',
    'triton/mnist-cnn/labels.txt',
  ])
    assert.ok(f in manifest.files, `the manifest hashes ${f}`);
  const card = fs.readFileSync(path.join(out, 'README.md'), 'utf8');
  for (const section of ['## What it is', '## Intended use', '## Training data and recipe', '## Evaluation', '## Limitations', '## How to run it'])
    assert.ok(card.includes(section), `model card has ${section}`);
  assert.match(card, /\| \*\*this model\*\* .* \| \d+\.\d+% \| \d\.\d{4} \| \d\.\d{4} \| \d\.\d{4} \|/);
  const config = fs.readFileSync(path.join(out, 'triton/mnist-cnn/config.pbtxt'), 'utf8');
  assert.match(config, /platform: "onnxruntime_onnx"\nmax_batch_size: 64\ndynamic_batching \{ \}/);
  assert.match(
    checkTritonConfig(
      config.replace('dynamic_batching { }\n', ''),
      'mnist-cnn',
      inspectOnnx(readOnnxModel(path.join(out, 'model.onnx')).model),
    ).join(),
    /no dynamic_batching/,
  );
  assert.match(config, /name: "input"\n\s+data_type: TYPE_FP32\n\s+dims: \[ 784 \]/);
  assert.match(config, /name: "logits"\n\s+data_type: TYPE_FP32\n\s+dims: \[ 10 \]\n\s+label_filename: "labels.txt"/);
  const inspection = inspectOnnx(readOnnxModel(path.join(out, 'model.onnx')).model);
  assert.deepEqual(checkTritonConfig(config, 'mnist-cnn', inspection), []);
  // A config that does not fit the graph is caught statically.
  assert.deepEqual(checkTritonConfig(config.replace('dims: [ 784 ]', 'dims: [ 28, 28 ]'), 'mnist-cnn', inspection), [
    "input 'input': dims [28, 28], the graph gives [784]",
  ]);
  assert.match(
    checkTritonConfig(tritonConfig('mnist-cnn', inspection).replace('max_batch_size: 64', 'max_batch_size: 0'), 'mnist-cnn', inspection).join(),
    /max_batch_size 0, but the graph has a dynamic batch axis/,
  );

  const ok = runCli(['verify-bundle', out]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /every file matches the manifest/);
  assert.match(ok.stdout, /golden data: PASS \(2 set\(s\)/);
  assert.match(ok.stdout, /triton\/mnist-cnn: config matches the graph/);

  // Tampering: a golden output changed and re-hashed would still fail the replay; unhashed, the hash check fails first.
  const goldenFile = path.join(out, 'test_data/test_data_set_1/output_0.pb');
  const golden = decodeTensor(fs.readFileSync(goldenFile), goldenFile);
  const shifted = Float32Array.from(golden.data as Float32Array, (v) => v + 0.5);
  fs.writeFileSync(goldenFile, encodeTensor({ ...golden, data: shifted }));
  const tampered = await verifyBundle(out);
  assert.equal(tampered.pass, false);
  assert.deepEqual(tampered.files, ['test_data/test_data_set_1/output_0.pb: SHA-256 differs from the manifest']);
  assert.equal(tampered.golden?.pass, false, 'the replay fails on the changed output');
  const cli = runCli(['verify-bundle', out]);
  assert.equal(cli.code, 3);
  assert.match(cli.stderr, /VerificationError: bundle '.*' does not check out/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('--ensemble: the implicit ensemble is exported beside the folded model, verified, and described in the manifest', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-ensemble-'));
  const out = path.join(dir, 'out');
  const r = runCli([...TINY, '--out', out, '--ensemble']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /implicit ensemble export: 2 members, \d+ shared tensors stored once, BatchNorm 0 folded \/ 4 kept; verification PASS .*invariants hold/,
  );
  assert.match(r.stdout, /ensemble export\s+PASS: ensemble\.onnx/);
  const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')) as {
    files: Record<string, unknown>;
    ensemble: { file: string; outputs: Array<{ name: string; role: string; dims: unknown[] }>; verification: { pass: boolean } };
  };
  assert.ok('ensemble.onnx' in manifest.files && 'ensemble-verification.json' in manifest.files);
  assert.deepEqual(
    manifest.ensemble.outputs.map((o) => [o.name, o.role, o.dims]),
    [
      ['probabilities', 'probabilities', ['N', 10]],
      ['entropy', 'entropy', ['N', 1]],
      ['mutual_information', 'mutual_information', ['N', 1]],
    ],
  );
  assert.equal(manifest.ensemble.verification.pass, true);
  const report = JSON.parse(fs.readFileSync(path.join(out, 'ensemble-verification.json'), 'utf8')) as {
    invariants: { pass: boolean; probabilitySum: number };
  };
  assert.ok(report.invariants.pass && report.invariants.probabilitySum < 1e-5);
  const verify = runCli(['verify', path.join(out, 'ensemble.onnx'), '--trials', '1']);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  assert.match(verify.stdout, /output\s+entropy: FLOAT \[N, 1\]/);
  // Triton serves the ensemble beside the folded model, its probabilities labelled, batched dynamically.
  const served = path.join(out, 'triton', 'mnist-cnn_ensemble');
  assert.ok(fs.readFileSync(path.join(served, '1', 'model.onnx')).equals(fs.readFileSync(path.join(out, 'ensemble.onnx'))));
  const config = fs.readFileSync(path.join(served, 'config.pbtxt'), 'utf8');
  assert.match(config, /name: "mnist-cnn_ensemble"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 64\ndynamic_batching \{ \}/);
  assert.match(config, /name: "probabilities"\n\s+data_type: TYPE_FP32\n\s+dims: \[ 10 \]\n\s+label_filename: "labels.txt"/);
  assert.match(config, /name: "mutual_information"\n\s+data_type: TYPE_FP32\n\s+dims: \[ 1 \]\n\s+\}/);
  const check = runCli(['verify-bundle', out]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /mnist-cnn_ensemble/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('fp16 weights and external data in a bundle: written, checked against fp32, replayed by verify-bundle', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-fp16-'));
  const out = path.join(dir, 'out');
  const sets = [...TINY_SETS, 'workers=0', `output=${out}`];
  const r = runCli([
    'train',
    'mnist-cnn',
    '--quiet',
    ...sets.flatMap((s) => ['--set', s]),
    '--set',
    'export.fp16=true',
    '--set',
    'export.externalDataThreshold=1024',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /fp16 weights: \d+ tensors \(0 clipped, \d+ flushed to 0\); against fp32 on \d+ held-out examples PASS/);
  assert.match(r.stdout, /BatchNorm folding pass: 2 folded into Conv\/Gemm/);
  for (const f of ['model.onnx.data', 'model.fp16.onnx', 'model.fp16.onnx.data', 'fp16-verification.json', 'triton/mnist-cnn/1/model.onnx.data'])
    assert.ok(fs.existsSync(path.join(out, f)), f);
  const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')) as {
    files: Record<string, unknown>;
    fp16: { verification: { pass: boolean } };
  };
  assert.ok('model.onnx.data' in manifest.files && manifest.fp16.verification.pass);
  const check = runCli(['verify-bundle', out]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const fp16 = runCli(['verify', path.join(out, 'model.fp16.onnx'), '--trials', '1']);
  assert.equal(fp16.code, 0, fp16.stdout + fp16.stderr);
  assert.match(fp16.stdout, /FLOAT16|Cast x\d+/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('verify --reference model: our export against the tfjs model rebuilt from its bundle; a swapped model fails', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-refmodel-'));
  const [a, b] = [path.join(dir, 'a'), path.join(dir, 'b')];
  assert.equal(runCli([...TINY, '--out', a]).code, 0);
  assert.equal(runCli([...TINY, '--out', b, '--seed', '4']).code, 0);
  const ok = runCli(['verify', path.join(a, 'model.onnx'), '--reference', 'model', '--trials', '1']);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /against the tfjs model rebuilt from the bundle: PASS/);
  // Another run's model in this bundle's place: onnxruntime agrees with itself, the tfjs model does not.
  fs.copyFileSync(path.join(b, 'model.onnx'), path.join(dir, 'swapped.onnx'));
  const target = fs.realpathSync(path.join(a, 'model.onnx'));
  fs.copyFileSync(path.join(dir, 'swapped.onnx'), target);
  const bad = runCli(['verify', path.join(a, 'model.onnx'), '--reference', 'model', '--trials', '1']);
  assert.equal(bad.code, 3, bad.stdout + bad.stderr);
  assert.match(bad.stderr, /the tfjs model rebuilt from the bundle differs/);
  const foreign = runCli(['verify', path.join(dir, 'swapped.onnx'), '--reference', 'model']);
  assert.equal(foreign.code, 2);
  assert.match(foreign.stderr, /--reference model needs the bundle beside/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('latephase bundle: a new bundle from a trained model without training; only post-training fields may change', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-rebundle-'));
  const [a, b] = [path.join(dir, 'a'), path.join(dir, 'b')];
  assert.equal(runCli([...TINY, '--out', a]).code, 0);
  const r = runCli(['bundle', a, '--set', 'export.ensemble=true', '--set', 'export.fp16=true', '--out', b]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /model: restored from .*latephase\.ckpt/);
  assert.doesNotMatch(r.stdout, /epoch \d+\//, 'no training');
  const before = (out: string): string => /accuracy before late phase\s+(.+)/.exec(out)?.[1] ?? '(missing)';
  assert.match(before(r.stdout), /^\d+\.\d+%$/, 'a late-phase model has an accuracy before its late phase, read from the checkpoint');
  const metrics = (d: string): { folded: { accuracy: number; nll: number } } => JSON.parse(fs.readFileSync(path.join(d, 'metrics.json'), 'utf8'));
  assert.deepEqual(metrics(b).folded, metrics(a).folded, 'the same trained model, evaluated the same');
  for (const f of ['ensemble.onnx', 'model.fp16.onnx', 'metrics.jsonl', 'README.md']) assert.ok(fs.existsSync(path.join(b, f)), f);
  assert.equal(runCli(['verify-bundle', b]).code, 0);
  const bad = runCli(['bundle', a, '--set', 'epochs=5', '--out', path.join(dir, 'c')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /only export, verify, evaluation, output, backend, name, workers may change, not epochs: 2 -> 5/);
  fs.rmSync(dir, { recursive: true, force: true });
});
