/**
 * The Graph container beyond checkLayer's gradient and parity cases: the errors a malformed graph
 * gets (named node, before any tensor), shape errors naming the node, and a graph model trained
 * with a late-phase BatchNorm inside, folded and exported (the fold maps its nodes).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Graph, GRAPH_INPUT } from '../src/nn/graph';
import { Add, Concatenate, Multiply } from '../src/nn/merge';
import { Dense } from '../src/nn/dense';
import { Conv2d } from '../src/nn/conv2d';
import { ReLU } from '../src/nn/activation';
import { GlobalAvgPool } from '../src/nn/pooling';
import { Model } from '../src/nn/model';
import { Rng } from '../src/nn/rng';
import { LatePhaseBatchNorm } from '../src/latephase/kinds/batchNorm';
import { latePhaseHead } from '../src/latephase/kinds/head';
import { foldMembers } from '../src/latephase/fold';
import { latePhaseUnits } from '../src/latephase/members';
import { trainLatePhase } from '../src/train/trainer';
import { DEFAULT_TRAIN_CONFIG } from '../job/runPlan';
import { exportOnnx } from '../export/onnx/exportOnnx';
import { verifyExport } from '../export/verify/verify';
import { ConfigError, ShapeError } from '../src/errors';
import { useBackend } from './helpers';

before(async () => {
  await useBackend('wasm');
});

test('a malformed graph is a ConfigError naming the node: a cycle, a missing input, a reused or reserved name, the wrong number of inputs, an unknown output', () => {
  const d = (name: string): Dense => new Dense(name, 4, 4, { rng: new Rng(1) });
  const cases: Array<[() => Graph, RegExp]> = [
    [
      () =>
        new Graph('g', [
          { name: 'a', op: d('a'), inputs: ['b'] },
          { name: 'b', op: d('b'), inputs: ['a'] },
        ]),
      /graph 'g': a cycle through 'a', 'b'/,
    ],
    [() => new Graph('g', [{ name: 'a', op: d('a'), inputs: ['nowhere'] }]), /node 'a' reads 'nowhere', which is not a node/],
    [
      () =>
        new Graph('g', [
          { name: 'a', op: d('a'), inputs: [GRAPH_INPUT] },
          { name: 'a', op: d('b'), inputs: [GRAPH_INPUT] },
        ]),
      /node name 'a' is used twice/,
    ],
    [() => new Graph('g', [{ name: GRAPH_INPUT, op: d('a'), inputs: [GRAPH_INPUT] }]), /'input' is reserved for the input/],
    [() => new Graph('g', [{ name: 'a', op: d('a'), inputs: [GRAPH_INPUT, GRAPH_INPUT] }]), /node 'a' \(dense\) needs exactly one input, got 2/],
    [() => new Graph('g', [{ name: 's', op: new Add('s'), inputs: [GRAPH_INPUT] }]), /node 's' \(add\) needs two or more inputs, got 1/],
    [() => new Graph('g', [{ name: 'a', op: d('a'), inputs: [GRAPH_INPUT] }], 'z'), /the output 'z' is not a node/],
  ];
  for (const [make, message] of cases) assert.throws(make, (err: Error) => err instanceof ConfigError && message.test(err.message), String(message));
});

test('shapes that do not merge are a ShapeError naming the graph, the node and the shapes', () => {
  const r = new Rng(2);
  const g = new Graph('g', [
    { name: 'a', op: new Dense('a', 6, 4, { rng: r }), inputs: [GRAPH_INPUT] },
    { name: 'b', op: new Dense('b', 6, 3, { rng: r }), inputs: [GRAPH_INPUT] },
    { name: 'sum', op: new Add('sum'), inputs: ['a', 'b'] },
  ]);
  assert.throws(
    () => g.outputShape([6]),
    (err: Error) => err instanceof ShapeError && /graph 'g', node 'sum': merge 'sum' \(add\): inputs \[4\], \[3\] do not broadcast/.test(err.message),
  );
  const ranks = new Graph('g', [
    { name: 'gap', op: new GlobalAvgPool('gap'), inputs: [GRAPH_INPUT] },
    { name: 'gate', op: new Multiply('gate'), inputs: [GRAPH_INPUT, 'gap'] },
  ]);
  assert.throws(() => ranks.outputShape([4, 4, 3]), /node 'gate': merge 'gate' \(multiply\): inputs of different ranks \[4, 4, 3\], \[3\]/);
  const cat = new Graph('g', [
    { name: 'c', op: new Conv2d('c', 3, 2, { kernelSize: 3, stride: 2, rng: r }), inputs: [GRAPH_INPUT] },
    { name: 'cat', op: new Concatenate('cat'), inputs: [GRAPH_INPUT, 'c'] },
  ]);
  assert.throws(() => cat.outputShape([6, 6, 3]), /node 'cat': merge 'cat' \(concatenate\): inputs \[6, 6, 3\], \[3, 3, 2\] differ outside axis -1/);
  assert.throws(() => new Concatenate('x', 3).outputShape([[2], [2]]), /axis 3 is outside a per-example rank of 1/);
});

test('a graph model with late-phase BatchNorm and head trains, folds (its nodes mapped) and exports verified', async () => {
  const rng = new Rng(3);
  const net = new Graph('net', [
    { name: 'conv', op: new Conv2d('conv', 1, 4, { kernelSize: 3, rng }), inputs: [GRAPH_INPUT] },
    { name: 'bn', op: new LatePhaseBatchNorm('bn', 4), inputs: ['conv'] },
    { name: 'relu', op: new ReLU('relu'), inputs: ['bn'] },
    { name: 'skip', op: new Conv2d('skip', 1, 4, { kernelSize: 1, rng }), inputs: [GRAPH_INPUT] },
    { name: 'sum', op: new Add('sum'), inputs: ['relu', 'skip'] },
    { name: 'gap', op: new GlobalAvgPool('gap'), inputs: ['sum'] },
    { name: 'head', op: latePhaseHead('head', 4, 3, { rng }), inputs: ['gap'] },
  ]);
  const model = new Model('graph-model', net, [6, 6, 1]);
  const n = 48;
  const data = {
    x: Float32Array.from({ length: n * 36 }, (_, i) => Math.sin(i * 0.37)),
    y: Int32Array.from({ length: n }, (_, i) => i % 3),
    featureShape: [6, 6, 1],
    classes: 3,
  };
  const result = await trainLatePhase(model, data, { ...DEFAULT_TRAIN_CONFIG, epochs: 3, t0: 1, k: 3, batchSize: 8 });
  assert.deepEqual(result.memberSteps.length, 3);
  assert.ok(latePhaseUnits(model).length >= 2, 'BatchNorm and head are late-phase inside the graph');
  const folded = foldMembers(model);
  assert.equal(latePhaseUnits(folded).length, 0);
  assert.ok(folded.net instanceof Graph && folded.net.nodes.map((n) => n.name).join() === net.nodes.map((n) => n.name).join());
  const exported = exportOnnx(folded);
  const rows = 9;
  const report = await verifyExport(folded, exported, [{ label: 'seeded', values: data.x.subarray(0, rows * 36), rows }]);
  assert.ok(report.pass, `max abs ${report.maxAbs}`);
  const before = tf.memory().numTensors;
  folded.dispose();
  model.dispose();
  assert.ok(tf.memory().numTensors < before);
});
