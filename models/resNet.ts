/**
 * CIFAR-style ResNet-6n+2 (He et al. 2016; ResNet-20 is n = 3): conv3x3(16) -> BN -> ReLU, three
 * stages of n basic blocks (16, 32, 64 channels, strides 1, 2, 2), global average pool, linear.
 * Basic block: conv-BN-ReLU-conv-BN plus the shortcut, then ReLU. Where the shape changes the
 * shortcut is a 1x1 convolution with BN (option B), which adds 2.7k parameters to option A's
 * zero-padding: 0.27M in all for ResNet-20.
 */
import { Model } from '../src/nn/model';
import { Sequential } from '../src/nn/sequential';
import { Residual } from '../src/nn/residual';
import { ReLU } from '../src/nn/activation';
import { GlobalAvgPool } from '../src/nn/pooling';
import { Standardize } from '../src/nn/standardize';
import { Layer, walkLayers } from '../src/nn/layer';
import { Rng } from '../src/nn/rng';
import { ConfigError } from '../src/errors';
import { checkBlockCount, checkZooSize } from './sizeLimit';
import { BN_AND_HEAD, LayerFactory } from '../src/latephase/layerFactory';
import { LatePhaseChoice } from '../src/latephase/kindRegistry';
import { CIFAR_MEAN, CIFAR_STD } from './wideResNet';

interface ResNetOptions {
  /** 6n + 2: 20, 32, 44, 56, 110. */
  readonly depth?: number;
  readonly classes?: number;
  readonly inputShape?: readonly [number, number, number];
  readonly seed?: number;
  readonly latePhase?: LatePhaseChoice;
  /** Multiplies the 16/32/64 stage widths (1 is the paper's model; smaller for fast tests). */
  readonly widthScale?: number;
}

function basicBlock(make: LayerFactory, name: string, inC: number, outC: number, stride: number): Layer {
  const main = new Sequential(`${name}.main`, [
    make.conv(`${name}.conv1`, inC, outC, { kernelSize: 3, stride, bias: false }),
    make.batchNorm(`${name}.bn1`, outC),
    new ReLU(`${name}.relu1`),
    make.conv(`${name}.conv2`, outC, outC, { kernelSize: 3, bias: false }),
    make.batchNorm(`${name}.bn2`, outC),
  ]);
  const shortcut =
    inC === outC && stride === 1
      ? null
      : new Sequential(`${name}.shortcut`, [
          make.conv(`${name}.proj`, inC, outC, { kernelSize: 1, stride, bias: false }),
          make.batchNorm(`${name}.proj_bn`, outC),
        ]);
  return new Sequential(name, [new Residual(`${name}.add`, main, shortcut), new ReLU(`${name}.relu2`)]);
}

export function resNet(opts: ResNetOptions = {}): Model {
  const depth = opts.depth ?? 20;
  if (!Number.isInteger(depth) || (depth - 2) % 6 !== 0 || depth < 8)
    throw new ConfigError(`CIFAR ResNet depth must be 6n + 2 (20, 32, 44, 56, 110), got ${depth}`);
  const n = (depth - 2) / 6;
  const scale = opts.widthScale ?? 1;
  const widths = [16, 32, 64].map((w) => Math.max(1, Math.round(w * scale)));
  const inputShape = opts.inputShape ?? [32, 32, 3];
  checkBlockCount(`resnet-${depth}`, 3 * n);
  const blocks = widths.flatMap((w, stage) =>
    Array.from({ length: n }, (_, b) => ({
      stage,
      b,
      inC: b > 0 ? w : stage > 0 ? widths[stage - 1]! : widths[0]!,
      outC: w,
      stride: b === 0 && stage > 0 ? 2 : 1,
    })),
  );
  checkZooSize(`resnet-${depth}`, blocks);
  const make = new LayerFactory(opts.latePhase ?? BN_AND_HEAD, new Rng(opts.seed ?? 0));
  const layers: Layer[] = [
    new Standardize('normalize', CIFAR_MEAN, CIFAR_STD),
    make.conv('conv1', inputShape[2], widths[0]!, { kernelSize: 3, bias: false }),
    make.batchNorm('bn1', widths[0]!),
    new ReLU('relu1'),
  ];
  for (const { stage, b, inC, outC, stride } of blocks) layers.push(basicBlock(make, `stage${stage + 1}.block${b + 1}`, inC, outC, stride));
  layers.push(new GlobalAvgPool('pool'), make.head('head', widths[2]!, opts.classes ?? 10));
  const net = new Sequential(`resnet${depth}`, layers);
  make.checkAllUsed(walkLayers(net));
  return new Model(`resnet-${depth}`, net, inputShape, {
    preprocessing: 'none: pixels in [0, 1], HWC; per-channel normalisation is inside the model',
  });
}
