/** Folding: the bridge from a trained late-phase model to a plain model the exporter can read. */
import { Model, mapLayerTree } from '../nn/model';
import { walkLayers } from '../nn/layer';
import { isWeighted } from '../nn/weightedLayer';
import { FoldOptions, isLatePhase } from './latePhaseLayer';
import { checkFoldOptions } from './kindRegistry';
import { memberCount } from './members';
import { ConfigError } from '../errors';

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

/**
 * Member k of the implicit ensemble as a plain model: every late-phase unit replaced by member k's
 * weights alone (each kind's fold over that one member). `model` is untouched.
 */
export function foldMember(model: Model, k: number, options: FoldOptions = {}): Model {
  checkFoldOptions(options);
  const count = memberCount(model);
  if (!(Number.isInteger(k) && k >= 0 && k < count)) throw new ConfigError(`model '${model.name}' has members 0..${count - 1}, not ${k}`);
  const net = mapLayerTree(model.net, (layer) => {
    if (isLatePhase(layer)) return layer.foldMember(k, options);
    if (isWeighted(layer) && layer.weights().some(isLatePhase))
      return layer.withWeights((w) => (isLatePhase(w) ? w.foldMember(k, options) : w.clone()));
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
