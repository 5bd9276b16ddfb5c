/**
 * Hypernetwork / template-bank late-phase weights (kind `templates`, the form in the authors'
 * code: soft parameter sharing, Savarese & Maire): a bank of T templates shared by the conv and
 * dense layers of one weight shape; each layer generates its weight as W = sum_t c_t T_t from a
 * small coefficient vector c, which is the late-phase part (one c per member). Coefficients of the
 * layers sharing a bank start orthonormal. W is linear in c, so the mean of member weights equals
 * the weight of the mean coefficients: the fold is exact. (The authors' [T, split] coefficient
 * matrices are used with split = 1.)
 */
import * as tf from '@tensorflow/tfjs-core';
import { makeParam, Param } from '../../nn/layer';
import { kaimingNormal } from '../../nn/init';
import { Rng } from '../../nn/rng';
import { PlainWeight, plainWeight, WeightRequest } from '../../nn/weight';
import { ConfigError } from '../../errors';
import { MemberWeight } from '../memberWeight';
import { parsePositiveInt, registerLatePhaseKind } from '../kindTable';

/** T templates of one weight shape, each Kaiming-initialised for that shape's fan-in. */
export class TemplateBank {
  readonly templates: Param;
  private coefficients: Float32Array[] = [];

  constructor(
    readonly name: string,
    readonly count: number,
    readonly weightShape: readonly number[],
    fanIn: number,
    private readonly rng: Rng,
  ) {
    if (!Number.isInteger(count) || count < 1)
      throw new ConfigError(`template bank '${name}': template count must be a positive integer, got ${count}`);
    this.templates = makeParam(`${name}.templates`, kaimingNormal([count, ...weightShape], fanIn, rng));
  }

  /**
   * A coefficient vector for a layer joining the bank, its own: unit norm, and orthogonal to those
   * of the T-1 layers before it in its block of T (more than T vectors cannot all be orthogonal in
   * R^T, so every T layers a fresh orthonormal block is drawn; no two layers start identical).
   */
  takeCoefficients(): Float32Array {
    if (!this.coefficients.length) this.coefficients = orthonormalVectors(this.count, this.count, this.rng);
    return this.coefficients.shift()!;
  }

  /** W = sum_t c_t T_t. */
  weight(coefficients: tf.Tensor): tf.Tensor {
    return tf.tidy(() =>
      tf.reshape(tf.matMul(tf.reshape(coefficients, [1, this.count]), tf.reshape(this.templates.variable, [this.count, -1])), [...this.weightShape]),
    );
  }

  dispose(): void {
    if (!this.templates.variable.isDisposed) this.templates.variable.dispose();
  }
}

/** `n` vectors of length `t` from Gram-Schmidt on Gaussian draws (orthonormal when n <= t). */
export function orthonormalVectors(n: number, t: number, rng: Rng): Float32Array[] {
  const out: Float64Array[] = [];
  while (out.length < n) {
    const v = Float64Array.from({ length: t }, () => rng.normal());
    for (const u of out.slice(Math.floor(out.length / t) * t)) {
      let dot = 0;
      for (let i = 0; i < t; i++) dot += v[i]! * u[i]!;
      for (let i = 0; i < t; i++) v[i]! -= dot * u[i]!;
    }
    const norm = Math.hypot(...v);
    if (norm < 1e-6) continue;
    out.push(v.map((x) => x / norm));
  }
  return out.map((v) => Float32Array.from(v));
}

/** A layer weight generated from a template bank by per-member coefficients. */
export class TemplateWeight extends MemberWeight<'coefficients'> {
  readonly latePhaseKind = 'template';

  constructor(
    name: string,
    readonly bank: TemplateBank,
  ) {
    super(name, bank.weightShape, name, { coefficients: { init: tf.tensor1d(bank.takeCoefficients()), role: 'param', decay: false } });
  }

  protected memberValue(m: Record<'coefficients', tf.Variable>): tf.Tensor {
    return this.bank.weight(m.coefficients);
  }

  override sharedParams(): Param[] {
    return [this.bank.templates];
  }

  fold(): PlainWeight {
    return plainWeight(
      this.name,
      tf.tidy(() => this.bank.weight(this.members.mean('coefficients'))),
    );
  }

  override dispose(): void {
    super.dispose();
    this.bank.dispose();
  }
}

/** Fan-in of a [in, out] kernel or a [kh, kw, in, out] filter. */
function fanIn(shape: readonly number[]): number {
  return shape.slice(0, -1).reduce((a, b) => a * b, 1);
}

registerLatePhaseKind<number>({
  key: 'templates',
  help: 'template banks of T templates shared by same-shaped conv/dense weights; coefficients per member, e.g. templates=7',
  group: 'weight reparametrisation',
  priority: 10,
  parse: (v) => parsePositiveInt('templates', v),
  describe: (t) => `templates(T=${t})`,
  builder: (count, rng) => {
    const banks = new Map<string, TemplateBank>();
    const bankFor = (r: WeightRequest): TemplateBank => {
      const key = r.shape.join('x');
      let bank = banks.get(key);
      if (!bank) banks.set(key, (bank = new TemplateBank(`templates_${key}`, count, r.shape, fanIn(r.shape), rng)));
      return bank;
    };
    return {
      weight: (r) =>
        r.tensor === 'weight' && (r.role === 'conv' || r.role === 'dense' || r.role === 'head')
          ? new TemplateWeight(`${r.layer}.${r.tensor}`, bankFor(r))
          : undefined,
    };
  },
});
