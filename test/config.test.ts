/**
 * The job config: one schema (zod) whose errors name the field, the value and what is allowed;
 * defaults; --set overrides; presets; data sources by config; `latephase train` end to end on
 * IDX files made here, with the resolved config recorded in the bundle and the checkpoint.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { applyOverride, presetConfig, resolveConfig } from '../src/config/resolve';
import { PRESETS } from '../src/config/presets';
import { loadJobData } from '../src/config/dataSource';
import { JOB_SCHEMA, JobConfigInput } from '../src/config/schema';
import { overridesFromFlags } from '../cli/runCommand';
import { resolveJob } from '../cli/trainCommand';
import { augmentationOf, trainConfigOf } from '../job/trainJob';
import { checkTrainConfig, DEFAULT_TRAIN_CONFIG, trainLatePhase } from '../src/train/trainer';
import { mlp } from '../models/mlp';
import { NO_LATE_PHASE } from '../src/latephase/layerFactory';
import { ConfigError, DataError } from '../src/errors';
import { checkBundleFiles } from '../export/bundle/bundle';
import { CLI, idxFile } from './helpers';
import * as YAML from 'yaml';
import { README } from './readmeExample';

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-config-'));

test('config errors name every bad field with its value and what is allowed; unknown keys are errors', () => {
  const input = {
    model: { zoo: 'mnist-cnn' },
    epochs: 0,
    latePhase: { k: 'five', color: 'red' },
    optimizer: { shared: { lr: -1 } },
    data: { source: 'mnist', trainCount: 9_999_999 },
    extra: 1,
  };
  assert.throws(
    () => resolveConfig(input as never, "'bad.json'"),
    (e: unknown) =>
      e instanceof ConfigError &&
      /latePhase\.k: got "five"; Invalid input: expected number/.test(e.message) &&
      /latePhase: unknown field\(s\) 'color'/.test(e.message) &&
      /optimizer\.shared\.lr: got -1; Too small/.test(e.message) &&
      /epochs: got 0; Too small/.test(e.message) &&
      /data\.trainCount: got 9999999; Too big/.test(e.message) &&
      /unknown field\(s\) 'extra'/.test(e.message),
  );
  assert.throws(() => resolveConfig({ model: { zoo: 'mlp' }, data: { source: 'nfs' } } as never, 'x'), /data\.source: got "nfs"/);
  assert.throws(() => resolveConfig({ data: { source: 'mnist' } } as never, 'x'), /model: missing/);
});

test('semantic checks: late-phase kinds and fold options through the registry, t0 against epochs', () => {
  const base = presetConfig('mnist-cnn');
  const bad: Array<[string, RegExp]> = [
    ['latePhase.kinds={"rank1":true,"templates":3}', /latePhase: .*rank1 and templates both reparametrise/],
    ['latePhase.kinds={"bn":true}', /unknown kind 'bn'; known: .*batchNorm/],
    ['latePhase.kinds={"templates":0.5}', /late-phase\.templates must be a positive integer, got 0\.5/],
    ['latePhase.fold={"batchNorm":"median"}', /fold option batchNorm must be one of exact, mean/],
    ['latePhase.t0=6', /latePhase\.t0 6 leaves no late phase in 6 epochs/],
  ];
  for (const [set, message] of bad)
    assert.throws(
      () => resolveConfig(applyOverride(base, set), 'x'),
      (e: unknown) => e instanceof ConfigError && message.test(e.message),
      set,
    );
  const plain = resolveConfig(applyOverride(applyOverride(base, 'latePhase.enabled=false'), 'latePhase.t0=6'), 'x');
  assert.equal(plain.latePhase.enabled, false);
});

test('--set: JSON values, strings, new sections; malformed assignments are named', () => {
  let c = presetConfig('mnist-cnn');
  c = applyOverride(c, 'optimizer.shared.lr=0.05');
  c = applyOverride(c, 'name=my-run');
  c = applyOverride(c, 'verify.ep=cpu');
  c = applyOverride(c, 'latePhase.fold.rank1=product');
  const cfg = resolveConfig(c, 'x');
  assert.equal(cfg.optimizer.shared.lr, 0.05);
  assert.equal(cfg.name, 'my-run');
  assert.deepEqual(cfg.latePhase.fold, { rank1: 'product' });
  assert.throws(() => applyOverride(c, 'epochs'), /--set expects path=value, got 'epochs'/);
  assert.throws(() => applyOverride(c, 'epochs.x=1'), /'epochs' holds 6, not a section/);
  assert.throws(() => applyOverride(c, 'a..b=1'), /malformed field path/);
  assert.throws(
    () => augmentationOf(resolveConfig(applyOverride(presetConfig('mnist-cnn'), 'augment={"flip":true}'), 'x'), [784]),
    /augment: the examples are flat \[784\]; give augment\.imageShape/,
  );
  assert.throws(
    () => augmentationOf(resolveConfig(applyOverride(presetConfig('mnist-cnn'), 'augment={"crop":4,"imageShape":[28,28,3]}'), 'x'), [784]),
    /does not hold the examples/,
  );
});

test('hostile keys (__proto__, constructor, prototype) anywhere in a config or a --set path are a named ConfigError; nothing is polluted', () => {
  const base = presetConfig('mnist-cnn');
  for (const key of ['__proto__', 'constructor', 'prototype']) {
    const named = new RegExp(`ConfigError|the key '${key}' is not allowed`);
    assert.throws(
      () => applyOverride(base, `${key}.polluted=1`),
      (e: Error) => e instanceof ConfigError && named.test(e.message),
    );
    assert.throws(() => applyOverride(base, `latePhase.kinds.${key}=1`), new RegExp(`the key '${key}' is not allowed`));
    assert.throws(() => applyOverride(base, `model={"${key}":{"polluted":1}}`), new RegExp(`field '${key}'.*the key '${key}'`));
    // JSON.parse and YAML make such keys own properties: a nested section, and one inside a list.
    const nested = JSON.parse(`{"name":"x","latePhase":{"kinds":{"${key}":{"polluted":1}}}}`) as JobConfigInput;
    assert.throws(() => resolveConfig(nested, 'x'), new RegExp(`field 'latePhase\\.kinds\\.${key}'`));
    const inList = JSON.parse(`{"name":"x","seeds":[{"${key}":1}]}`) as JobConfigInput;
    assert.throws(() => resolveConfig(inList, 'x'), new RegExp(`field 'seeds\\[0\\]\\.${key}'`));
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'c.yaml'), `name: x\nlatePhase:\n  kinds:\n    ${key}: {polluted: 1}\n`);
    assert.throws(() => resolveJob(path.join(dir, 'c.yaml'), {}), new RegExp(`config '.*c\\.yaml', field 'latePhase\\.kinds\\.${key}'`));
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined, 'Object.prototype untouched');
  const r = spawnSync(process.execPath, [CLI, 'compare', 'mnist-cnn', '--set', '__proto__.polluted=1'], { encoding: 'utf8' });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /^latephase: ConfigError: --set __proto__\.polluted=1: the key '__proto__' is not allowed/m);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

test('the small things a config says back: NaN named as NaN, too many ghost batches refused, mnist testSize honoured, the plain-training hint', async () => {
  const nan = applyOverride(presetConfig('mnist-cnn'), 'epochs=1');
  (nan as { epochs: number }).epochs = Number.NaN;
  assert.throws(() => resolveConfig(nan, 'x'), /epochs: got NaN;/);
  const ghost = resolveConfig(applyOverride(presetConfig('mnist-cnn'), 'ghostBatches=64'), 'x');
  assert.throws(
    () => checkTrainConfig(trainConfigOf(ghost)),
    /ghostBatches 64 is more than a minibatch of 64 rows can hold: each ghost batch needs at least 8 rows .*so at most 8/,
  );
  const small = resolveConfig(applyOverride(presetConfig('mnist-cnn'), 'data.testSize=300'), 'x');
  assert.equal(loadJobData(small.data).test.y.length, 300);
  const plain = mlp({ inputs: 4, hidden: [3], classes: 2, latePhase: NO_LATE_PHASE });
  await assert.rejects(
    trainLatePhase(
      plain,
      { x: new Float32Array(32), y: new Int32Array(8), featureShape: [4], classes: 2 },
      { ...DEFAULT_TRAIN_CONFIG, batchSize: 4 },
    ),
    /has no late-phase layers: choose late-phase kinds it has \(latePhase\.kinds\), or train it plainly \(latePhase\.enabled: false/,
  );
  plain.dispose();
});

test('every preset resolves, and `run` is the mnist-cnn preset with its flags as overrides', () => {
  for (const name of Object.keys(PRESETS)) assert.doesNotThrow(() => resolveConfig(presetConfig(name), name), name);
  const flags = { epochs: 3, t0: 2, k: 3, lr: 0.05, seed: 4, fold: 'mean', 'train-size': 500 } as const;
  const viaRun = resolveJob('mnist-cnn', { set: overridesFromFlags(flags) });
  assert.equal(viaRun.epochs, 3);
  assert.equal(viaRun.latePhase.k, 3);
  assert.equal(viaRun.optimizer.members.lr, 0.05);
  assert.deepEqual(viaRun.latePhase.fold, { batchNorm: 'mean' });
  assert.deepEqual(viaRun.data, { source: 'mnist', trainCount: 8000, splitSeed: 2021, trainSize: 500 });
  assert.throws(() => resolveJob('no-such-preset', {}), /neither a config file nor a preset; presets: mnist-cnn, fashion-cnn/);
});

test("the authors' configs (paper-notes section 3): SGD and SWA presets", () => {
  const cfg = (name: string): ReturnType<typeof resolveConfig> => resolveConfig(presetConfig(name), name);
  for (const classes of [10, 100]) {
    const sgd = cfg(`cifar${classes}_bn`);
    const swa = cfg(`cifar${classes}_bn_swa`);
    for (const c of [sgd, swa]) {
      assert.deepEqual(
        [c.epochs, c.batchSize, c.latePhase.k, c.latePhase.sigma0, c.optimizer.shared.lr, c.optimizer.shared.weightDecay],
        [200, 128, 10, 0, 0.1, 5e-4],
      );
      assert.deepEqual(c.latePhase.kinds, { batchNorm: true, head: true });
      assert.deepEqual(c.augment, { crop: 4, flip: true });
    }
    assert.deepEqual([sgd.latePhase.t0, sgd.schedule, sgd.swa], [120, { kind: 'annealing', start: 100, end: 180, endLr: 0.001 }, undefined]);
    assert.equal(sgd.optimizer.members.weightDecay, classes === 100 ? 5e-3 : 5e-4);
    assert.deepEqual(
      [swa.latePhase.t0, swa.schedule, swa.optimizer.members.weightDecay],
      [100, { kind: 'annealing', start: 80, end: 144, endLr: 0.05 }, 5e-4],
    );
    assert.equal(swa.epochs - swa.swa!.start, 40, 'SWA averages the ends of epochs 161-200');
  }
  assert.throws(() => resolveConfig({ ...presetConfig('mnist-cnn'), swa: { start: 2 } }, 'x'), /swa\.start 2 is before latePhase\.t0 4/);
  assert.throws(() => resolveConfig({ ...presetConfig('mnist-cnn'), swa: { start: 6 } }, 'x'), /swa\.start 6 is not an epoch of the run \(0\.\.5/);
});

test('a missing Fashion-MNIST names the install command', () => {
  assert.throws(
    () => loadJobData({ source: 'fashion-mnist', dir: '/nonexistent/fashion' }),
    (e: unknown) => e instanceof DataError && /apt-get install dataset-fashion-mnist/.test(e.message),
  );
});

const idx = idxFile;

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

test("the README's YAML config example is a valid job config", () => {
  const text = fs.readFileSync(README, 'utf8');
  const block = /<!-- readme-config:start -->\s*```yaml\n([\s\S]*?)```/.exec(text);
  assert.ok(block?.[1], 'README has the config example');
  const cfg = resolveConfig(YAML.parse(block[1]) as never, 'README example');
  assert.equal(cfg.name, 'fashion-rank1');
  assert.deepEqual(cfg.latePhase.kinds, { rank1: true, head: true });
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
      data: { source: 'mnist', trainSize: 256 },
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

test('a text corpus by config: windows with next-symbol targets, one vocabulary over both parts, a char-lstm job end to end', () => {
  const dir = tmp();
  const sentence = 'the quick brown fox jumps over the lazy dog. ';
  fs.writeFileSync(path.join(dir, 'corpus.txt'), sentence.repeat(80));
  fs.writeFileSync(path.join(dir, 'test.txt'), 'a lazy fox; ' + sentence.repeat(4));
  const data = (extra: Record<string, unknown>): ReturnType<typeof loadJobData> =>
    loadJobData(
      JOB_SCHEMA.parse({ model: { zoo: 'char-lstm' }, data: { source: 'text', file: path.join(dir, 'corpus.txt'), seqLen: 16, ...extra } }).data,
    );
  const split = data({});
  const symbols = sentence.length * 80;
  assert.equal(split.train.y.length / 16, Math.floor((Math.round(symbols * 0.9) - 1 - 16) / 16) + 1, 'training windows of the first 90%');
  assert.deepEqual(split.train.labelShape, [16]);
  assert.deepEqual(split.labels, [...new Set(sentence)].sort());
  // Targets are the inputs shifted by one symbol.
  assert.deepEqual(Array.from(split.train.y.subarray(0, 15)), Array.from(split.train.x.subarray(1, 16)));
  const separate = data({ testFile: path.join(dir, 'test.txt') });
  assert.ok(separate.labels!.includes(';') && separate.labels!.includes('a'), 'the vocabulary covers the test text too');
  assert.throws(
    () => data({ seqLen: 5000 }),
    (e: Error) => e instanceof DataError && /text '.*corpus\.txt' \(training part\): .*too few for one sequence of 5000/.test(e.message),
  );
  fs.writeFileSync(path.join(dir, 'binary.txt'), Buffer.from(Array.from({ length: 4000 }, (_, i) => (i * 7) % 32)));
  assert.throws(
    () => loadJobData(JOB_SCHEMA.parse({ model: { zoo: 'char-lstm' }, data: { source: 'text', file: path.join(dir, 'binary.txt') } }).data),
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
