/** Folding: the bridge from a trained late-phase model to a plain model the exporter can read. */
import { Model, mapLayerTree } from '../nn/model';
import { walkLayers } from '../nn/layer';
import { isWeighted } from '../nn/weightedLayer';
import { FoldOptions, isLatePhase } from './latePhaseLayer';
import { checkFoldOptions } from './kindRegistry';

/**
 * Average every late-phase unit's K members into plain weights (each kind's rule, chosen by its
 * fold option; see `foldOptionSpecs()`). Returns a new model with its own variables and no
 * late-phase units; `model` is untouched.
 */
export function foldMembers(model: Model, options: FoldOptions = {}): Model {
  checkFoldOptions(options);
  const net = mapLayerTree(model.net, (layer) => {
    if (isLatePhase(layer)) return layer.fold(options);
    if (isWeighted(layer) && layer.weights().some(isLatePhase)) return layer.withWeights((w) => (isLatePhase(w) ? w.fold(options) : w.clone()));
    return null;
  });
  return model.withNet(net);
}

export function isPlain(model: Model): boolean {
  for (const layer of walkLayers(model.net)) {
    if (isLatePhase(layer)) return false;
    if (isWeighted(layer) && layer.weights().some(isLatePhase)) return false;
  }
  return true;
}
