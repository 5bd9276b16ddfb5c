/**
 * Calibration and out-of-distribution metrics over predicted class probabilities (row-major
 * [N, C] on the host): accuracy, negative log-likelihood, expected calibration error (equal-width
 * confidence bins, 15 by default), Brier score, predictive entropy, and the AUROC of a score that
 * should be higher on out-of-distribution inputs (the paper's OOD test scores the entropy of the
 * mean softmax).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Model } from '../nn/model';
import { chunksOf, Examples } from '../data/dataset';
import { memberCount, selectMember } from '../latephase/members';
import { MemberSelection } from '../latephase/latePhaseLayer';
import { ShapeError } from '../errors';
import { checkFinite } from './accuracy';

export interface ClassMetrics {
  readonly accuracy: number;
  readonly nll: number;
  readonly ece: number;
  readonly brier: number;
}

/** Clamp for log(0): a probability of exactly 0 on the label costs -log(1e-12), not Inf. */
const FLOOR = 1e-12;

function rows(probs: Float32Array, labels: Int32Array): number {
  if (labels.length === 0 || probs.length % labels.length !== 0)
    throw new ShapeError(`metrics: ${probs.length} probabilities for ${labels.length} labels`);
  return probs.length / labels.length;
}

export function classMetrics(probs: Float32Array, labels: Int32Array, bins = 15): ClassMetrics {
  const c = rows(probs, labels);
  const n = labels.length;
  const binConf = new Float64Array(bins);
  const binHits = new Float64Array(bins);
  const binCount = new Float64Array(bins);
  let hits = 0;
  let nll = 0;
  let brier = 0;
  for (let i = 0; i < n; i++) {
    const row = probs.subarray(i * c, (i + 1) * c);
    let arg = 0;
    for (let k = 1; k < c; k++) if (row[k]! > row[arg]!) arg = k;
    const y = labels[i]!;
    const hit = arg === y ? 1 : 0;
    hits += hit;
    nll -= Math.log(Math.max(row[y]!, FLOOR));
    for (let k = 0; k < c; k++) brier += (row[k]! - (k === y ? 1 : 0)) ** 2;
    const conf = row[arg]!;
    const b = Math.min(bins - 1, Math.floor(conf * bins));
    binConf[b]! += conf;
    binHits[b]! += hit;
    binCount[b]!++;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) if (binCount[b]!) ece += Math.abs(binHits[b]! - binConf[b]!) / n;
  return { accuracy: hits / n, nll: nll / n, ece, brier: brier / n };
}

/** Predictive entropy of each row, -sum p log p (natural log). */
export function entropy(probs: Float32Array, classes: number): Float64Array {
  const n = probs.length / classes;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let h = 0;
    for (let k = 0; k < classes; k++) {
      const p = probs[i * classes + k]!;
      if (p > 0) h -= p * Math.log(p);
    }
    out[i] = h;
  }
  return out;
}

/** Area under the ROC curve for telling `positive` scores (OOD) from `negative` ones (in-distribution); ties count half. */
export function auroc(negative: ArrayLike<number>, positive: ArrayLike<number>): number {
  if (!negative.length || !positive.length) throw new ShapeError('auroc: both score sets must be non-empty');
  const all = [...Array.from(negative, (s) => ({ s, pos: false })), ...Array.from(positive, (s) => ({ s, pos: true }))].sort((a, b) => a.s - b.s);
  // Mann-Whitney: the positives' rank sum, with tied scores given their mean rank.
  let rankSum = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j < all.length && all[j]!.s === all[i]!.s) j++;
    const meanRank = (i + 1 + j) / 2;
    for (let t = i; t < j; t++) if (all[t]!.pos) rankSum += meanRank;
    i = j;
  }
  const p = positive.length;
  return (rankSum - (p * (p + 1)) / 2) / (p * negative.length);
}

/** Softmax probabilities of the model as configured (member selection included), chunk by chunk (`what` names it if they are not finite). */
export function probabilities(model: Model, data: Examples, what = 'the model'): Float32Array {
  const parts: Float32Array[] = [];
  for (const { x } of chunksOf(data)) {
    const logits = model.predict(x);
    try {
      checkFinite(logits, what);
      parts.push(tf.tidy(() => tf.softmax(logits).dataSync() as Float32Array));
    } finally {
      logits.dispose();
    }
  }
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The fraction of rows (last-axis score vectors) whose largest probability is at the label. */
export function argmaxAccuracy(probs: Float32Array, labels: Int32Array): number {
  const c = rows(probs, labels);
  let hits = 0;
  for (let i = 0; i < labels.length; i++) {
    let arg = 0;
    for (let k = 1; k < c; k++) if (probs[i * c + k]! > probs[i * c + arg]!) arg = k;
    if (arg === labels[i]) hits++;
  }
  return hits / labels.length;
}

/**
 * Each member's probabilities and the implicit ensemble's (the mean of the members' softmax),
 * one member at a time (memory of one), then the selection `restore` (default 'average').
 */
export function memberProbabilities(
  model: Model,
  data: Examples,
  restore: MemberSelection = 'average',
): { members: Float32Array[]; ensemble: Float32Array } {
  const k = memberCount(model);
  const members: Float32Array[] = [];
  try {
    for (let m = 0; m < k; m++) {
      selectMember(model, m);
      members.push(probabilities(model, data, `member ${m}`));
    }
  } finally {
    selectMember(model, restore);
  }
  const ensemble = new Float32Array(members[0]!.length);
  for (const p of members) for (let i = 0; i < p.length; i++) ensemble[i]! += p[i]! / k;
  return { members, ensemble };
}

export interface ReliabilityBin {
  /** Bin b covers confidences [b / bins, (b + 1) / bins). */
  readonly bin: number;
  readonly count: number;
  readonly confidence: number;
  readonly accuracy: number;
}

/** The reliability diagram's points: mean confidence and accuracy per non-empty confidence bin (the ECE's bins). */
export function reliabilityBins(probs: Float32Array, labels: Int32Array, bins = 15): ReliabilityBin[] {
  const c = rows(probs, labels);
  const sums = Array.from({ length: bins }, () => ({ count: 0, conf: 0, hits: 0 }));
  for (let i = 0; i < labels.length; i++) {
    const row = probs.subarray(i * c, (i + 1) * c);
    let arg = 0;
    for (let k = 1; k < c; k++) if (row[k]! > row[arg]!) arg = k;
    const b = sums[Math.min(bins - 1, Math.floor(row[arg]! * bins))]!;
    b.count++;
    b.conf += row[arg]!;
    b.hits += arg === labels[i] ? 1 : 0;
  }
  return sums.flatMap((s, bin) => (s.count ? [{ bin, count: s.count, confidence: s.conf / s.count, accuracy: s.hits / s.count }] : []));
}
