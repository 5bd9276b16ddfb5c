/**
 * Hypernetwork / template-bank late-phase weights, the form in the authors' code (soft parameter
 * sharing, Savarese & Maire): a bank of T templates shared by layers of the same weight shape; each
 * layer generates its weight as W = sum_t c_t T_t from a small coefficient vector c, which is the
 * late-phase part (one c per member). Coefficients of the layers sharing a bank start orthonormal.
 * W is linear in c, so the mean of member outputs equals the layer with mean coefficients: the
 * fold (averaged coefficients -> one plain weight) is exact. (The authors' [T, split] coefficient
 * matrices are used here with split = 1.)
 */
import * as tf from '@tensorflow/tfjs-core';
import { cloneParam, ForwardContext, Layer, makeParam, Param } from '../nn/layer';
import { Dense, denseForward, denseOutputShape } from '../nn/dense';
import { Conv2d, conv2dForward, conv2dOutputShape, Conv2dOptions, convSettings, Padding } from '../nn/conv2d';
import { constant, kaimingNormal } from '../nn/init';
import { Rng } from '../nn/rng';
import { ConfigError } from '../errors';
import { FoldOptions } from './latePhaseLayer';
import { MemberSet } from './memberSet';
import { MemberLayer } from './memberLayer';

/** T templates of one weight shape, each Kaiming-initialised for that shape's fan-in. */
export class TemplateBank {
  readonly templates: Param;
  private nextCoefficient = 0;
  private readonly coefficients: Float32Array[];

  constructor(
    readonly name: string,
    readonly count: number,
    readonly weightShape: readonly number[],
    fanIn: number,
    rng: Rng,
  ) {
    if (!Number.isInteger(count) || count < 1) throw new ConfigError(`template bank '${name}': template count must be a positive integer, got ${count}`);
    this.templates = makeParam(`${name}.templates`, kaimingNormal([count, ...weightShape], fanIn, rng));
    this.coefficients = orthonormalVectors(count, count, rng);
  }

  /** The next coefficient vector for a layer joining the bank: unit norm, orthogonal to the previous T-1. */
  takeCoefficients(): Float32Array {
    return this.coefficients[this.nextCoefficient++ % this.count]!;
  }

  /** W = sum_t c_t T_t. */
  weight(coefficients: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.reshape(tf.matMul(tf.reshape(coefficients, [1, this.count]), tf.reshape(this.templates.variable, [this.count, -1])), [...this.weightShape]));
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

abstract class TemplateLayer extends MemberLayer<'coefficients'> {
  readonly latePhaseKind = 'template';
  abstract readonly bias: Param | null;

  protected constructor(
    name: string,
    readonly bank: TemplateBank,
  ) {
    super(name, new MemberSet(name, { coefficients: { init: tf.tensor1d(bank.takeCoefficients()), role: 'param', decay: false } }));
  }

  override sharedParams(): Param[] {
    return this.bias ? [this.bank.templates, this.bias] : [this.bank.templates];
  }

  protected foldedWeight(): tf.Tensor {
    return tf.tidy(() => this.bank.weight(this.members.mean('coefficients')));
  }

  override dispose(): void {
    super.dispose();
    this.bias?.variable.dispose();
    this.bank.dispose();
  }
}

export class TemplateConv2d extends TemplateLayer {
  readonly kind = 'template-conv2d';
  readonly bias: Param | null;
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: Padding;

  constructor(
    name: string,
    readonly inChannels: number,
    readonly outChannels: number,
    bank: TemplateBank,
    opts: Conv2dOptions,
  ) {
    super(name, bank);
    ({ kernelSize: this.kernelSize, stride: this.stride, padding: this.padding } = convSettings(opts));
    const want = [this.kernelSize, this.kernelSize, inChannels, outChannels];
    if (bank.weightShape.join() !== want.join()) throw new ConfigError(`layer '${name}': template bank '${bank.name}' holds [${bank.weightShape.join(', ')}] weights, the layer needs [${want.join(', ')}]`);
    this.bias = opts.bias === false ? null : makeParam(`${name}.bias`, constant([outChannels], 0), false);
  }

  outputShape(input: readonly number[]): number[] {
    return conv2dOutputShape(this, input);
  }

  protected forwardMember(x: tf.Tensor, m: Record<'coefficients', tf.Variable>, _ctx: ForwardContext): tf.Tensor {
    return conv2dForward(x, this.bank.weight(m.coefficients), this.bias?.variable ?? null, this.stride, this.padding);
  }

  fold(_options: FoldOptions): Layer {
    return new Conv2d(this.name, this.inChannels, this.outChannels, {
      kernelSize: this.kernelSize,
      stride: this.stride,
      padding: this.padding,
      filter: makeParam(`${this.name}.weight`, this.foldedWeight()),
      biasParam: this.bias && cloneParam(this.bias),
    });
  }
}

export class TemplateDense extends TemplateLayer {
  readonly kind = 'template-dense';
  readonly bias: Param | null;

  constructor(
    name: string,
    readonly inUnits: number,
    readonly outUnits: number,
    bank: TemplateBank,
    opts: { bias?: boolean } = {},
  ) {
    super(name, bank);
    if (bank.weightShape.join() !== [inUnits, outUnits].join()) throw new ConfigError(`layer '${name}': template bank '${bank.name}' holds [${bank.weightShape.join(', ')}] weights, the layer needs [${inUnits}, ${outUnits}]`);
    this.bias = opts.bias === false ? null : makeParam(`${name}.bias`, constant([outUnits], 0), false);
  }

  outputShape(input: readonly number[]): number[] {
    return denseOutputShape(this.name, this.inUnits, this.outUnits, input);
  }

  protected forwardMember(x: tf.Tensor, m: Record<'coefficients', tf.Variable>): tf.Tensor {
    return denseForward(x, this.bank.weight(m.coefficients), this.bias?.variable ?? null);
  }

  fold(_options: FoldOptions): Dense {
    return new Dense(this.name, this.inUnits, this.outUnits, { kernel: makeParam(`${this.name}.weight`, this.foldedWeight()), bias: this.bias && cloneParam(this.bias) });
  }
}
