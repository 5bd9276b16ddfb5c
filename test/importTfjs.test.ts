/**
 * TensorFlow.js layers models (built and saved here with @tensorflow/tfjs, as `model.save` writes
 * them): imported, they predict what tfjs's own predict gives; `latephase export model.json` turns
 * them into a verified ONNX bundle checked against that predict (the tfjs -> ONNX conversion);
 * late-phase kinds apply; and bad files are named errors (unsupported layer classes all named,
 * channels_first, unsupported activations, truncated shards, manifests that disagree, shard paths
 * outside the model's folder).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tfl from '@tensorflow/tfjs';
import { importTfjs } from '../import/tfjs/importTfjs';
import { foldMembers } from '../src/latephase/fold';
import { latePhaseUnits, releaseMembers } from '../src/latephase/members';
import { ConfigError, DataError } from '../src/errors';
import { runMain, useBackend } from './helpers';
import { saveTfjsModel } from './tfjsFixture';
import { planRun } from '../job/runPlan';
import { resolveConfig } from '../src/config/resolve';
import { buildFromRecipe } from '../src/nn/modelRecipe';
import { initFromPretrained } from '../job/pretrainedWeights';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-tfjs-'));

/** Save under the test's folder, as `tf.LayersModel.save` writes files. */
const save = (model: tfl.LayersModel, name: string): Promise<string> => saveTfjsModel(model, path.join(tmp, name));

let sequential: tfl.LayersModel;
let functional: tfl.LayersModel;
before(async () => {
  await useBackend('wasm');
  sequential = sequentialModel();
  seedWeights(sequential, 1);
  const input = tfl.input({ shape: [6, 6, 2] });
  const conv = tfl.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same' }).apply(input) as tfl.SymbolicTensor;
  const sum = tfl.layers.add().apply([input, conv]) as tfl.SymbolicTensor;
  const gate = tfl.layers.activation({ activation: 'sigmoid' }).apply(conv) as tfl.SymbolicTensor;
  const gated = tfl.layers.multiply().apply([sum, gate]) as tfl.SymbolicTensor;
  const depthwise = tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', activation: 'relu' }).apply(gated) as tfl.SymbolicTensor;
  const separable = tfl.layers
    .separableConv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' })
    .apply(depthwise) as tfl.SymbolicTensor;
  const joined = tfl.layers.concatenate().apply([separable, input]) as tfl.SymbolicTensor;
  const pooled = tfl.layers.globalAveragePooling2d({}).apply(joined) as tfl.SymbolicTensor;
  functional = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 3 }).apply(pooled) as tfl.SymbolicTensor });
  seedWeights(functional, 100);
});

/** The Sequential fixture's architecture (every layer class the Sequential path converts). */
function sequentialModel(): tfl.Sequential {
  return tfl.sequential({
    layers: [
      tfl.layers.rescaling({ inputShape: [8, 8, 3], scale: 1 / 255, offset: -0.5 }),
      tfl.layers.zeroPadding2d({ padding: 1 }),
      tfl.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }),
      tfl.layers.batchNormalization(),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu6' }),
      tfl.layers.averagePooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dropout({ rate: 0.5 }),
      tfl.layers.dense({ units: 5, activation: 'softmax' }),
    ],
  });
}

/** Seeded weights for every layer (tfjs initialises from an unseeded stream); variances positive, so BatchNorm statistics matter. */
function seedWeights(model: tfl.LayersModel, seed: number): void {
  for (const layer of model.layers)
    layer.setWeights(
      layer
        .getWeights()
        .map((w, i) =>
          /moving_variance/.test(layer.weights[i]!.name)
            ? tfl.randomUniform(w.shape, 0.5, 1.5, 'float32', seed++)
            : tfl.randomUniform(w.shape, -0.5, 0.5, 'float32', seed++),
        ),
    );
}

test("imported tfjs models (Sequential and functional) predict what tfjs's own predict gives", async () => {
  for (const [name, source, shape] of [
    ['sequential', sequential, [8, 8, 3]],
    ['functional', functional, [6, 6, 2]],
  ] as const) {
    const file = await save(source, name);
    const { model, report } = importTfjs(file);
    assert.deepEqual(model.inputShape, shape);
    const x = tfl.randomUniform([5, ...shape], 0, 255, 'float32', 3);
    const want = source.predict(x) as tfl.Tensor;
    const got = model.predict(x, 64);
    const compared = report.finalSoftmax ? tfl.softmax(got) : got;
    const diff = tfl.max(tfl.abs(tfl.sub(compared, want))).dataSync()[0]!;
    assert.ok(diff <= 1e-5, `${name}: max abs ${diff}`);
    assert.equal(report.finalSoftmax, name === 'sequential');
    tfl.dispose([x, want, got, compared]);
    model.dispose();
  }
});

test('latephase export model.json: a verified ONNX bundle that matches the tfjs predict within 1e-5', async () => {
  const file = await save(functional, 'functional-export');
  const out = path.join(tmp, 'converted');
  const r = await runMain(['export', file, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /against the tfjs model's own predict: max abs \S+ \(batches 1, 7; atol 0.00001\)/);
  assert.equal((await runMain(['verify-bundle', out])).code, 0);
  const seq = await save(sequential, 'sequential-export');
  const r2 = await runMain(['export', seq, '--out', path.join(tmp, 'converted-seq')]);
  assert.equal(r2.code, 0, r2.stderr);
  const printed = await runMain(['import', seq]);
  assert.match(printed.stdout, /producer TensorFlow.js layers \(Sequential\)/);
  assert.match(printed.stdout, /Conv2D x2 -> conv2d, relu/);
  const printedFunctional = await runMain(['import', file]);
  assert.match(printedFunctional.stdout, /SeparableConv2D x1 -> conv2d, relu/);
});

test('late-phase BatchNorm and head on an imported tfjs model start from its weights (tfjs epsilon and momentum kept)', async () => {
  const file = await save(sequential, 'sequential-late');
  const plain = importTfjs(file).model;
  const late = importTfjs(file, { latePhase: { batchNorm: true, head: true } }).model;
  assert.ok(latePhaseUnits(late).length >= 2);
  releaseMembers(late, 3, 0, 1);
  const folded = foldMembers(late);
  const x = tfl.randomUniform([4, 8, 8, 3], 0, 255, 'float32', 5);
  const [a, b] = [plain.predict(x, 64), folded.predict(x, 64)];
  const diff = tfl.max(tfl.abs(tfl.sub(a, b))).dataSync()[0]!;
  assert.ok(diff <= 1e-5, `max abs ${diff}`);
  tfl.dispose([x, a, b]);
  for (const m of [plain, late, folded]) m.dispose();
});

test('bad tfjs files are named errors: unsupported classes (all of them), channels_first, an unsupported activation, truncated or disagreeing shards, a shard outside the folder', async () => {
  const withLayers = async (name: string, layers: tfl.layers.Layer[]): Promise<string> => save(tfl.sequential({ layers }), name);
  const unsupported = await withLayers('unsupported', [
    tfl.layers.conv2d({ inputShape: [6, 6, 2], filters: 2, kernelSize: 3 }),
    tfl.layers.upSampling2d({ size: [2, 2] }),
    tfl.layers.flatten(),
    tfl.layers.dense({ units: 2 }),
    tfl.layers.layerNormalization(),
  ]);
  assert.throws(
    () => importTfjs(unsupported),
    (e: Error) =>
      e instanceof ConfigError &&
      /2 layer\(s\) of classes the importer does not support: '.*' \(UpSampling2D\), '.*' \(LayerNormalization\); supported: InputLayer, Conv2D/.test(
        e.message,
      ),
  );
  const elu = await withLayers('elu', [tfl.layers.dense({ inputShape: [4], units: 2, activation: 'elu' })]);
  assert.throws(() => importTfjs(elu), /layer '.*' \(Dense\): activation 'elu' is not supported/);
  const cf = path.join(tmp, 'channels-first');
  fs.cpSync(path.dirname(await withLayers('cf-source', [tfl.layers.conv2d({ inputShape: [6, 6, 2], filters: 2, kernelSize: 3 })])), cf, {
    recursive: true,
  });
  const json = JSON.parse(fs.readFileSync(path.join(cf, 'model.json'), 'utf8')) as {
    modelTopology: { config: { layers: Array<{ config: Record<string, unknown> }> } };
  };
  json.modelTopology.config.layers[0]!.config['data_format'] = 'channels_first';
  fs.writeFileSync(path.join(cf, 'model.json'), JSON.stringify(json));
  assert.throws(() => importTfjs(path.join(cf, 'model.json')), /data_format 'channels_first' is not supported/);
  const good = await save(functional, 'truncate');
  const shard = path.join(path.dirname(good), 'weights.bin');
  fs.writeFileSync(shard, fs.readFileSync(shard).subarray(0, 20));
  assert.throws(
    () => importTfjs(good),
    (e: Error) => e instanceof DataError && /hold 20 bytes, the manifest declares \d+ .*truncated shard or a manifest that disagrees/.test(e.message),
  );
  const escape = await save(functional, 'escape');
  const m = JSON.parse(fs.readFileSync(escape, 'utf8')) as { weightsManifest: Array<{ paths: string[] }> };
  m.weightsManifest[0]!.paths = ['../functional/weights.bin'];
  fs.writeFileSync(escape, JSON.stringify(m));
  assert.throws(() => importTfjs(escape), DataError);
  assert.throws(
    () => importTfjs(path.join(tmp, 'nope', 'model.json')),
    (e: Error) => e instanceof DataError && /cannot read/.test(e.message),
  );
  const cli = await runMain(['import', unsupported]);
  assert.equal(cli.code, 2);
  assert.doesNotMatch(cli.stderr, /\n\s+at /);
});

test('model.init from a tfjs model.json: a run imported from one tfjs model starts from the weights of another of the same architecture', async () => {
  const target = await save(sequential, 'init-target');
  const other = sequentialModel();
  seedWeights(other, 500);
  const source = await save(other, 'init-source');
  const plan = planRun(
    resolveConfig({ model: { tfjs: target, init: source }, data: { source: 'mnist' }, latePhase: { kinds: { batchNorm: true } } }, 'test'),
  );
  const model = buildFromRecipe(plan.model.recipe(5));
  assert.match(
    await initFromPretrained(model, plan.model, 5),
    /init: \d+ tensors from .*init-source\/model\.json \(matched by position: the names differ, every shape agrees\)/,
  ); // tfjs names layers per session
  const x = tfl.randomUniform([3, 8, 8, 3], 0, 255, 'float32', 8);
  const want = tfl.softmax(model.predict(x, 64));
  const got = other.predict(x) as tfl.Tensor;
  const diff = tfl.max(tfl.abs(tfl.sub(want, got))).dataSync()[0]!;
  assert.ok(diff <= 1e-5, `max abs ${diff}`);
  tfl.dispose([x, want, got]);
  model.dispose();
});
