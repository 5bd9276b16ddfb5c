/** The implicit ensemble: every late-phase member evaluated on its own, and their averaged predictions. */
import { Model } from '../nn/model';
import { Examples } from '../data/dataset';
import { selectMember } from '../latephase/members';
import { MemberSelection } from '../latephase/latePhaseLayer';
import { argmaxAccuracy, memberProbabilities, probabilities } from './metrics';

export interface EnsembleReport {
  /** Accuracy of each member alone. */
  readonly members: readonly number[];
  /** Accuracy of the mean of the members' softmax outputs (prediction averaging). */
  readonly ensemble: number;
  /**
   * Accuracy with selection 'average' (each late-phase unit's mean: member outputs for BatchNorm,
   * member weights for weight kinds). This is the folded model only for the exact folds; the
   * rank-1 default fold (the parameter mean) differs, so a folded model is scored by folding it.
   */
  readonly layerwiseAverage: number;
}

export function evaluateMembers(model: Model, data: Examples, restore: MemberSelection = 'average'): EnsembleReport {
  try {
    const { members, ensemble } = memberProbabilities(model, data, 'average');
    const layerwise = probabilities(model, data, 'the layerwise average');
    return {
      members: members.map((p) => argmaxAccuracy(p, data.y)),
      ensemble: argmaxAccuracy(ensemble, data.y),
      layerwiseAverage: argmaxAccuracy(layerwise, data.y),
    };
  } finally {
    selectMember(model, restore);
  }
}
