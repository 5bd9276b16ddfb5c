/**
 * The job config end to end (spawned `latephase train` runs): the user's IDX files, the user's own
 * model module (from a config in another folder), a text corpus; the resolved config recorded in
 * the bundle and the checkpoint. The config's unit tests are in config.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { applyOverride, presetConfig, resolveConfig } from '../src/config/resolve';
import { loadJobData } from '../src/config/dataSource';
import { featureRows } from '../src/data/dataset';
import { JOB_SCHEMA } from '../src/config/schema';
import { resolveJob } from '../cli/trainCommand';
import { ConfigError, DataError } from '../src/errors';
import { checkBundleFiles } from '../export/bundle/bundle';
import { CLI, idxFile } from './helpers';

const idx = idxFile;

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-config-'));

test("latephase train on the user's IDX files (gzipped): bundle with the resolved config, recorded in the checkpoint too", () => {
  const dir = tmp();
  const n = 96;
  const pixels = Uint8Array.from({ length: n * 784 }, (_, i) => ((i * 37) % 251) * (Math.floor(i / 784) % 10 > 4 ? 1 : 0.3));
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
  for (const [name, data] of [
    ['train-images.gz', idx([n, 28, 28], pixels)],
    ['train-labels.gz', idx([n], labels)],
    ['test-images', idx([n, 28, 28], pixels)],
    ['test-labels', idx([n], labels)],
  ] as const)
    fs.writeFileSync(path.join(dir, name), name.endsWith('.gz') ? zlib.gzipSync(data) : data);
  const config = {
    name: 'idx-run',
    model: { zoo: 'mnist-cnn' },
    latePhase: { k: 2, t0: 1 },
    epochs: 2,
    batchSize: 32,
    workers: 0,
    data: {
      source: 'idx',
      trainImages: path.join(dir, 'train-images.gz'),
      trainLabels: path.join(dir, 'train-labels.gz'),
      testImages: path.join(dir, 'test-images'),
      testLabels: path.join(dir, 'test-labels'),
    },
    output: path.join(dir, 'out'),
    evaluation: { ood: { source: 'mnist', trainCount: 9000 } },
    augment: { crop: 2, flip: true, imageShape: [28, 28, 1] },
  };
  fs.writeFileSync(path.join(dir, 'job.json'), JSON.stringify(config));
  const r = spawnSync(process.execPath, [CLI, 'train', path.join(dir, 'job.json'), '--quiet', '--set', 'seed=3'], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /data: 96 training \/ 96 test images from IDX files/);
  assert.match(r.stdout, /augmentation: random crop \(padding 2\), horizontal flip, drawn per \(seed, epoch, row\)/);
  const out = path.join(dir, 'out');
  assert.deepEqual(checkBundleFiles(out), []);
  const recorded = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as unknown;
  const resolved = JOB_SCHEMA.parse(recorded);
  assert.equal(resolved.seed, 3);
  assert.equal(resolved.optimizer.shared.momentum, 0.9, 'defaults are filled in');
  assert.ok(fs.readFileSync(path.join(out, 'latephase.ckpt')).includes(Buffer.from('\\"name\\":\\"idx-run\\"')), 'the checkpoint carries the config');
  const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')) as {
    provenance: Record<string, string>;
    evaluation: { folded: { accuracy: number }; ensemble: { nll: number }; members: unknown[]; ood: { folded: number }; file: string };
  };
  assert.equal(manifest.provenance['job'], 'idx-run');
  const metrics = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8')) as {
    folded: { accuracy: number; ece: number };
    members: unknown[];
    ood: { ensemble: number; folded: number };
  };
  assert.equal(metrics.folded.accuracy.toFixed(4), manifest.provenance['heldout_accuracy']);
  assert.equal(metrics.members.length, 2);
  assert.ok(metrics.ood.ensemble >= 0 && metrics.ood.ensemble <= 1 && metrics.folded.ece >= 0);
  assert.match(r.stdout, /OOD set: 9000 training \/ 1000 held-out MNIST digits/);
  assert.deepEqual(
    [
      manifest.evaluation.folded.accuracy,
      manifest.evaluation.ensemble.nll,
      manifest.evaluation.members.length,
      manifest.evaluation.ood.folded,
      manifest.evaluation.file,
    ],
    [metrics.folded.accuracy, (metrics as unknown as { ensemble: { nll: number } }).ensemble.nll, 2, metrics.ood.folded, 'metrics.json'],
    'the manifest carries the evaluation',
  );
  const records = fs
    .readFileSync(path.join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { kind: string; phase: string; epoch: number; test?: { model?: unknown; members?: unknown[]; ensemble?: unknown } });
  const epochs = records.filter((x) => x.kind === 'epoch');
  assert.deepEqual(
    epochs.map((x) => [x.epoch, x.phase]),
    [
      [1, 'plain'],
      [2, 'late'],
    ],
  );
  assert.ok(epochs[0]!.test!.model && epochs[1]!.test!.members!.length === 2 && epochs[1]!.test!.ensemble);
  assert.ok(
    records.some((x) => x.kind === 'step' && x.phase === 'late'),
    'step records through the late phase',
  );
  // The plots: well-formed SVG documents, each with its series in the legend.
  const plot = (name: string): string => fs.readFileSync(path.join(out, name), 'utf8');
  for (const name of ['loss.svg', 'learning-rate.svg', 'accuracy.svg', 'reliability.svg']) {
    const text = plot(name);
    assert.match(text, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"[\s\S]*<\/svg>$/, name);
    assert.equal((text.match(/<g[ >]/g) ?? []).length, (text.match(/<\/g>/g) ?? []).length, `${name}: balanced groups`);
  }
  const legend = (name: string): string[] => [...plot(name).matchAll(/<text[^>]*>([^<]+)<\/text>/g)].map((m) => m[1]!);
  for (const series of ['model (before T0)', 'member 0', 'member 1', 'ensemble (mean softmax)', 'layerwise average', 'folded (exported)'])
    assert.ok(legend('accuracy.svg').includes(series), `accuracy.svg has the series '${series}'`);
  for (const series of ['plain', 'late']) assert.ok(legend('loss.svg').includes(series), `loss.svg has the phase '${series}'`);
  for (const series of ['folded', 'ensemble']) assert.ok(legend('reliability.svg').includes(series), `reliability.svg has '${series}'`);
  assert.match(r.stdout, /OOD AUROC \(entropy\)\s+folded 0\.\d{4}, ensemble 0\.\d{4}/);
  assert.match(r.stdout, /folded model\s+\d+\.\d+%\s+NLL \d+\.\d{4}, ECE \d\.\d{4}, Brier \d\.\d{4}/);
  const printed = spawnSync(process.execPath, [CLI, 'train', path.join(dir, 'job.json'), '--print-config'], { encoding: 'utf8' });
  assert.equal(printed.status, 0);
  assert.deepEqual(JOB_SCHEMA.parse(JSON.parse(printed.stdout)), JOB_SCHEMA.parse({ ...config }), 'the printed config re-validates to the same');
  fs.rmSync(dir, { recursive: true, force: true });
});

test("the user's own model module: built from the config's recipe here and in a gradient worker; bad forms named", () => {
  const dir = tmp();
  const api = path.join(__dirname, '..', 'api', 'index.js');
  // A user's architecture, written against the public API only: a small MLP with a late-phase head.
  fs.writeFileSync(
    path.join(dir, 'myModel.js'),
    `const lp = require(${JSON.stringify(api)});
exports.tiny = (hidden, { seed, latePhase, classes }) => {
  const make = new lp.LayerFactory(latePhase, new lp.Rng(seed));
  const net = new lp.Sequential('net', [make.dense('fc1', 784, hidden), make.batchNorm('bn1', hidden), new lp.ReLU('relu'), make.head('head', hidden, classes)]);
  return new lp.Model('tiny', net, [784]);
};\n`,
  );
  // The config lives in its own folder and names the module and the output relative to itself;
  // the run starts from yet another folder.
  const out = path.join(dir, 'out');
  fs.mkdirSync(path.join(dir, 'configs'));
  fs.mkdirSync(path.join(dir, 'elsewhere'));
  const config = path.join(dir, 'configs', 'job.json');
  fs.writeFileSync(
    config,
    JSON.stringify({
      ...presetConfig('mnist-cnn'),
      model: { module: '../myModel.js', export: 'tiny', args: [12] },
      epochs: 2,
      latePhase: { t0: 1, k: 2 },
      data: { source: 'mnist', trainSize: 256, testSize: 500 },
      workers: 1,
      output: '../out',
    }),
  );
  const r = spawnSync(process.execPath, [CLI, 'train', config, '--quiet'], { encoding: 'utf8', timeout: 120_000, cwd: path.join(dir, 'elsewhere') });
  assert.equal(r.status, 0, r.stderr);
  // The bundle's config holds absolute paths: it resolves, and the bundle re-checks, from any folder.
  const stored = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as { model: { module: string }; output: string };
  assert.deepEqual([stored.model.module, stored.output], [path.join(dir, 'myModel.js'), out]);
  assert.equal((resolveJob(path.join(out, 'config.json'), {}).model as { module: string }).module, path.join(dir, 'myModel.js'));
  const recheck = spawnSync(process.execPath, [CLI, 'verify', path.join(out, 'model.onnx'), '--reference', 'model', '--trials', '1'], {
    encoding: 'utf8',
    cwd: os.tmpdir(),
  });
  assert.equal(recheck.status, 0, recheck.stderr);
  assert.match(recheck.stdout, /against the tfjs model rebuilt from the bundle: PASS/);
  assert.match(r.stdout, /ONNX verification\s+PASS/);
  if (os.cpus().length > 1) assert.match(r.stdout, /gradient workers: 1 \+ this thread/, 'a worker rebuilt the user model from its recipe');
  // workers share the cores: each runs its native kernels on one thread
  if (os.cpus().length > 1 && /on native kernels/.test(r.stdout)) assert.match(r.stdout, /native kernels on 1 thread per gradient thread/);
  assert.deepEqual(checkBundleFiles(out), []);
  assert.throws(
    () => resolveConfig(applyOverride(presetConfig('mnist-cnn'), 'model={"zo":"mlp"}'), 'x'),
    (e: unknown) =>
      e instanceof ConfigError &&
      /model: got \{"zo":"mlp"\}, which fits none of its forms \(form 1: zoo: .*no field 'zo'; form 2: module: /.test(e.message),
  );
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a text corpus by config: windows with next-symbol targets, one vocabulary over both parts, a char-lstm job end to end', async () => {
  const dir = tmp();
  const sentence = 'the quick brown fox jumps over the lazy dog. ';
  fs.writeFileSync(path.join(dir, 'corpus.txt'), sentence.repeat(80));
  fs.writeFileSync(path.join(dir, 'test.txt'), 'a lazy fox; ' + sentence.repeat(4));
  const data = (extra: Record<string, unknown>): ReturnType<typeof loadJobData> =>
    loadJobData(
      JOB_SCHEMA.parse({ model: { zoo: 'char-lstm' }, data: { source: 'text', file: path.join(dir, 'corpus.txt'), seqLen: 16, ...extra } }).data,
    );
  const split = await data({});
  const symbols = sentence.length * 80;
  assert.equal(split.train.y.length / 16, Math.floor((Math.round(symbols * 0.9) - 1 - 16) / 16) + 1, 'training windows of the first 90%');
  assert.deepEqual(split.train.labelShape, [16]);
  assert.deepEqual(split.labels, [...new Set(sentence)].sort());
  // Targets are the inputs shifted by one symbol.
  assert.deepEqual(Array.from(split.train.y.subarray(0, 15)), Array.from(featureRows(split.train, [0]).subarray(1, 16)));
  const separate = await data({ testFile: path.join(dir, 'test.txt') });
  assert.ok(separate.labels!.includes(';') && separate.labels!.includes('a'), 'the vocabulary covers the test text too');
  await assert.rejects(
    data({ seqLen: 5000 }),
    (e: Error) => e instanceof DataError && /text '.*corpus\.txt' \(training part\): .*too few for one sequence of 5000/.test(e.message),
  );
  fs.writeFileSync(path.join(dir, 'binary.txt'), Buffer.from(Array.from({ length: 4000 }, (_, i) => (i * 7) % 32)));
  await assert.rejects(
    loadJobData(JOB_SCHEMA.parse({ model: { zoo: 'char-lstm' }, data: { source: 'text', file: path.join(dir, 'binary.txt') } }).data),
    /not UTF-8 text/,
  );

  const config = {
    name: 'text-run',
    model: { zoo: 'char-lstm' },
    latePhase: { kinds: { rank1: true }, k: 2, t0: 1 },
    epochs: 2,
    batchSize: 32,
    workers: 0,
    data: { source: 'text', file: path.join(dir, 'corpus.txt'), seqLen: 16, stride: 8 },
    output: path.join(dir, 'out'),
  };
  fs.writeFileSync(path.join(dir, 'text.json'), JSON.stringify(config));
  const r = spawnSync(process.execPath, [CLI, 'train', path.join(dir, 'text.json'), '--quiet'], { encoding: 'utf8', timeout: 240_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /data: \d+ training \/ \d+ held-out windows of 16 symbols \(vocabulary 28\)/);
  assert.deepEqual(checkBundleFiles(path.join(dir, 'out')), []);
  const metrics = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'metrics.json'), 'utf8')) as { folded: { accuracy: number } };
  assert.ok(metrics.folded.accuracy > 1 / 28, `next-character accuracy ${metrics.folded.accuracy} is above chance`);
  fs.rmSync(dir, { recursive: true, force: true });
});
