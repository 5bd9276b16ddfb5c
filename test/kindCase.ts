/** The shape of a checkLayer case, and the helper the late-phase kinds' case modules (test/kinds/) use. */
import { Layer } from '../src/nn/layer';
import { Rng } from '../src/nn/rng';
import { LayerFactory } from '../src/latephase/layerFactory';
import { LatePhaseChoice } from '../src/latephase/kindRegistry';
import { CheckLayerOptions } from './checkLayer';

export interface LayerCase {
  readonly name: string;
  readonly make: () => Layer;
  readonly shape: number[];
  readonly opts?: CheckLayerOptions;
  /** The late-phase choice the case's layers were built with (for kind coverage). */
  readonly choice?: LatePhaseChoice;
}

/** A case whose layer the factory builds under a late-phase choice. */
export function kindCase(
  name: string,
  choice: LatePhaseChoice,
  make: (f: LayerFactory) => Layer,
  shape: number[],
  opts?: CheckLayerOptions,
): LayerCase {
  return { name, choice, make: () => make(new LayerFactory(choice, new Rng(7))), shape, ...(opts ? { opts } : {}) };
}
