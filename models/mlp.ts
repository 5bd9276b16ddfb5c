/** A multilayer perceptron: Dense-BN-ReLU blocks and a linear head, on flat inputs. */
import { Model } from '../src/nn/model';
import { Sequential } from '../src/nn/sequential';
import { Dense } from '../src/nn/dense';
import { ReLU } from '../src/nn/activation';
import { Layer } from '../src/nn/layer';
import { Rng } from '../src/nn/rng';
import { BN_AND_HEAD, batchNormLayer, headLayer, LatePhaseChoice } from './latePhaseChoice';

export interface MlpOptions {
  readonly inputs: number;
  readonly hidden: readonly number[];
  readonly classes: number;
  readonly seed?: number;
  readonly latePhase?: LatePhaseChoice;
}

export function mlp(opts: MlpOptions): Model {
  const rng = new Rng(opts.seed ?? 0);
  const lp = opts.latePhase ?? BN_AND_HEAD;
  const layers: Layer[] = [];
  let width = opts.inputs;
  opts.hidden.forEach((h, i) => {
    layers.push(new Dense(`fc${i + 1}`, width, h, { rng, bias: false }), batchNormLayer(`bn${i + 1}`, h, lp), new ReLU(`relu${i + 1}`));
    width = h;
  });
  layers.push(headLayer('head', width, opts.classes, lp, rng));
  return new Model('mlp', new Sequential('mlp', layers), [opts.inputs]);
}
