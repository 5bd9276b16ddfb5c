/**
 * A convolution whose whole filter and bias are late-phase (the "late-phase deep ensemble"
 * ablation, one layer at a time). Convolution is linear in its weights, so averaging member
 * outputs equals averaging the weights: the fold is exact.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ForwardContext, makeParam } from '../nn/layer';
import { Conv2d, conv2dForward, conv2dOutputShape, Conv2dOptions, convSettings, Padding } from '../nn/conv2d';
import { constant, kaimingNormal } from '../nn/init';
import { Rng } from '../nn/rng';
import { FoldOptions } from './latePhaseLayer';
import { MemberSet } from './memberSet';
import { MemberLayer } from './memberLayer';

export class LatePhaseConv2d extends MemberLayer<'filter' | 'bias'> {
  readonly kind = 'latephase-conv2d';
  readonly latePhaseKind = 'full';
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: Padding;
  readonly hasBias: boolean;

  constructor(
    name: string,
    readonly inChannels: number,
    readonly outChannels: number,
    opts: Conv2dOptions & { rng: Rng },
  ) {
    const k = opts.kernelSize;
    super(
      name,
      new MemberSet(name, {
        filter: { init: kaimingNormal([k, k, inChannels, outChannels], k * k * inChannels, opts.rng), role: 'param' },
        // Without a bias the zero tensor is kept as untrained state, so every member has the same tensor set.
        bias: { init: constant([outChannels], 0), role: opts.bias === false ? 'state' : 'param', decay: false },
      }),
    );
    ({ kernelSize: this.kernelSize, stride: this.stride, padding: this.padding } = convSettings(opts));
    this.hasBias = opts.bias !== false;
  }

  outputShape(input: readonly number[]): number[] {
    return conv2dOutputShape(this, input);
  }

  protected forwardMember(x: tf.Tensor, m: Record<'filter' | 'bias', tf.Variable>, _ctx: ForwardContext): tf.Tensor {
    return conv2dForward(x, m.filter, this.hasBias ? m.bias : null, this.stride, this.padding);
  }

  fold(_options: FoldOptions): Conv2d {
    return new Conv2d(this.name, this.inChannels, this.outChannels, {
      kernelSize: this.kernelSize,
      stride: this.stride,
      padding: this.padding,
      filter: makeParam(`${this.name}.weight`, this.members.mean('filter')),
      biasParam: this.hasBias ? makeParam(`${this.name}.bias`, this.members.mean('bias'), false) : null,
    });
  }
}
