/**
 * The late-phase classifier head (kind `head`): the classifier's weight and bias per member, as in
 * the authors' CIFAR code. The head is linear, so the weight mean (the fold) is exactly the mean
 * of member outputs.
 */
import { Dense } from '../../nn/dense';
import { Rng } from '../../nn/rng';
import { describeSelection, LayerSelection, parseLayerSelection, registerLatePhaseKind, selectionMatcher } from '../kindTable';
import { FullWeight } from './full';

/** A Dense classifier whose weight and bias are late-phase (what the `head` kind builds). */
export function latePhaseHead(name: string, inUnits: number, classes: number, opts: { rng: Rng }): Dense {
  return new Dense(name, inUnits, classes, { rng: opts.rng, role: 'head', source: (r) => new FullWeight(r, 'head') });
}

registerLatePhaseKind<LayerSelection>({
  key: 'head',
  help: "the classifier head's weight and bias per member (true: the layer computing the output; or dense layers named by pattern, head=fc)",
  priority: 20,
  parse: (v) => parseLayerSelection('head', v),
  describe: (selection) => describeSelection('head', selection),
  builder: (selection) => {
    if (selection === true) return { weight: (r) => (r.role === 'head' ? new FullWeight(r, 'head') : undefined) };
    const chosen = selectionMatcher('head', selection, 'dense layer');
    return {
      weight: (r) => ((r.role === 'head' || r.role === 'dense') && chosen.matches(r.layer) ? new FullWeight(r, 'head') : undefined),
      finish: () => chosen.finish(),
    };
  },
});
