/**
 * The noisy quadratic problem (../shared/docs/paper-notes.md section 5): Algorithm 1 with plain
 * SGD on L = (h/2)(w - c)^2, a fresh c ~ N(0, sigma^2) per minibatch, and additive late-phase
 * weights w_k = theta + phi_k. Each outer iteration visits the K members once: member k draws its
 * minibatch, steps phi_k at once on its own gradient, and the shared theta, held fixed inside the
 * loop, steps at the end on gammaTheta times the summed gradients. The closed forms for the
 * stationary variances follow from w' = (I - hM) w + hMc, M = etaPhi I + etaTheta gammaTheta 11^T:
 *   a1 = h (etaPhi + K etaTheta gammaTheta), a0 = h etaPhi,
 *   Var(mean model) = a1 sigma^2 / (K (2 - a1)),
 *   Var(member)     = Var(mean model) + (1 - 1/K) a0 sigma^2 / (2 - a0),
 *   plain SGD (lr eta): h eta sigma^2 / (2 - h eta).
 */
import { ConfigError } from '../errors';
import { Rng } from '../nn/rng';

export interface NqpSettings {
  readonly h: number;
  readonly sigma: number;
  readonly etaPhi: number;
  readonly etaTheta: number;
  readonly gammaTheta: number;
  readonly k: number;
}

interface NqpVariances {
  /** Variance of the averaged model theta + mean_k phi_k. */
  readonly averaged: number;
  /** Variance of one member's weight theta + phi_k. */
  readonly member: number;
}

function checkNqp(s: NqpSettings): void {
  if (!(Number.isInteger(s.k) && s.k >= 1)) throw new ConfigError(`nqp: K must be a positive integer, got ${s.k}`);
  for (const [name, v] of Object.entries({ h: s.h, sigma: s.sigma, etaPhi: s.etaPhi, etaTheta: s.etaTheta, gammaTheta: s.gammaTheta }))
    if (!(v > 0) || !Number.isFinite(v)) throw new ConfigError(`nqp: ${name} must be a positive number, got ${v}`);
  const a1 = s.h * (s.etaPhi + s.k * s.etaTheta * s.gammaTheta);
  if (!(a1 < 2 && s.h * s.etaPhi < 2))
    throw new ConfigError(`nqp: a1 = h (etaPhi + K etaTheta gammaTheta) = ${a1.toFixed(3)} must be < 2 for a stationary state`);
}

export function nqpClosedForm(s: NqpSettings): NqpVariances {
  checkNqp(s);
  const a1 = s.h * (s.etaPhi + s.k * s.etaTheta * s.gammaTheta);
  const a0 = s.h * s.etaPhi;
  const s2 = s.sigma ** 2;
  const averaged = (a1 * s2) / (s.k * (2 - a1));
  return { averaged, member: averaged + (1 - 1 / s.k) * ((a0 * s2) / (2 - a0)) };
}

/** Plain SGD's stationary variance at learning rate `eta`. */
export function sgdClosedForm(h: number, sigma: number, eta: number): number {
  return (h * eta * sigma ** 2) / (2 - h * eta);
}

/** Expected test loss (h/2)(Var + sigma^2) of a weight with stationary variance `variance`. */
export function expectedLoss(h: number, sigma: number, variance: number): number {
  return (h / 2) * (variance + sigma ** 2);
}

/** Simulate `iterations` outer iterations after `burnIn` and measure both variances (member 0 for the member). */
export function simulateNqp(s: NqpSettings, opts: { iterations: number; burnIn?: number; seed?: number }): NqpVariances {
  checkNqp(s);
  const rng = new Rng(opts.seed ?? 0);
  const phi = new Float64Array(s.k);
  let theta = 0;
  let [sumA, sumA2, sumM, sumM2] = [0, 0, 0, 0];
  const burnIn = opts.burnIn ?? 1000;
  for (let t = 0; t < burnIn + opts.iterations; t++) {
    let sharedGrad = 0;
    for (let k = 0; k < s.k; k++) {
      const c = rng.normal() * s.sigma;
      const grad = s.h * (theta + phi[k]! - c);
      sharedGrad += grad; // theta is held fixed inside the loop
      phi[k]! -= s.etaPhi * grad;
    }
    theta -= s.etaTheta * s.gammaTheta * sharedGrad;
    if (t < burnIn) continue;
    const averaged = theta + phi.reduce((a, b) => a + b, 0) / s.k;
    const member = theta + phi[0]!;
    [sumA, sumA2, sumM, sumM2] = [sumA + averaged, sumA2 + averaged ** 2, sumM + member, sumM2 + member ** 2];
  }
  const n = opts.iterations;
  return { averaged: sumA2 / n - (sumA / n) ** 2, member: sumM2 / n - (sumM / n) ** 2 };
}

export interface NqpRow {
  readonly k: number;
  readonly gammaTheta: number;
  readonly closed: NqpVariances;
  readonly simulated: NqpVariances;
}

/** The table `latephase nqp` prints: K x gammaTheta in {1, 1/K}, closed form beside simulation. */
export function nqpTable(ks: readonly number[], base: Omit<NqpSettings, 'k' | 'gammaTheta'>, iterations: number, seed = 0): NqpRow[] {
  return ks.flatMap((k) =>
    (k === 1 ? [1] : [1, 1 / k]).map((gammaTheta) => {
      const s = { ...base, k, gammaTheta };
      return { k, gammaTheta, closed: nqpClosedForm(s), simulated: simulateNqp(s, { iterations, seed: seed + k }) };
    }),
  );
}
