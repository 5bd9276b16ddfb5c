/** The benchmark architectures, built through the public API exactly as bench/torch_peer.py builds them in PyTorch. */
import { Model } from '../src/nn/model';
import { Sequential } from '../src/nn/sequential';
import { Conv2d } from '../src/nn/conv2d';
import { ReLU } from '../src/nn/activation';
import { GlobalAvgPool, MaxPool } from '../src/nn/pooling';
import { Rng } from '../src/nn/rng';
import { LatePhaseChoice, LayerFactory, mlp, NO_LATE_PHASE, wideResNet } from '../models/index';

/**
 * conv3x3 1->32, ReLU, maxpool, conv3x3 32->64, BN, ReLU, global average pool, dense 10 (issue 4's
 * bench CNN), on 28 x 28 x 1 inputs unless `inputShape` says otherwise (the image-folder row: 64 x 64 x 3).
 */
export function benchCnn(latePhase: LatePhaseChoice = NO_LATE_PHASE, inputShape: readonly [number, number, number] = [28, 28, 1]): Model {
  const make = new LayerFactory(latePhase, new Rng(0));
  return new Model(
    'bench_cnn',
    new Sequential('bench_cnn', [
      new Conv2d('conv1', inputShape[2], 32, { kernelSize: 3, bias: false, rng: make.rng }),
      new ReLU('relu1'),
      new MaxPool('pool', 2),
      make.conv('conv2', 32, 64, { kernelSize: 3, bias: false }),
      make.batchNorm('bn', 64),
      new ReLU('relu2'),
      new GlobalAvgPool('gap'),
      make.head('head', 64, 10),
    ]),
    inputShape,
  );
}

export const wrn16x4 = (latePhase: LatePhaseChoice = NO_LATE_PHASE): Model => wideResNet({ depth: 16, widen: 4, normalize: null, latePhase });
export const benchMlp = (latePhase: LatePhaseChoice = NO_LATE_PHASE): Model => mlp({ inputs: 784, hidden: [256, 256], classes: 10, latePhase });

/** The image-folder row's model (a recipe entry for its data-parallel workers). */
export const benchCnn64 = (): Model => benchCnn(NO_LATE_PHASE, [64, 64, 3]);
