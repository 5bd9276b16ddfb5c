/**
 * The fine-tuning controls: name patterns (their matching rules), late-phase kinds chosen by layer
 * name pattern, parameter groups (frozen parameters stay bit for bit, a group's learning rate scales
 * its step exactly, frozen values reach the gradient workers), and `model.init` (pretrained weights
 * from an ONNX file, matched by position, and from a latephase checkpoint, by name, predicting what
 * the source predicts; a BatchNorm-folded source, a head of another class count and an unknown
 * exclude pattern are named errors).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { mlp, MlpOptions } from '../models/mlp';
import { buildModel } from '../models/index';
import { Model } from '../src/nn/model';
import { Param } from '../src/nn/layer';
import { NamePatterns } from '../src/nn/namePattern';
import { Dataset } from '../src/data/dataset';
import { Rng } from '../src/nn/rng';
import { ModelRecipe, buildFromRecipe } from '../src/nn/modelRecipe';
import { latePhaseUnits } from '../src/latephase/members';
import { describeChoice } from '../src/latephase/kindRegistry';
import { ConfigError } from '../src/errors';
import { TrainConfig, trainLatePhase } from '../src/train/trainer';
import { saveCheckpoint } from '../src/train/checkpoint';
import { exportOnnx } from '../export/onnx/exportOnnx';
import { resolveConfig } from '../src/config/resolve';
import { JobConfigInput } from '../src/config/schema';
import { DEFAULT_TRAIN_CONFIG, planRun } from '../job/runPlan';
import { initFromPretrained } from '../job/pretrainedWeights';
import { plannedRuns } from '../job/compareJob';
import { useBackend } from './helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-finetune-unit-'));

before(async () => {
  await useBackend('wasm');
});

test('name patterns: * and ? wildcards, whole names or leading dot-separated parts, member suffixes ignored, unmatched patterns named', () => {
  const p = new NamePatterns(['fc', 'layer1', '/layer4/*', 'bn?'], 'optimizer.groups[0].match');
  assert.ok(p.matches('fc.weight'));
  assert.ok(p.matches('fc.bias[3]'));
  assert.ok(p.matches('layer1.0.conv1.weight'));
  assert.ok(!p.matches('layer10.conv.weight'));
  assert.ok(p.matches('/layer4/layer4.1/bn2/BatchNormalization.gamma'));
  assert.ok(p.matches('bn2'));
  assert.ok(!p.matches('bn12'));
  assert.ok(!p.matches('xfc.weight'));
  assert.doesNotThrow(() => p.checkAllMatched('parameter', []));
  const unused = new NamePatterns(['conv9', 'fc'], 'latePhase.kinds.full');
  unused.matches('fc.weight');
  assert.throws(() => unused.checkAllMatched('layer', ['fc']), /latePhase\.kinds\.full: 'conv9' matches no layer \(the model's: fc\)/);
  assert.throws(() => new NamePatterns([], 'x'), ConfigError);
});

const OPTS: MlpOptions = { inputs: 6, hidden: [8, 5], classes: 3, seed: 4 };
const kindsOf = (m: Model): string[] => latePhaseUnits(m).map((u) => `${u.latePhaseKind}:${u.name}`);

test('late-phase kinds by layer-name pattern: only the matched layers become late-phase; a pattern matching nothing is a ConfigError', () => {
  const some = mlp({ ...OPTS, latePhase: { batchNorm: ['bn2'], rank1: ['fc1'], head: true } });
  assert.deepEqual(kindsOf(some).sort(), ['batchnorm:bn2', 'head:head.bias', 'head:head.weight', 'rank1:fc1.weight']);
  assert.equal(describeChoice({ batchNorm: ['bn2'], rank1: 'fc1' }), 'batchnorm(bn2)+rank1(fc1)');
  const all = mlp({ ...OPTS, latePhase: { batchNorm: true } });
  assert.deepEqual(kindsOf(all), ['batchnorm:bn1', 'batchnorm:bn2']);
  const byHead = mlp({ ...OPTS, latePhase: { head: ['fc2'] } }); // a named dense layer as the head
  assert.deepEqual(kindsOf(byHead), ['head:fc2.weight']);
  assert.throws(
    () => mlp({ ...OPTS, latePhase: { batchNorm: ['bn9'] } }),
    /latePhase\.kinds\.batchNorm: 'bn9' matches no BatchNorm layer \(the model's: bn1, bn2\)/,
  );
  assert.throws(() => mlp({ ...OPTS, latePhase: { rank1: 7 } }), /late-phase\.rank1 must be true, false or a list of layer names/);
  for (const m of [some, all, byHead]) m.dispose();
});

const N = 48;
function data(): Dataset {
  const rng = new Rng(5);
  return { x: rng.normalArray(N * 6), y: Int32Array.from({ length: N }, (_, i) => (i * 7) % 3), featureShape: [6], classes: 3 };
}
const config = (over: Partial<TrainConfig>): TrainConfig => ({
  ...DEFAULT_TRAIN_CONFIG,
  epochs: 2,
  t0: 1,
  k: 2,
  batchSize: 16,
  schedule: { kind: 'constant' },
  ghostBatches: 2,
  ...over,
});
const valuesOf = (params: readonly Param[]): Map<string, Float32Array> =>
  new Map(params.map((p) => [p.name, p.variable.dataSync().slice() as Float32Array]));
const same = (a: Float32Array, b: Float32Array): boolean => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

test('parameter groups: frozen parameters stay bit for bit through both phases; the rest train', async () => {
  const model = mlp(OPTS);
  const before = valuesOf(model.params());
  await trainLatePhase(model, data(), config({ paramGroups: [{ match: ['fc1', 'bn1'], freeze: true }] }));
  for (const [name, after] of valuesOf(model.params())) {
    const frozen = /^(fc1|bn1)\./.test(name);
    const start = before.get(name.replace(/\[\d+\]$/, ''))!;
    assert.equal(same(after, start), frozen, `${name} ${frozen ? 'changed' : 'did not train'}`);
  }
  model.dispose();
});

test("parameter groups: a group's learning rate scales its first step exactly (plain SGD, one minibatch)", async () => {
  const oneStep = { epochs: 1, t0: 1, batchSize: N, ghostBatches: 1 };
  const sgd = { lr: 0.1, momentum: 0, nesterov: false, weightDecay: 0 };
  const run = async (groups: TrainConfig['paramGroups']): Promise<Map<string, Float32Array>> => {
    const model = mlp({ ...OPTS, latePhase: {} });
    await trainLatePhase(model, data(), config({ ...oneStep, shared: sgd, member: sgd, ...(groups && { paramGroups: groups }) }));
    const v = valuesOf(model.params());
    model.dispose();
    return v;
  };
  const start = valuesOf(mlp({ ...OPTS, latePhase: {} }).params());
  const base = await run(undefined);
  const grouped = await run([{ match: ['head'], lr: 0.3 }]);
  for (const [name, v] of grouped) {
    const s = start.get(name)!;
    const b = base.get(name)!;
    if (!name.startsWith('head.')) assert.ok(same(v, b), `${name} should step at the base rate`);
    else v.forEach((x, i) => assert.ok(Math.abs(x - s[i]! - 3 * (b[i]! - s[i]!)) < 1e-6, `${name}[${i}]: the step is not 3x the base step`));
  }
});

test('parameter groups: bad groups are ConfigErrors (a pattern matching no parameter, lr with freeze, neither)', async () => {
  const model = mlp(OPTS);
  await assert.rejects(
    trainLatePhase(model, data(), config({ paramGroups: [{ match: ['conv*'], freeze: true }] })),
    /optimizer\.groups\[0\]\.match: 'conv\*' matches no parameter/,
  );
  await assert.rejects(
    trainLatePhase(model, data(), config({ paramGroups: [{ match: ['fc1'], freeze: true, lr: 0.1 }] })),
    /give lr or freeze, not both/,
  );
  await assert.rejects(trainLatePhase(model, data(), config({ paramGroups: [{ match: ['fc1'] }] })), /give lr or freeze: true/);
  await assert.rejects(trainLatePhase(model, data(), config({ paramGroups: [{ match: ['*'], freeze: true }] })), /freeze every parameter/);
  model.dispose();
});

test('frozen parameters loaded in this thread only (as model.init loads them) reach the gradient workers: 1 worker trains what 0 do', async () => {
  const recipe: ModelRecipe = { module: require.resolve('../models/mlp'), exportName: 'mlp', args: [OPTS] };
  const finals: Map<string, Float32Array>[] = [];
  for (const workers of [0, 1]) {
    const model = buildFromRecipe(recipe);
    // values the recipe does not build: a worker that never received them would compute other gradients
    for (const p of model.params()) if (p.name.startsWith('fc1.')) tf.tidy(() => p.variable.assign(tf.mul(p.variable, 1.7)));
    await trainLatePhase(model, data(), config({ paramGroups: [{ match: ['fc1'], freeze: true }] }), { parallel: { workers, recipe } });
    finals.push(valuesOf(model.params()));
    model.dispose();
  }
  for (const [name, v] of finals[0]!) assert.ok(same(v, finals[1]!.get(name)!), `${name} differs between 0 and 1 workers`);
});

/** A run plan for the zoo mlp on MNIST (784 inputs) with `init`. */
function mlpPlan(
  init: JobConfigInput['model']['init'],
  latePhase: Record<string, unknown> = { batchNorm: true, head: true },
): ReturnType<typeof planRun> {
  return planRun(resolveConfig({ model: { zoo: 'mlp', init }, data: { source: 'mnist' }, latePhase: { kinds: latePhase } }, 'test'));
}

function predictionsAgree(a: Model, b: Model): number {
  const x = tf.randomNormal([5, 784], 0, 1, 'float32', 9);
  const [pa, pb] = [a.predict(x, 64), b.predict(x, 64)];
  const diff = tf.max(tf.abs(tf.sub(pa, pb))).dataSync()[0]!;
  tf.dispose([x, pa, pb]);
  return diff;
}

/** A "pretrained" zoo mlp: its own seed, BatchNorm statistics away from 0 and 1 so that they matter. */
function pretrained(): Model {
  const model = buildModel('mlp', { seed: 77, latePhase: {}, classes: 10 });
  for (const s of model.net.state()) tf.tidy(() => s.variable.assign(tf.add(tf.mul(s.variable, 1.3), 0.2)));
  return model;
}

test('model.init from an ONNX export (names differ: matched by position) and from a checkpoint (by name): the run starts predicting what the source predicts', async () => {
  const source = pretrained();
  const onnxFile = path.join(tmp, 'pretrained.onnx');
  fs.writeFileSync(onnxFile, exportOnnx(source, { foldBatchNorm: false }).bytes);
  const ckpt = path.join(tmp, 'pretrained.ckpt');
  const sourcePlan = mlpPlan(undefined, {});
  saveCheckpoint(source, ckpt, { config: JSON.stringify({ ...sourcePlan.record, seed: 77 }), classes: 10 });
  for (const [from, how] of [
    [onnxFile, /matched by position/],
    [ckpt, /matched by name/],
  ] as const) {
    const plan = mlpPlan(from);
    assert.match(plan.model.description, /initialised from .*pretrained/);
    const model = buildFromRecipe(plan.model.recipe(10));
    assert.ok(predictionsAgree(model, source) > 1e-3, 'the fresh model should differ from the source');
    assert.match(await initFromPretrained(model, plan.model, 10), how);
    assert.equal(latePhaseUnits(model).length, 4); // late-phase BatchNorm x2 and the head's weight and bias, from the pretrained values
    const diff = predictionsAgree(model, source);
    assert.ok(diff <= 1e-5, `${from}: max abs ${diff}`);
    model.dispose();
  }
  source.dispose();
});

test('model.init errors: a BatchNorm-folded export, a head of another class count (and its exclude), an exclude pattern matching nothing', async () => {
  const source = pretrained();
  const folded = path.join(tmp, 'folded.onnx');
  fs.writeFileSync(folded, exportOnnx(source, { foldBatchNorm: true }).bytes);
  const model = buildFromRecipe(mlpPlan(folded).model.recipe(10));
  await assert.rejects(initFromPretrained(model, mlpPlan(folded).model, 10), /no BatchNorm statistics: an eval-mode export folds BatchNorm/);
  const ckpt = path.join(tmp, 'ten.ckpt');
  saveCheckpoint(source, ckpt, { config: JSON.stringify(mlpPlan(undefined, {}).record), classes: 10 });
  const five = buildFromRecipe(mlpPlan(ckpt).model.recipe(5));
  await assert.rejects(
    initFromPretrained(five, mlpPlan(ckpt).model, 5),
    /'head\.weight' is \[256, 10\] in .*, \[256, 5\] in this model .*exclude it/,
  );
  const excluded = mlpPlan({ from: ckpt, exclude: ['head'] });
  assert.match(
    await initFromPretrained(five, excluded.model, 5),
    /init: 10 tensors from .*; 2 keep their initial values \(head\.weight, head\.bias\)/,
  );
  await assert.rejects(initFromPretrained(five, mlpPlan({ from: ckpt, exclude: ['fc9'] }).model, 5), /model\.init\.exclude: 'fc9' matches no tensor/);
  for (const m of [source, model, five]) m.dispose();
});

test("compare: model.init's {seed} gives each compared seed, and that seed's ensemble members, its own pretrained start", () => {
  const runs = plannedRuns(
    {
      name: 'ft',
      model: { zoo: 'mlp', init: { from: path.join(tmp, 'pre', 'seed-{seed}'), exclude: ['head'] } },
      latePhase: { k: 2, t0: 0 },
      data: { source: 'mnist' },
    },
    { seeds: [0, 3], variants: ['base', 'late', 'ensemble'], jobs: 2, out: path.join(tmp, 'cmp'), cli: 'unused' },
  );
  const startOf = (r: (typeof runs)[number]): unknown => r.config.model.init;
  for (const r of runs) {
    assert.deepEqual(startOf(r), { from: path.join(tmp, 'pre', `seed-${r.seed}`), exclude: ['head'] }, `${r.variant} seed ${r.seed}`);
  }
  // The ensemble's members train with seeds of their own but start where their row's seed starts.
  const members = runs.filter((r) => r.variant === 'ensemble' && r.seed === 3);
  assert.equal(members.length, 2);
  assert.deepEqual(
    members.map((r) => r.config.seed),
    [4000, 4001],
  );
});
