/**
 * The table of layer cases every layer kind and every late-phase kind must appear in: each case
 * goes through checkLayer (gradients against finite differences and ONNX parity against
 * onnxruntime), and the coverage test fails when a lowering, an exported layer class or a
 * registered late-phase kind has no case here.
 */
import { LATE_PHASE_CASES } from './kinds/index';
import { Layer } from '../src/nn/layer';
import { Sequential } from '../src/nn/sequential';
import { Dense } from '../src/nn/dense';
import { Conv2d } from '../src/nn/conv2d';
import { BatchNorm } from '../src/nn/batchNorm';
import { Clip, HardSigmoid, HardSwish, LeakyReLU, ReLU, Sigmoid, Tanh } from '../src/nn/activation';
import { AvgPool, GlobalAvgPool, MaxPool } from '../src/nn/pooling';
import { ChannelsFirstFlatten, Flatten, ImageReshape } from '../src/nn/reshape';
import { Standardize } from '../src/nn/standardize';
import { Residual } from '../src/nn/residual';
import { Graph, GRAPH_INPUT } from '../src/nn/graph';
import { Pad2d } from '../src/nn/pad';
import { Add, Concatenate, Multiply } from '../src/nn/merge';
import { LatePhaseBatchNorm } from '../src/latephase/kinds/batchNorm';
import { Embedding } from '../src/nn/embedding';
import { LSTM } from '../src/nn/lstm';
import { Rng } from '../src/nn/rng';
import { CheckLayerOptions } from './checkLayer';
import { LayerCase } from './kindCase';

export type { LayerCase } from './kindCase';

const rng = (): Rng => new Rng(7);
const seq = (name: string, layers: Layer[]): Sequential => new Sequential(name, layers);
const PIECEWISE: CheckLayerOptions = { piecewise: true };

export const PLAIN_CASES: LayerCase[] = [
  { name: 'dense', make: () => new Dense('fc', 6, 4, { rng: rng() }), shape: [6] },
  { name: 'dense without bias', make: () => new Dense('fc', 6, 4, { rng: rng(), bias: false }), shape: [6] },
  { name: 'dense per time step (MatMul)', make: () => new Dense('fc', 5, 3, { rng: rng() }), shape: [4, 5] },
  { name: 'conv2d same with bias (NCHW image input)', make: () => new Conv2d('c', 3, 4, { kernelSize: 3, rng: rng() }), shape: [6, 5, 3] },
  {
    name: 'conv2d valid stride 2',
    make: () => new Conv2d('c', 2, 3, { kernelSize: 3, stride: 2, padding: 'valid', bias: false, rng: rng() }),
    shape: [9, 8, 2],
  },
  {
    name: 'conv2d grouped (2 groups) and depthwise (groups = channels), stride 2 and 1',
    make: () =>
      seq('g', [
        new Conv2d('grouped', 4, 6, { kernelSize: 3, stride: 2, groups: 2, rng: rng() }),
        new Conv2d('depthwise', 6, 6, { kernelSize: 3, groups: 6, bias: false, rng: rng() }),
      ]),
    shape: [7, 6, 4],
  },
  { name: 'conv2d same stride 2 even input', make: () => new Conv2d('c', 2, 3, { kernelSize: 3, stride: 2, rng: rng() }), shape: [8, 8, 2] },
  { name: 'batchnorm on images (train mode)', make: () => new BatchNorm('bn', 3), shape: [4, 4, 3] },
  { name: 'batchnorm on vectors (train mode)', make: () => new BatchNorm('bn', 5), shape: [5] },
  { name: 'relu', make: () => new ReLU('r'), shape: [4, 4, 2], opts: PIECEWISE },
  {
    name: 'clip (ReLU6 on scaled inputs)',
    make: () => seq('c', [new Standardize('s', 0, 0.25), new Clip('relu6', 0, 6)]),
    shape: [4, 4, 2],
    opts: PIECEWISE,
  },
  { name: 'leaky relu', make: () => new LeakyReLU('l', 0.1), shape: [3, 5], opts: PIECEWISE },
  { name: 'sigmoid', make: () => new Sigmoid('s'), shape: [6] },
  { name: 'tanh', make: () => new Tanh('t'), shape: [3, 3, 2] },
  { name: 'hard sigmoid (PyTorch constants)', make: () => new HardSigmoid('h', 1 / 6, 0.5), shape: [4, 3, 2], opts: PIECEWISE },
  { name: 'hard swish', make: () => seq('hs', [new Standardize('s', 0, 0.5), new HardSwish('h')]), shape: [4, 3, 2], opts: PIECEWISE },
  { name: 'maxpool valid', make: () => new MaxPool('p', 2), shape: [6, 7, 2], opts: PIECEWISE },
  { name: 'maxpool same stride 1', make: () => new MaxPool('p', 3, 1, 'same'), shape: [5, 5, 2], opts: PIECEWISE },
  { name: 'avgpool same (padding excluded)', make: () => new AvgPool('p', 3, 2, 'same'), shape: [5, 6, 2] },
  { name: 'avgpool valid', make: () => new AvgPool('p', 2), shape: [6, 6, 2] },
  { name: 'globalavgpool', make: () => new GlobalAvgPool('g'), shape: [4, 5, 3] },
  {
    name: 'pad2d: zeros before a valid convolution (PyTorch padding 1 on a stride-2 conv)',
    make: () => seq('p', [new Pad2d('pad', [1, 1, 1, 1]), new Conv2d('c', 2, 3, { kernelSize: 3, stride: 2, padding: 'valid', rng: rng() })]),
    shape: [7, 6, 2],
  },
  {
    name: 'pad2d: -Infinity before a max pool, asymmetric',
    make: () => seq('p', [new Pad2d('pad', [1, 0, 0, 2], -Infinity), new MaxPool('mp', 3, 2)]),
    shape: [7, 6, 2],
    opts: PIECEWISE,
  },
  {
    name: 'flatten of an image (NHWC order)',
    make: () => seq('flatten', [new Flatten('f'), new Dense('fc', 3 * 4 * 2, 3, { rng: rng() })]),
    shape: [3, 4, 2],
  },
  {
    name: 'channels-first flatten (C, H, W order, as PyTorch flattens)',
    make: () => seq('flatten_chw', [new ChannelsFirstFlatten('f'), new Dense('fc', 3 * 4 * 2, 3, { rng: rng() })]),
    shape: [3, 4, 2],
  },
  {
    name: 'imagereshape C=1',
    make: () => seq('reshape_c1', [new ImageReshape('img', 4, 3, 1), new Conv2d('c', 1, 2, { kernelSize: 3, rng: rng() })]),
    shape: [12],
  },
  {
    name: 'imagereshape C=3',
    make: () => seq('reshape_c3', [new ImageReshape('img', 2, 3, 3), new Conv2d('c', 3, 2, { kernelSize: 1, rng: rng() }), new Flatten('f')]),
    shape: [18],
  },
  { name: 'standardize', make: () => new Standardize('n', 0.13, 0.31), shape: [7] },
  {
    name: 'residual identity',
    make: () => new Residual('b', seq('m', [new Conv2d('c', 2, 2, { kernelSize: 3, rng: rng() }), new BatchNorm('bn', 2), new ReLU('r')])),
    shape: [5, 5, 2],
    opts: PIECEWISE,
  },
  {
    name: 'residual projection',
    make: () =>
      new Residual(
        'b',
        new Conv2d('c', 2, 4, { kernelSize: 3, stride: 2, rng: rng() }),
        new Conv2d('p', 2, 4, { kernelSize: 1, stride: 2, rng: rng() }),
      ),
    shape: [6, 6, 2],
  },
  { name: 'embedding (Gather)', make: () => new Embedding('emb', 7, 3, { rng: rng() }), shape: [6], opts: { vocab: 7 } },
  { name: 'lstm (ONNX LSTM op)', make: () => new LSTM('lstm', 3, 4, { rng: rng() }), shape: [5, 3], opts: { gradientTolerance: 5e-3 } },
  {
    name: 'graph: a squeeze-excitation gate (Multiply, broadcast) and a projection shortcut (Add)',
    make: () => {
      const r = rng();
      return new Graph('g', [
        { name: 'c1', op: new Conv2d('c1', 3, 4, { kernelSize: 3, rng: r }), inputs: [GRAPH_INPUT] },
        { name: 'bn', op: new BatchNorm('bn', 4), inputs: ['c1'] },
        { name: 'relu', op: new ReLU('relu'), inputs: ['bn'] },
        { name: 'gap', op: new GlobalAvgPool('gap'), inputs: ['relu'] },
        { name: 'fc', op: new Dense('fc', 4, 4, { rng: r }), inputs: ['gap'] },
        { name: 'gate', op: new ImageReshape('gate', 1, 1, 4), inputs: ['fc'] },
        { name: 'se', op: new Multiply('se'), inputs: ['relu', 'gate'] },
        { name: 'proj', op: new Conv2d('proj', 3, 4, { kernelSize: 1, rng: r }), inputs: [GRAPH_INPUT] },
        { name: 'sum', op: new Add('sum'), inputs: ['se', 'proj'] },
      ]);
    },
    shape: [6, 5, 3],
    opts: PIECEWISE,
  },
  {
    name: 'graph: a DenseNet concatenation of the input and a late-phase BatchNorm branch (nodes given out of order)',
    make: () => {
      const r = rng();
      return new Graph(
        'g',
        [
          { name: 'mix', op: new Conv2d('mix', 5, 2, { kernelSize: 1, rng: r }), inputs: ['cat'] },
          { name: 'cat', op: new Concatenate('cat'), inputs: [GRAPH_INPUT, 'conv'] },
          { name: 'bn', op: new LatePhaseBatchNorm('bn', 2), inputs: [GRAPH_INPUT] },
          { name: 'conv', op: new Conv2d('conv', 2, 3, { kernelSize: 3, rng: r }), inputs: ['bn'] },
        ],
        'mix',
      );
    },
    shape: [5, 5, 2],
  },
  {
    name: 'graph: vectors, a three-way Add and a Concatenate on the last axis',
    make: () => {
      const r = rng();
      return new Graph('g', [
        { name: 'a', op: new Dense('a', 6, 4, { rng: r }), inputs: [GRAPH_INPUT] },
        { name: 'b', op: new Dense('b', 6, 4, { rng: r }), inputs: [GRAPH_INPUT] },
        { name: 'c', op: new Dense('c', 6, 4, { rng: r }), inputs: [GRAPH_INPUT] },
        { name: 'sum', op: new Add('sum'), inputs: ['a', 'b', 'c'] },
        { name: 'cat', op: new Concatenate('cat', 0), inputs: ['sum', 'a'] },
      ]);
    },
    shape: [6],
  },
];

/** Late-phase cases: each built-in kind keeps its cases in its own test module, `test/kinds/<kind>.ts`, listed in test/kinds/index.ts. */
export { LATE_PHASE_CASES };

export const LAYER_CASES: LayerCase[] = [...PLAIN_CASES, ...LATE_PHASE_CASES];
