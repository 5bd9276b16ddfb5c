/**
 * Summaries over seeds a reader can act on: mean, sample standard deviation and the 95% interval
 * of the mean (Student t with n - 1 degrees of freedom), and the same for paired differences (the
 * same seed in two variants: same data order, same start), whose interval either clears zero or
 * does not.
 */

export interface Summary {
  readonly mean: number;
  readonly std: number;
  readonly n: number;
  /** The 95% interval of the mean; null for a single value. */
  readonly ci95: readonly [number, number] | null;
}

/** Two-sided 97.5% quantiles of Student's t by degrees of freedom (rows between take the lower df's: wider, so conservative). */
const T975: ReadonlyArray<readonly [number, number]> = [
  [1, 12.706],
  [2, 4.303],
  [3, 3.182],
  [4, 2.776],
  [5, 2.571],
  [6, 2.447],
  [7, 2.365],
  [8, 2.306],
  [9, 2.262],
  [10, 2.228],
  [12, 2.179],
  [15, 2.131],
  [20, 2.086],
  [25, 2.06],
  [30, 2.042],
  [40, 2.021],
  [60, 2.0],
  [120, 1.98],
];

export function tQuantile975(df: number): number {
  if (!(df >= 1)) throw new RangeError(`degrees of freedom must be >= 1, got ${df}`);
  if (df >= 1000) return 1.96;
  let q = T975[0]![1];
  for (const [d, v] of T975) if (df >= d) q = v;
  return q;
}

export function summarize(xs: readonly number[]): Summary | null {
  const n = xs.length;
  if (!n) return null;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1)) : 0;
  const half = n > 1 ? (tQuantile975(n - 1) * std) / Math.sqrt(n) : null;
  return { mean, std, n, ci95: half === null ? null : [mean - half, mean + half] };
}

/** `a[i] - b[i]` over the keys both have (seeds), summarized; null without a common key. */
export function pairedDifference(a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>): Summary | null {
  const diffs = [...a].filter(([k]) => b.has(k)).map(([k, v]) => v - b.get(k)!);
  return summarize(diffs);
}

/** Whether an interval leaves zero out (a difference the seeds support). */
export function clearOfZero(s: Summary | null): boolean {
  const ci = s?.ci95;
  return Boolean(ci && (ci[0] > 0 || ci[1] < 0));
}
