/**
 * Pre-activation Wide ResNet WRN-d-k as in the authors' code (paper-notes section 2): a 3x3 stem
 * conv to 16 channels, three groups of n = (d - 4) / 6 blocks of widths 16k, 32k, 64k (strides
 * 1, 2, 2), each block BN -> ReLU -> conv3x3 -> BN -> ReLU -> conv3x3 with a 1x1 projection
 * shortcut when the channel count changes (the projection then shares the block's first BN-ReLU),
 * and a final BN -> ReLU -> global average pool -> linear. Convolutions have no bias; Kaiming-normal
 * init; BN gamma 1, beta 0; head bias 0. No dropout.
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
import { BN_AND_HEAD, LayerFactory } from '../src/latephase/layerFactory';
import { LatePhaseChoice } from '../src/latephase/kindRegistry';
import { checkBlockCount, checkZooSize } from './sizeLimit';

/** CIFAR-10 training-set channel statistics for pixels in [0, 1]. */
export const CIFAR_MEAN = [0.4914, 0.4822, 0.4465] as const;
export const CIFAR_STD = [0.247, 0.2435, 0.2616] as const;

interface WideResNetOptions {
  readonly depth: number;
  readonly widen: number;
  readonly classes?: number;
  /** Input image [H, W, C]; default CIFAR's [32, 32, 3]. */
  readonly inputShape?: readonly [number, number, number];
  readonly seed?: number;
  readonly latePhase?: LatePhaseChoice;
  /** Per-channel input statistics (default CIFAR's); normalisation lives inside the model. */
  readonly normalize?: { readonly mean: readonly number[]; readonly std: readonly number[] } | null;
}

function block(make: LayerFactory, name: string, inC: number, outC: number, stride: number): Layer {
  const preact = (suffix: string, c: number): Layer[] => [make.batchNorm(`${name}.bn${suffix}`, c), new ReLU(`${name}.relu${suffix}`)];
  const main = new Sequential(`${name}.main`, [
    make.conv(`${name}.conv1`, inC, outC, { kernelSize: 3, stride, bias: false }),
    ...preact('2', outC),
    make.conv(`${name}.conv2`, outC, outC, { kernelSize: 3, bias: false }),
  ]);
  if (inC === outC && stride === 1) return new Residual(name, new Sequential(`${name}.preact_main`, [...preact('1', inC), ...main.layers]));
  const shortcut = make.conv(`${name}.shortcut`, inC, outC, { kernelSize: 1, stride, bias: false });
  return new Sequential(name, [...preact('1', inC), new Residual(`${name}.add`, main, shortcut)]);
}

export function wideResNet(opts: WideResNetOptions): Model {
  const { depth, widen } = opts;
  if (!Number.isInteger(depth) || (depth - 4) % 6 !== 0 || depth < 10)
    throw new ConfigError(`WRN depth must be 6n + 4 (10, 16, 22, 28, ...), got ${depth}`);
  if (!Number.isInteger(widen) || widen < 1) throw new ConfigError(`WRN widen factor must be a positive integer, got ${widen}`);
  const n = (depth - 4) / 6;
  const classes = opts.classes ?? 10;
  const inputShape = opts.inputShape ?? [32, 32, 3];
  const make = new LayerFactory(opts.latePhase ?? BN_AND_HEAD, new Rng(opts.seed ?? 0));
  const widths = [16, 16 * widen, 32 * widen, 64 * widen];
  const layers: Layer[] = [];
  const norm = opts.normalize === undefined ? { mean: CIFAR_MEAN, std: CIFAR_STD } : opts.normalize;
  if (norm) layers.push(new Standardize('normalize', norm.mean, norm.std));
  checkBlockCount(`wrn-${depth}-${widen}`, 3 * n);
  const blocks = [0, 1, 2].flatMap((g) =>
    Array.from({ length: n }, (_, b) => ({
      g,
      b,
      inC: b === 0 ? widths[g]! : widths[g + 1]!,
      outC: widths[g + 1]!,
      stride: b === 0 && g > 0 ? 2 : 1,
    })),
  );
  checkZooSize(`wrn-${depth}-${widen}`, blocks);
  layers.push(make.conv('conv1', inputShape[2], widths[0]!, { kernelSize: 3, bias: false }));
  for (const { g, b, inC, outC, stride } of blocks) layers.push(block(make, `group${g + 1}.block${b + 1}`, inC, outC, stride));
  layers.push(make.batchNorm('bn_final', widths[3]!), new ReLU('relu_final'), new GlobalAvgPool('pool'), make.head('head', widths[3]!, classes));
  const net = new Sequential(`wrn_${depth}_${widen}`, layers);
  make.checkAllUsed(walkLayers(net));
  return new Model(`wrn-${depth}-${widen}`, net, inputShape, {
    preprocessing: norm ? `none: pixels in [0, 1], HWC; per-channel normalisation is inside the model` : 'none',
  });
}
