/** Small models covering every plain layer kind, shared by the parity and onnx.checker tests. */
import * as tf from '@tensorflow/tfjs-core';
import { Model } from '../src/nn/model';
import { Layer, TRAIN } from '../src/nn/layer';
import { Sequential } from '../src/nn/sequential';
import { Dense } from '../src/nn/dense';
import { Conv2d } from '../src/nn/conv2d';
import { BatchNorm } from '../src/nn/batchNorm';
import { ReLU } from '../src/nn/activation';
import { AvgPool, GlobalAvgPool, MaxPool } from '../src/nn/pooling';
import { Flatten, ImageReshape } from '../src/nn/reshape';
import { Standardize } from '../src/nn/standardize';
import { Residual } from '../src/nn/residual';
import { Rng } from '../src/nn/rng';
import { mnistCnn } from '../models/mnistCnn';
import { mlp } from '../models/mlp';
import { wideResNet } from '../models/wideResNet';
import { resNet } from '../models/resNet';
import { releaseMembers } from '../src/latephase/members';
import { foldMembers } from '../src/latephase/fold';

/** Give BatchNorms non-trivial running statistics by a few train-mode passes. */
export function warmStatistics(model: Model, seed: number): void {
  const rng = new Rng(seed);
  const per = model.inputShape.reduce((a, b) => a * b, 1);
  for (let i = 0; i < 3; i++) tf.tidy(() => model.forward(tf.add(tf.tensor(rng.normalArray(8 * per), [8, ...model.inputShape]), i), TRAIN));
}

const rng = (): Rng => new Rng(1);
const image = (name: string, layers: Layer[], shape: number[]): Model => new Model(name, new Sequential(name, layers), shape);

export const PARITY_CASES: Array<[string, () => Model]> = [
  ['dense', () => image('dense', [new Dense('fc', 6, 4, { rng: rng() })], [6])],
  ['dense without bias', () => image('dense_nobias', [new Dense('fc', 6, 4, { rng: rng(), bias: false })], [6])],
  ['conv2d same with bias (NCHW image input)', () => image('conv_same', [new Conv2d('c', 3, 4, { kernelSize: 3, rng: rng() })], [6, 5, 3])],
  ['conv2d valid stride 2', () => image('conv_valid_s2', [new Conv2d('c', 2, 3, { kernelSize: 3, stride: 2, padding: 'valid', bias: false, rng: rng() })], [9, 8, 2])],
  ['conv2d same stride 2 even input', () => image('conv_same_s2', [new Conv2d('c', 2, 3, { kernelSize: 3, stride: 2, rng: rng() })], [8, 8, 2])],
  ['batchnorm on images', () => image('bn4d', [new BatchNorm('bn', 3)], [4, 4, 3])],
  ['batchnorm on vectors', () => image('bn2d', [new BatchNorm('bn', 5)], [5])],
  ['relu', () => image('relu', [new ReLU('r')], [4, 4, 2])],
  ['maxpool valid', () => image('maxpool', [new MaxPool('p', 2)], [6, 7, 2])],
  ['maxpool same stride 1', () => image('maxpool_same', [new MaxPool('p', 3, 1, 'same')], [5, 5, 2])],
  ['avgpool same (padding excluded)', () => image('avgpool_same', [new AvgPool('p', 3, 2, 'same')], [5, 6, 2])],
  ['avgpool valid', () => image('avgpool_valid', [new AvgPool('p', 2)], [6, 6, 2])],
  ['globalavgpool', () => image('gap', [new GlobalAvgPool('g')], [4, 5, 3])],
  ['flatten of an image (NHWC order)', () => image('flatten', [new Flatten('f'), new Dense('fc', 3 * 4 * 2, 3, { rng: rng() })], [3, 4, 2])],
  ['imagereshape C=1', () => image('reshape_c1', [new ImageReshape('img', 4, 3, 1), new Conv2d('c', 1, 2, { kernelSize: 3, rng: rng() })], [12])],
  ['imagereshape C=3', () => image('reshape_c3', [new ImageReshape('img', 2, 3, 3), new Conv2d('c', 3, 2, { kernelSize: 1, rng: rng() }), new Flatten('f')], [18])],
  ['standardize', () => image('standardize', [new Standardize('n', 0.13, 0.31)], [7])],
  ['residual identity', () => image('res_id', [new Residual('b', new Sequential('m', [new Conv2d('c', 2, 2, { kernelSize: 3, rng: rng() }), new BatchNorm('bn', 2), new ReLU('r')]))], [5, 5, 2])],
  ['residual projection', () => image('res_proj', [new Residual('b', new Conv2d('c', 2, 4, { kernelSize: 3, stride: 2, rng: rng() }), new Conv2d('p', 2, 4, { kernelSize: 1, stride: 2, rng: rng() }))], [6, 6, 2])],
];

/** Late-phase models released with noise, given diverged statistics, then folded. */
function folded(model: Model): Model {
  releaseMembers(model, 3, 0.3, 1);
  warmStatistics(model, 3);
  const plain = foldMembers(model);
  model.dispose();
  return plain;
}

export const FOLDED_CASES: Array<[string, () => Model]> = [
  ['MNIST CNN, folded (exact)', () => folded(mnistCnn({ seed: 2, widths: [4, 8] }))],
  ['MLP, folded', () => folded(mlp({ inputs: 10, hidden: [8, 6], classes: 3, seed: 4 }))],
  ['WRN-10-1 rank-1, folded', () => folded(wideResNet({ depth: 10, widen: 1, inputShape: [8, 8, 3], latePhase: { batchNorm: true, head: true, rank1: true } }))],
  ['ResNet-8 templates, folded', () => folded(resNet({ depth: 8, widthScale: 0.5, inputShape: [8, 8, 3], latePhase: { batchNorm: false, head: true, templates: 3 } }))],
];
