/** The implicit ensemble: every late-phase member evaluated on its own, and their averaged predictions. */
import * as tf from '@tensorflow/tfjs-core';
import { Model } from '../nn/model';
import { Dataset, featureTensor } from '../data/dataset';
import { memberCount, selectMember } from '../latephase/members';
import { MemberSelection } from '../latephase/latePhaseLayer';
import { accuracyOf } from './accuracy';

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

export function evaluateMembers(model: Model, data: Dataset, restore: MemberSelection = 'average'): EnsembleReport {
  const k = memberCount(model);
  const x = featureTensor(data);
  const members: number[] = [];
  let probSum: tf.Tensor | null = null;
  try {
    for (let m = 0; m < k; m++) {
      selectMember(model, m);
      const logits = model.predict(x);
      members.push(accuracyOf(logits, data.y, `member ${m}`));
      const probs = tf.softmax(logits);
      logits.dispose();
      const next: tf.Tensor = probSum ? tf.add(probSum, probs) : probs;
      if (probSum) {
        probSum.dispose();
        probs.dispose();
      }
      probSum = next;
    }
    const ensemble = accuracyOf(probSum!, data.y);
    selectMember(model, 'average');
    const logits = model.predict(x);
    const layerwiseAverage = accuracyOf(logits, data.y, 'the layerwise average');
    logits.dispose();
    return { members, ensemble, layerwiseAverage };
  } finally {
    probSum?.dispose();
    x.dispose();
    selectMember(model, restore);
  }
}
