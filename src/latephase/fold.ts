/** Folding: the bridge from a trained late-phase model to a plain model the exporter can read. */
import { Model, mapLayerTree } from '../nn/model';
import { walkLayers } from '../nn/layer';
import { FoldOptions, isLatePhase } from './latePhaseLayer';

/**
 * Average every late-phase layer's K members into plain weights (see FoldOptions for each kind's
 * rule). Returns a new model with its own variables and no late-phase layers; `model` is untouched.
 */
export function foldMembers(model: Model, options: FoldOptions = {}): Model {
  const net = mapLayerTree(model.net, (layer) => (isLatePhase(layer) ? layer.fold(options) : null));
  return model.withNet(net);
}

export function isPlain(model: Model): boolean {
  for (const layer of walkLayers(model.net)) if (isLatePhase(layer)) return false;
  return true;
}
