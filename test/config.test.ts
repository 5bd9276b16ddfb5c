/**
 * The job config: one schema (zod) whose errors name the field, the value and what is allowed;
 * defaults; --set overrides; presets; data sources by config. End-to-end runs: config.e2e.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { applyOverride, presetConfig, resolveConfig } from '../src/config/resolve';
import { PRESETS } from '../src/config/presets';
import { loadJobData } from '../src/config/dataSource';
import { JobConfigInput } from '../src/config/schema';
import { overridesFromFlags } from '../cli/runCommand';
import { resolveJob } from '../cli/trainCommand';
import { augmentationFor, DEFAULT_TRAIN_CONFIG, planRun } from '../job/runPlan';
import { checkTrainConfig, trainLatePhase } from '../src/train/trainer';
import { mlp } from '../models/mlp';
import { NO_LATE_PHASE } from '../src/latephase/layerFactory';
import { ConfigError, DataError } from '../src/errors';
import { runMain } from './helpers';
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
  assert.throws(() => applyOverride(c, 'name.x=1'), /'name' holds .*, not a section/);
  assert.throws(() => applyOverride(c, 'a..b=1'), /malformed field path/);
  assert.throws(
    () => augmentationFor(planRun(resolveConfig(applyOverride(presetConfig('mnist-cnn'), 'augment={"flip":true}'), 'x')), [784]),
    /augment: the examples are flat \[784\]; give augment\.imageShape/,
  );
  assert.throws(
    () => augmentationFor(planRun(resolveConfig(applyOverride(presetConfig('mnist-cnn'), 'augment={"crop":4,"imageShape":[28,28,3]}'), 'x')), [784]),
    /does not hold the examples/,
  );
});

test('hostile keys (__proto__, constructor, prototype) anywhere in a config or a --set path are a named ConfigError; nothing is polluted', async () => {
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
  const r = await runMain(['compare', 'mnist-cnn', '--set', '__proto__.polluted=1']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^latephase: ConfigError: --set __proto__\.polluted=1: the key '__proto__' is not allowed/m);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

test('the small things a config says back: NaN named as NaN, too many ghost batches refused, mnist testSize honoured, the plain-training hint', async () => {
  const nan = applyOverride(presetConfig('mnist-cnn'), 'epochs=1');
  (nan as { epochs: number }).epochs = Number.NaN;
  assert.throws(() => resolveConfig(nan, 'x'), /epochs: got NaN;/);
  const ghost = resolveConfig(applyOverride(presetConfig('mnist-cnn'), 'ghostBatches=64'), 'x');
  assert.throws(
    () => checkTrainConfig(planRun(ghost).train),
    /ghostBatches 64 is more than a minibatch of 64 rows can hold: each ghost batch needs at least 8 rows .*so at most 8/,
  );
  const small = resolveConfig(applyOverride(presetConfig('mnist-cnn'), 'data.testSize=300'), 'x');
  assert.equal((await loadJobData(small.data)).test.y.length, 300);
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

test('a missing Fashion-MNIST names the install command', async () => {
  await assert.rejects(
    loadJobData({ source: 'fashion-mnist', dir: '/nonexistent/fashion' }),
    (e: unknown) => e instanceof DataError && /apt-get install dataset-fashion-mnist/.test(e.message),
  );
});

test("the README's YAML config example is a valid job config", () => {
  const text = fs.readFileSync(README, 'utf8');
  const block = /<!-- readme-config:start -->\s*```yaml\n([\s\S]*?)```/.exec(text);
  assert.ok(block?.[1], 'README has the config example');
  const cfg = resolveConfig(YAML.parse(block[1]) as never, 'README example');
  assert.equal(cfg.name, 'fashion-rank1');
  assert.deepEqual(cfg.latePhase.kinds, { rank1: true, head: true });
});

test('a model that does not fit the data is a ConfigError naming both, before training, and nothing is left behind', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-fit-'));
  const { dataForModel } = await import('../src/config/dataSource');
  const data = {
    train: { x: new Float32Array(784 * 2), y: Int32Array.of(0, 1), featureShape: [784], classes: 10 },
    test: { x: new Float32Array(784), y: Int32Array.of(0), featureShape: [784], classes: 10 },
    description: 'd',
  };
  assert.deepEqual(
    dataForModel(data, { name: 'm', inputShape: [28, 28, 1], outputShape: [10] }).train.featureShape,
    [28, 28, 1],
    'flat pixels viewed as the image',
  );
  assert.throws(
    () => dataForModel(data, { name: 'm', inputShape: [28, 28, 3], outputShape: [10] }),
    /model 'm' takes examples of shape \[28, 28, 3\], the data's are \[784\]/,
  );
  assert.throws(() => dataForModel(data, { name: 'm', inputShape: [784], outputShape: [3] }), /model 'm' predicts 3 classes, the data has 10/);
  const r = await runMain([
    'train',
    'mnist-cnn',
    '--set',
    'model.classes=3',
    '--set',
    'data.trainSize=64',
    '--set',
    'backend="wasm"',
    '--out',
    path.join(dir, 'out'),
    '--quiet',
  ]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /ConfigError: model 'mnist_cnn' predicts 3 classes, the data has 10/);
  assert.doesNotMatch(r.stdout, /epoch 1/);
  assert.ok(!fs.existsSync(path.join(dir, 'out')));
  fs.rmSync(dir, { recursive: true, force: true });
});
