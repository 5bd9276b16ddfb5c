/** Whole late-phase models, released, warmed and folded, for the parity and onnx.checker tests (single layers: layerCases.ts). */
import * as tf from '@tensorflow/tfjs-core';
import { Model } from '../src/nn/model';
import { TRAIN } from '../src/nn/layer';
import { Rng } from '../src/nn/rng';
import { mnistCnn } from '../models/mnistCnn';
import { mlp } from '../models/mlp';
import { wideResNet } from '../models/wideResNet';
import { resNet } from '../models/resNet';
import { releaseMembers } from '../src/latephase/members';
import { foldMembers } from '../src/latephase/fold';

/** Give BatchNorms non-trivial running statistics by a few train-mode passes. */
export function warmStatistics(model: Model, seed: number, vocab?: number): void {
  const rng = new Rng(seed);
  const per = model.inputShape.reduce((a, b) => a * b, 1);
  const draw = (i: number): Float32Array =>
    vocab === undefined ? rng.normalArray(8 * per).map((v) => v + i) : Float32Array.from({ length: 8 * per }, () => Math.floor(rng.next() * vocab));
  for (let i = 0; i < 3; i++) tf.tidy(() => model.forward(tf.tensor(draw(i), [8, ...model.inputShape]), TRAIN));
}

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
  [
    'WRN-10-1 rank-1, folded',
    () => folded(wideResNet({ depth: 10, widen: 1, inputShape: [8, 8, 3], latePhase: { batchNorm: true, head: true, rank1: true } })),
  ],
  [
    'ResNet-8 templates, folded',
    () => folded(resNet({ depth: 8, widthScale: 0.5, inputShape: [8, 8, 3], latePhase: { batchNorm: false, head: true, templates: 3 } })),
  ],
];
