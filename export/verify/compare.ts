/**
 * Element-wise comparison of a candidate (onnxruntime) against a reference (tfjs):
 * pass when every |a - b| <= atol + rtol * |b| and nothing is NaN or Inf.
 * maxRel is max |a - b| / |b| over the elements with |b| >= atol (tiny references would make it meaningless).
 */
export const DEFAULT_ATOL = 1e-4;
export const DEFAULT_RTOL = 1e-3;

export interface Tolerance {
  readonly atol: number;
  readonly rtol: number;
}

export interface Comparison {
  readonly maxAbs: number;
  readonly maxRel: number;
  /** Elements of either side that are NaN or Inf. */
  readonly nonFinite: number;
  readonly mismatched: number;
  readonly pass: boolean;
}

export function compareArrays(candidate: ArrayLike<number>, reference: ArrayLike<number>, tol: Tolerance): Comparison {
  if (candidate.length !== reference.length) {
    return { maxAbs: Infinity, maxRel: Infinity, nonFinite: 0, mismatched: Math.max(candidate.length, reference.length), pass: false };
  }
  let maxAbs = 0;
  let maxRel = 0;
  let nonFinite = 0;
  let mismatched = 0;
  for (let i = 0; i < reference.length; i++) {
    const a = candidate[i]!;
    const b = reference[i]!;
    if (!Number.isFinite(a) || !Number.isFinite(b)) {
      nonFinite++;
      continue;
    }
    const diff = Math.abs(a - b);
    maxAbs = Math.max(maxAbs, diff);
    if (Math.abs(b) >= tol.atol) maxRel = Math.max(maxRel, diff / Math.abs(b));
    if (diff > tol.atol + tol.rtol * Math.abs(b)) mismatched++;
  }
  return { maxAbs, maxRel, nonFinite, mismatched, pass: nonFinite === 0 && mismatched === 0 };
}
