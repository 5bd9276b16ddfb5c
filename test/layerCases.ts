/**
 * The table of layer cases every layer kind and every late-phase kind must appear in: each case
 * goes through checkLayer (gradients against finite differences and ONNX parity against
 * onnxruntime), and the coverage test fails when a lowering, an exported layer class or a
 * registered late-phase kind has no case here.
 */
import { Layer } from '../src/nn/layer';
import { Sequential } from '../src/nn/sequential';
import { Dense } from '../src/nn/dense';
import { Conv2d } from '../src/nn/conv2d';
import { BatchNorm } from '../src/nn/batchNorm';
import { ReLU } from '../src/nn/activation';
import { AvgPool, GlobalAvgPool, MaxPool } from '../src/nn/pooling';
import { Flatten, ImageReshape } from '../src/nn/reshape';
import { Standardize } from '../src/nn/standardize';
import { Residual } from '../src/nn/residual';
import { Embedding } from '../src/nn/embedding';
import { LSTM } from '../src/nn/lstm';
import { Rng } from '../src/nn/rng';
import { LayerFactory } from '../src/latephase/layerFactory';
import { LatePhaseChoice } from '../src/latephase/kindRegistry';
import { CheckLayerOptions } from './checkLayer';

export interface LayerCase {
  readonly name: string;
  readonly make: () => Layer;
  readonly shape: number[];
  readonly opts?: CheckLayerOptions;
  /** The late-phase choice the case's layers were built with (for kind coverage). */
  readonly choice?: LatePhaseChoice;
}

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
  { name: 'conv2d same stride 2 even input', make: () => new Conv2d('c', 2, 3, { kernelSize: 3, stride: 2, rng: rng() }), shape: [8, 8, 2] },
  { name: 'batchnorm on images (train mode)', make: () => new BatchNorm('bn', 3), shape: [4, 4, 3] },
  { name: 'batchnorm on vectors (train mode)', make: () => new BatchNorm('bn', 5), shape: [5] },
  { name: 'relu', make: () => new ReLU('r'), shape: [4, 4, 2], opts: PIECEWISE },
  { name: 'maxpool valid', make: () => new MaxPool('p', 2), shape: [6, 7, 2], opts: PIECEWISE },
  { name: 'maxpool same stride 1', make: () => new MaxPool('p', 3, 1, 'same'), shape: [5, 5, 2], opts: PIECEWISE },
  { name: 'avgpool same (padding excluded)', make: () => new AvgPool('p', 3, 2, 'same'), shape: [5, 6, 2] },
  { name: 'avgpool valid', make: () => new AvgPool('p', 2), shape: [6, 6, 2] },
  { name: 'globalavgpool', make: () => new GlobalAvgPool('g'), shape: [4, 5, 3] },
  {
    name: 'flatten of an image (NHWC order)',
    make: () => seq('flatten', [new Flatten('f'), new Dense('fc', 3 * 4 * 2, 3, { rng: rng() })]),
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
];

/** Layers built by the factory under a late-phase choice: each registered kind appears at least once. */
function kindCase(name: string, choice: LatePhaseChoice, make: (f: LayerFactory) => Layer, shape: number[], opts?: CheckLayerOptions): LayerCase {
  return { name, choice, make: () => make(new LayerFactory(choice, rng())), shape, ...(opts ? { opts } : {}) };
}

const IMAGE = [5, 5, 3];

export const LATE_PHASE_CASES: LayerCase[] = [
  kindCase('late-phase batchnorm', { batchNorm: true }, (f) => f.batchNorm('bn', 3), [4, 4, 3]),
  kindCase('late-phase head', { head: true }, (f) => f.head('head', 6, 4), [6]),
  kindCase('rank-1 dense', { rank1: true }, (f) => f.dense('r1d', 6, 4), [6]),
  kindCase('rank-1 conv2d strided, no bias', { rank1: true }, (f) => f.conv('r1c', 3, 4, { kernelSize: 3, stride: 2, bias: false }), IMAGE),
  kindCase('rank-1 lstm', { rank1: true }, (f) => f.lstm('r1l', 3, 4), [5, 3], { gradientTolerance: 5e-3 }),
  kindCase('template conv2d', { templates: 3 }, (f) => f.conv('tc', 3, 4, { kernelSize: 3 }), IMAGE),
  kindCase('template dense', { templates: 4 }, (f) => f.dense('td', 6, 4), [6]),
  kindCase('full conv2d', { full: ['fc'] }, (f) => f.conv('fc', 3, 4, { kernelSize: 3 }), IMAGE),
  kindCase('full lstm', { full: ['fl'] }, (f) => f.lstm('fl', 3, 4), [5, 3], { gradientTolerance: 5e-3 }),
];

export const LAYER_CASES: LayerCase[] = [...PLAIN_CASES, ...LATE_PHASE_CASES];
