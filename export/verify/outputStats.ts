/**
 * Per-output comparison statistics for a verification report (in the spirit of Polygraphy and
 * torch.onnx verification, ../shared/docs/prior-art.md): max/p99/mean absolute error, max relative
 * error, the smallest atol that would have passed at the given rtol, NaN/Inf counts on each side,
 * and for class outputs the fraction of rows whose argmax agrees.
 */
import { Tolerance } from './compare';

export interface OutputStats {
  readonly output: string;
  readonly elements: number;
  readonly maxAbs: number;
  /** max |a - b| / |b| over the elements with |b| >= atol (tiny references make it meaningless). */
  readonly maxRel: number;
  readonly p99Abs: number;
  readonly meanAbs: number;
  /** The smallest atol for which every element would pass at this rtol (Infinity when shapes or non-finite values differ). */
  readonly minAtol: number;
  readonly nonFinite: { readonly candidate: number; readonly reference: number };
  readonly mismatched: number;
  /** Rows whose argmax agrees, for class outputs ([..., classes] scores). */
  readonly argmaxAgreement?: number;
  readonly tolerance: Tolerance;
  readonly pass: boolean;
}

/** Rows of `values` (last axis `classes` wide) and their argmax. */
function argmaxes(values: ArrayLike<number>, classes: number): Int32Array {
  const rows = Math.floor(values.length / classes);
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (values[r * classes + c]! > values[r * classes + best]!) best = c;
    out[r] = best;
  }
  return out;
}

interface OutputStatsOptions {
  /** > 1 marks a class output whose last axis holds the scores (argmax agreement is reported). */
  readonly classes?: number;
  /**
   * NaN against NaN and an infinity against the same infinity match (a model we did not write may
   * compute them on purpose: IsNaN, Log of 0). Off, any NaN/Inf fails: our exports never make them.
   */
  readonly equalNonFinite?: boolean;
}

/**
 * Compare `candidate` with `reference` (same shape, row-major). Pass: same length, no NaN/Inf on
 * either side (unless `equalNonFinite` and they match), and every |a - b| <= atol + rtol * |b|.
 */
export function outputStats(
  output: string,
  candidate: ArrayLike<number>,
  reference: ArrayLike<number>,
  tolerance: Tolerance,
  opts: OutputStatsOptions = {},
): OutputStats {
  const classes = opts.classes ?? 0;
  const count = (v: ArrayLike<number>): number => Array.prototype.filter.call(v, (x: number) => !Number.isFinite(x)).length;
  const nonFinite = { candidate: count(candidate), reference: count(reference) };
  if (candidate.length !== reference.length) {
    const inf = Number.POSITIVE_INFINITY;
    return {
      output,
      elements: reference.length,
      maxAbs: inf,
      maxRel: inf,
      p99Abs: inf,
      meanAbs: inf,
      minAtol: inf,
      nonFinite,
      mismatched: reference.length,
      tolerance,
      pass: false,
    };
  }
  const diffs = new Float64Array(reference.length);
  let [maxAbs, maxRel, sum, minAtol, mismatched] = [0, 0, 0, 0, 0];
  let nonFiniteMismatch = false;
  for (let i = 0; i < reference.length; i++) {
    const a = candidate[i]!;
    const b = reference[i]!;
    if (!Number.isFinite(a) || !Number.isFinite(b)) {
      if (opts.equalNonFinite && (a === b || (Number.isNaN(a) && Number.isNaN(b)))) continue;
      mismatched++;
      nonFiniteMismatch = true;
      diffs[i] = Number.POSITIVE_INFINITY;
      continue;
    }
    const d = Math.abs(a - b);
    diffs[i] = d;
    sum += d;
    maxAbs = Math.max(maxAbs, d);
    if (Math.abs(b) >= tolerance.atol) maxRel = Math.max(maxRel, d / Math.abs(b));
    minAtol = Math.max(minAtol, d - tolerance.rtol * Math.abs(b));
    if (d > tolerance.atol + tolerance.rtol * Math.abs(b)) mismatched++;
  }
  const sorted = diffs.slice().sort();
  const finiteSide = !nonFiniteMismatch;
  const stats: OutputStats = {
    output,
    elements: reference.length,
    maxAbs,
    maxRel,
    p99Abs: sorted.length ? sorted[Math.floor(0.99 * (sorted.length - 1))]! : 0,
    meanAbs: reference.length ? sum / reference.length : 0,
    minAtol: finiteSide ? minAtol : Number.POSITIVE_INFINITY,
    nonFinite,
    mismatched,
    tolerance,
    pass: finiteSide && mismatched === 0,
  };
  if (classes <= 1 || reference.length % classes !== 0) return stats;
  const [a, b] = [argmaxes(candidate, classes), argmaxes(reference, classes)];
  const agree = a.filter((v, i) => v === b[i]).length;
  return { ...stats, argmaxAgreement: b.length ? agree / b.length : 1 };
}
