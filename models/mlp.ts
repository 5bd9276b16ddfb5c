/** A multilayer perceptron: Dense-BN-ReLU blocks and a linear head, on flat inputs. */
import { Model } from '../src/nn/model';
import { Sequential } from '../src/nn/sequential';
import { ReLU } from '../src/nn/activation';
import { Layer, walkLayers } from '../src/nn/layer';
import { Rng } from '../src/nn/rng';
import { BN_AND_HEAD, LayerFactory } from '../src/latephase/layerFactory';
import { LatePhaseChoice } from '../src/latephase/kindRegistry';

export interface MlpOptions {
  readonly inputs: number;
  readonly hidden: readonly number[];
  readonly classes: number;
  readonly seed?: number;
  readonly latePhase?: LatePhaseChoice;
}

export function mlp(opts: MlpOptions): Model {
  const make = new LayerFactory(opts.latePhase ?? BN_AND_HEAD, new Rng(opts.seed ?? 0));
  const layers: Layer[] = [];
  let width = opts.inputs;
  opts.hidden.forEach((h, i) => {
    layers.push(make.dense(`fc${i + 1}`, width, h, { bias: false }), make.batchNorm(`bn${i + 1}`, h), new ReLU(`relu${i + 1}`));
    width = h;
  });
  layers.push(make.head('head', width, opts.classes));
  const net = new Sequential('mlp', layers);
  make.checkAllUsed(walkLayers(net));
  return new Model('mlp', net, [opts.inputs]);
}
