/**
 * ONNX import: latephase's own exports come back as trainable models whose re-export computes the
 * same outputs under onnxruntime, the imported tfjs model agrees with onnxruntime, late-phase
 * kinds apply to an imported model, and every bad input the importer refuses is a ConfigError or
 * DataError naming the node, tensor or file. (Models exported by PyTorch: importTorchvision.e2e.ts.)
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { onnx } from 'onnx-proto';
import { buildModel } from '../models/index';
import { Rng } from '../src/nn/rng';
import { Sequential } from '../src/nn/sequential';
import { Model } from '../src/nn/model';
import { Conv2d } from '../src/nn/conv2d';
import { Dense } from '../src/nn/dense';
import { AvgPool, GlobalAvgPool } from '../src/nn/pooling';
import { Clip, HardSigmoid, HardSwish, LeakyReLU, Sigmoid, Tanh } from '../src/nn/activation';
import { exportOnnx } from '../export/onnx/exportOnnx';
import { verifyExport } from '../export/verify/verify';
import { foldMembers } from '../src/latephase/fold';
import { latePhaseUnits, releaseMembers } from '../src/latephase/members';
import { importOnnx } from '../import/onnx/importOnnx';
import { ConfigError, DataError } from '../src/errors';
import { float32Tensor, int64Tensor } from '../src/onnx/proto';
import { largestDifference, ortOutput, runMain, useBackend } from './helpers';

before(async () => {
  await useBackend('wasm');
});

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-import-'));

test("latephase's own exports (ResNet, BatchNorm folded or kept) import, re-export to the same outputs, and the imported model matches onnxruntime", async () => {
  for (const foldBatchNorm of [true, false]) {
    const source = foldMembers(buildModel('resnet-8', { seed: 3, classes: 10, latePhase: {} }));
    const original = exportOnnx(source, { foldBatchNorm });
    const file = path.join(tmp, `resnet8-${foldBatchNorm}.onnx`);
    fs.writeFileSync(file, original.bytes);
    const { model, report } = importOnnx(file);
    assert.deepEqual(model.inputShape, [32, 32, 3]);
    assert.equal(
      report.parameters,
      model.params().reduce((n, p) => n + p.variable.size, 0),
    );
    assert.ok(
      report.nodes.some((n) => n.op === 'Softmax' && n.became[0]!.startsWith('taken off')),
      'the probabilities output is taken off',
    );
    const again = exportOnnx(model);
    for (const n of [1, 3]) {
      const [a, b] = [await ortOutput(original.bytes, [n, 3, 32, 32]), await ortOutput(again.bytes, [n, 3, 32, 32])];
      assert.ok(largestDifference(a, b) <= 1e-5, `batch ${n}: max abs ${largestDifference(a, b)}`);
    }
    const values = Float32Array.from({ length: 4 * 32 * 32 * 3 }, (_, i) => Math.sin(i));
    const report2 = await verifyExport(model, again, [{ label: 'seeded', values, rows: 4 }]);
    assert.ok(report2.pass, `the imported tfjs model against onnxruntime: max abs ${report2.maxAbs}`);
    source.dispose();
    model.dispose();
  }
});

test('late-phase kinds apply to an imported model: BatchNorm and head become late-phase, starting from the imported values', async () => {
  const source = foldMembers(buildModel('resnet-8', { seed: 4, classes: 10, latePhase: {} }));
  const exported = exportOnnx(source, { foldBatchNorm: false });
  const file = path.join(tmp, 'resnet8-late.onnx');
  fs.writeFileSync(file, exported.bytes);
  const plain = importOnnx(file).model;
  const late = importOnnx(file, { latePhase: { batchNorm: true, head: true } }).model;
  assert.ok(latePhaseUnits(late).length > 5, 'late-phase units in the imported model');
  releaseMembers(late, 3, 0, 1);
  // released with sigma0 = 0, every member equals the imported model, so the fold exports it unchanged
  const folded = foldMembers(late);
  const [a, b] = [await ortOutput(exportOnnx(plain).bytes, [2, 3, 32, 32]), await ortOutput(exportOnnx(folded).bytes, [2, 3, 32, 32])];
  assert.ok(largestDifference(a, b) <= 1e-5, `max abs ${largestDifference(a, b)}`);
  for (const m of [source, plain, late, folded]) m.dispose();
});

test("flat-input models (latephase's MNIST CNN: a Reshape to NHWC and Transposes around the layout) import; a BatchNorm folded away is named when late-phase BatchNorm is chosen", async () => {
  const source = foldMembers(buildModel('mnist-cnn', { seed: 2, classes: 10, latePhase: {} }));
  for (const foldBatchNorm of [true, false]) {
    const original = exportOnnx(source, { foldBatchNorm });
    const file = path.join(tmp, `mnist-cnn-${foldBatchNorm}.onnx`);
    fs.writeFileSync(file, original.bytes);
    const { model, report } = importOnnx(file);
    assert.deepEqual(model.inputShape, [784]);
    assert.ok(
      report.nodes.some((n) => n.op === 'Transpose'),
      'the file has the layout transposes',
    );
    const again = exportOnnx(model);
    const [a, b] = [await ortOutput(original.bytes, [3, 784]), await ortOutput(again.bytes, [3, 784])];
    assert.ok(largestDifference(a, b) <= 1e-5, `BatchNorm folded ${foldBatchNorm}: max abs ${largestDifference(a, b)}`);
    model.dispose();
    if (foldBatchNorm)
      assert.throws(
        () => importOnnx(file, { latePhase: { batchNorm: true, head: true } }),
        (err: Error) =>
          err instanceof ConfigError &&
          /late-phase batchNorm is chosen, but the model has no BatchNormalization nodes .*kinds that still apply: .*head.*rank1/.test(err.message),
      );
    else importOnnx(file, { latePhase: { batchNorm: true, head: true } }).model.dispose();
  }
  source.dispose();
});

test('activations round-trip: Clip (ReLU6), LeakyRelu, HardSwish, HardSigmoid, Sigmoid, Tanh, and an average pool', async () => {
  const rng = new Rng(6);
  const c = (name: string, i: number, o: number): Conv2d => new Conv2d(name, i, o, { kernelSize: 3, rng });
  const net = new Sequential('net', [
    c('c1', 3, 4),
    new Clip('relu6', 0, 6),
    c('c2', 4, 4),
    new LeakyReLU('leaky', 0.2),
    new AvgPool('avg', 2),
    c('c3', 4, 4),
    new HardSwish('hswish'),
    c('c4', 4, 4),
    new HardSigmoid('hsig', 1 / 6, 0.5),
    new Sigmoid('sig'),
    new GlobalAvgPool('gap'),
    new Dense('fc', 4, 5, { rng }),
    new Tanh('tanh'),
  ]);
  const source = new Model('activations', net, [8, 8, 3]);
  const original = exportOnnx(source);
  const file = path.join(tmp, 'activations.onnx');
  fs.writeFileSync(file, original.bytes);
  const { model, report } = importOnnx(file);
  assert.deepEqual(
    ['Clip', 'LeakyRelu', 'HardSwish', 'HardSigmoid', 'Sigmoid', 'Tanh', 'AveragePool'].filter((op) => !report.nodes.some((n) => n.op === op)),
    [],
    'every activation is in the file',
  );
  const again = exportOnnx(model);
  const [a, b] = [await ortOutput(original.bytes, [3, 3, 8, 8]), await ortOutput(again.bytes, [3, 3, 8, 8])];
  assert.ok(largestDifference(a, b) <= 1e-5, `max abs ${largestDifference(a, b)}`);
  source.dispose();
  model.dispose();
});

/** A one-input ONNX model of `nodes` over `initializers` (float32 image input [N, 2, 4, 4] unless given). */
function modelFile(
  name: string,
  parts: { nodes: onnx.INodeProto[]; initializers?: onnx.ITensorProto[]; opset?: number; inputDims?: Array<number | string>; outputs?: string[] },
): string {
  const dims = parts.inputDims ?? ['N', 2, 4, 4];
  const valueInfo = (n: string, d: ReadonlyArray<number | string>): onnx.IValueInfoProto => ({
    name: n,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: d.map((v) => (typeof v === 'string' ? { dimParam: v } : { dimValue: v })) },
      },
    },
  });
  const proto: onnx.IModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: parts.opset ?? 17 }],
    producerName: 'latephase-test',
    graph: {
      name: name,
      node: parts.nodes,
      initializer: parts.initializers ?? [],
      input: [valueInfo('x', dims)],
      output: (parts.outputs ?? ['y']).map((o) => valueInfo(o, ['N'])),
    },
  };
  const file = path.join(tmp, `${name}.onnx`);
  fs.writeFileSync(file, onnx.ModelProto.encode(proto).finish());
  return file;
}

const conv = (w = float32Tensor('w', new Float32Array(3 * 2 * 3 * 3).fill(0.1), [3, 2, 3, 3])): onnx.ITensorProto => w;

test('bad input is a named error before any layer is made: unsupported operators (every one named), opsets, NaN weights, shapes, dynamic sizes, inputs and outputs; exit 2 from the CLI', async () => {
  const cases: Array<[() => string, new (m: string) => Error, RegExp]> = [
    [
      () =>
        modelFile('erf', {
          nodes: [
            { name: 'e1', opType: 'Erf', input: ['x'], output: ['a'] },
            { name: 'c', opType: 'Conv', input: ['a', 'w'], output: ['b'] },
            { name: 'e2', opType: 'LpNormalization', input: ['b'], output: ['y'] },
          ],
          initializers: [conv()],
        }),
      ConfigError,
      /2 node\(s\) use operators the importer does not support: 'e1' \(Erf, opset 17\), 'e2' \(LpNormalization, opset 17\); supported: Add, .*Conv/,
    ],
    [
      () => modelFile('old', { nodes: [{ opType: 'Relu', input: ['x'], output: ['y'] }], opset: 9 }),
      ConfigError,
      /opset 9 is not supported at import \(opsets 11 to 21\)/,
    ],
    [
      () =>
        modelFile('nan', {
          nodes: [{ name: 'c', opType: 'Conv', input: ['x', 'w'], output: ['y'] }],
          initializers: [
            float32Tensor(
              'w',
              Float32Array.from({ length: 36 }, (_, i) => (i === 5 ? Number.NaN : 0.1)),
              [2, 2, 3, 3],
            ),
          ],
        }),
      ConfigError,
      /initializer 'w': holds NaN or Inf values/,
    ],
    [
      () =>
        modelFile('channels', {
          nodes: [{ name: 'c', opType: 'Conv', input: ['x', 'w'], output: ['y'], attribute: [] }],
          initializers: [float32Tensor('w', new Float32Array(3 * 5 * 9), [3, 5, 3, 3])],
        }),
      ConfigError,
      /node 'c' \(Conv, opset 17\): the filter takes 5 channels per group \(1 group\(s\)\), the input has 2/,
    ],
    [
      () =>
        modelFile('raw', {
          nodes: [{ name: 'c', opType: 'Conv', input: ['x', 'w'], output: ['y'] }],
          initializers: [{ name: 'w', dataType: 1, dims: [3, 2, 3, 3], rawData: new Uint8Array(10) }],
        }),
      ConfigError,
      /initializer 'w': 10 data bytes for shape \[3, 2, 3, 3\]/,
    ],
    [
      () => modelFile('dynamic', { nodes: [{ opType: 'Relu', input: ['x'], output: ['y'] }], inputDims: ['N', 2, 'H', 4] }),
      ConfigError,
      /input 'x': dims \[N, 2, H, 4\]: only the batch dimension may be dynamic/,
    ],
    [
      () =>
        modelFile('group', {
          nodes: [{ name: 'dw', opType: 'Conv', input: ['x', 'w'], output: ['y'], attribute: [{ name: 'group', type: 2, i: 2 }] }],
          initializers: [float32Tensor('w', new Float32Array(3 * 2 * 9), [3, 2, 3, 3])],
        }),
      ConfigError,
      /node 'dw' \(Conv, opset 17\): the filter takes 2 channels per group \(2 group\(s\)\), the input has 2/,
    ],
    [
      () =>
        modelFile('reshape', {
          nodes: [{ name: 'r', opType: 'Reshape', input: ['x', 's'], output: ['y'] }],
          initializers: [int64Tensor('s', [0, 2, 16])],
        }),
      ConfigError,
      /node 'r' \(Reshape, opset 17\): a reshape to \[0, 2, 16\] is not supported/,
    ],
    [
      () =>
        modelFile('twoOut', {
          nodes: [
            { opType: 'Relu', input: ['x'], output: ['y'] },
            { opType: 'Relu', input: ['x'], output: ['z'] },
          ],
          outputs: ['y', 'z'],
        }),
      ConfigError,
      /2 graph outputs \(y, z\); the importer takes one output/,
    ],
  ];
  for (const [make, type, message] of cases) {
    const file = make();
    assert.throws(
      () => importOnnx(file),
      (err: Error) => err instanceof type && message.test(err.message),
      `${path.basename(file)}: ${message}`,
    );
  }
  // through the command line: exit 2, the message, no stack trace, nothing written
  const cli = await runMain(['import', path.join(tmp, 'erf.onnx')]);
  assert.equal(cli.code, 2);
  assert.match(cli.stderr, /ConfigError: .*'e1' \(Erf, opset 17\)/);
  assert.doesNotMatch(cli.stderr, /\n\s+at /);
  const exported = await runMain(['export', path.join(tmp, 'group.onnx'), '--out', path.join(tmp, 'never')]);
  assert.equal(exported.code, 2);
  assert.match(exported.stderr, /the filter takes 2 channels per group/);
  assert.ok(!fs.existsSync(path.join(tmp, 'never')) || fs.readdirSync(path.join(tmp, 'never')).length === 0, 'nothing written');
  const truncated = path.join(tmp, 'truncated.onnx');
  fs.writeFileSync(truncated, fs.readFileSync(modelFile('ok', { nodes: [{ opType: 'Relu', input: ['x'], output: ['y'] }] })).subarray(0, 30));
  assert.throws(() => importOnnx(truncated), DataError);
  assert.throws(
    () => importOnnx(path.join(tmp, 'missing.onnx')),
    (err: Error) => err instanceof DataError && /cannot read/.test(err.message),
  );
});
