/**
 * Rank-1 multiplicative late-phase weights (the BatchEnsemble form): member k uses
 * W_k = W o (r_k s_k^T), with the full matrix W shared and two small vectors per member, s over
 * input features/channels and r over outputs. Computed without forming W_k:
 *   dense:  y = ((x o s_k) W) o r_k + b        conv: y = conv(x o s_k, W) o r_k + b
 * The factors exist from the start of training (initialised to 1, so the layer starts as its plain
 * counterpart) and are replicated at release. Bias and W are shared.
 */
import * as tf from '@tensorflow/tfjs-core';
import { cloneParam, ForwardContext, Layer, makeParam, Param } from '../nn/layer';
import { Dense, denseForward, denseOutputShape } from '../nn/dense';
import { Conv2d, conv2dForward, conv2dOutputShape, Conv2dOptions, convSettings, Padding } from '../nn/conv2d';
import { constant, kaimingNormal } from '../nn/init';
import { Rng } from '../nn/rng';
import { FoldOptions } from './latePhaseLayer';
import { MemberSet } from './memberSet';
import { MemberLayer } from './memberLayer';

type Factor = 'r' | 's';

function factors(owner: string, inSize: number, outSize: number): MemberSet<Factor> {
  return new MemberSet(owner, {
    s: { init: constant([inSize], 1), role: 'param', decay: false },
    r: { init: constant([outSize], 1), role: 'param', decay: false },
  });
}

/**
 * The folded weight of a [..., in, out] tensor W with input factors `s` and output factors `r`:
 * 'mean' gives W o (mean s)(mean r)^T, 'product' gives mean_k W o (s_k r_k^T).
 */
export function foldRank1<N extends string>(weight: tf.Tensor, members: MemberSet<N>, mode: 'mean' | 'product', s: N, r: N): tf.Tensor {
  return tf.tidy(() => {
    if (mode === 'mean') return tf.mul(weight, rank1Mask(members.mean(s), members.mean(r)));
    const masks = Array.from({ length: members.count }, (_, k) => rank1Mask(members.member(k)[s], members.member(k)[r]));
    return tf.mul(weight, tf.div(tf.addN(masks), masks.length));
  });
}

/** s r^T, broadcastable against a [..., in, out] weight. */
export function rank1Mask(s: tf.Tensor, r: tf.Tensor): tf.Tensor {
  return tf.mul(tf.reshape(s, [-1, 1]), tf.reshape(r, [1, -1]));
}

abstract class Rank1Layer extends MemberLayer<Factor> {
  readonly latePhaseKind = 'rank1';
  abstract readonly weight: Param;
  abstract readonly bias: Param | null;

  override sharedParams(): Param[] {
    return this.bias ? [this.weight, this.bias] : [this.weight];
  }

  protected foldedWeight(options: FoldOptions): tf.Tensor {
    return foldRank1(this.weight.variable, this.members, options.rank1 ?? 'mean', 's', 'r');
  }

  override dispose(): void {
    super.dispose();
    for (const p of this.sharedParams()) p.variable.dispose();
  }
}

export class Rank1Dense extends Rank1Layer {
  readonly kind = 'rank1-dense';
  readonly weight: Param;
  readonly bias: Param | null;

  constructor(
    name: string,
    readonly inUnits: number,
    readonly outUnits: number,
    opts: { rng: Rng; bias?: boolean },
  ) {
    super(name, factors(name, inUnits, outUnits));
    this.weight = makeParam(`${name}.weight`, kaimingNormal([inUnits, outUnits], inUnits, opts.rng));
    this.bias = opts.bias === false ? null : makeParam(`${name}.bias`, constant([outUnits], 0), false);
  }

  outputShape(input: readonly number[]): number[] {
    return denseOutputShape(this.name, this.inUnits, this.outUnits, input);
  }

  protected forwardMember(x: tf.Tensor, m: Record<Factor, tf.Variable>): tf.Tensor {
    const scaled = denseForward(tf.mul(x, m.s), this.weight.variable, null);
    return this.bias ? tf.add(tf.mul(scaled, m.r), this.bias.variable) : tf.mul(scaled, m.r);
  }

  fold(options: FoldOptions): Dense {
    return new Dense(this.name, this.inUnits, this.outUnits, {
      kernel: makeParam(`${this.name}.weight`, this.foldedWeight(options)),
      bias: this.bias && cloneParam(this.bias),
    });
  }
}

export class Rank1Conv2d extends Rank1Layer {
  readonly kind = 'rank1-conv2d';
  readonly weight: Param;
  readonly bias: Param | null;
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: Padding;

  constructor(
    name: string,
    readonly inChannels: number,
    readonly outChannels: number,
    opts: Conv2dOptions & { rng: Rng },
  ) {
    super(name, factors(name, inChannels, outChannels));
    ({ kernelSize: this.kernelSize, stride: this.stride, padding: this.padding } = convSettings(opts));
    const k = this.kernelSize;
    this.weight = makeParam(`${name}.weight`, kaimingNormal([k, k, inChannels, outChannels], k * k * inChannels, opts.rng));
    this.bias = opts.bias === false ? null : makeParam(`${name}.bias`, constant([outChannels], 0), false);
  }

  outputShape(input: readonly number[]): number[] {
    return conv2dOutputShape(this, input);
  }

  protected forwardMember(x: tf.Tensor, m: Record<Factor, tf.Variable>, _ctx: ForwardContext): tf.Tensor {
    const scaled = tf.mul(conv2dForward(tf.mul(x, m.s), this.weight.variable, null, this.stride, this.padding), m.r);
    return this.bias ? tf.add(scaled, this.bias.variable) : scaled;
  }

  fold(options: FoldOptions): Layer {
    return new Conv2d(this.name, this.inChannels, this.outChannels, {
      kernelSize: this.kernelSize,
      stride: this.stride,
      padding: this.padding,
      filter: makeParam(`${this.name}.weight`, this.foldedWeight(options)),
      biasParam: this.bias && cloneParam(this.bias),
    });
  }
}
