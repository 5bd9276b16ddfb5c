import * as tf from '@tensorflow/tfjs-core';
import { cloneParam, ForwardContext, Layer, makeParam, NamedVariable, Param } from './layer';
import { constant, kaimingNormal } from './init';
import { Rng } from './rng';
import { expectLastDim, expectRank, windowOutput } from './shape';

export type Padding = 'same' | 'valid';

export interface Conv2dOptions {
  readonly kernelSize: number;
  readonly stride?: number;
  readonly padding?: Padding;
  /** Convolutions followed by BatchNorm usually drop their bias. */
  readonly bias?: boolean;
}

/** 2-D convolution on NHWC input with filter [kh, kw, in, out] (tfjs layout). */
export class Conv2d implements Layer {
  readonly kind = 'conv2d';
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: Padding;
  readonly filter: Param;
  readonly bias: Param | null;

  constructor(
    readonly name: string,
    readonly inChannels: number,
    readonly outChannels: number,
    opts: Conv2dOptions & ({ rng: Rng } | { filter: Param; biasParam: Param | null }),
  ) {
    ({ kernelSize: this.kernelSize, stride: this.stride, padding: this.padding } = convSettings(opts));
    if ('filter' in opts) {
      this.filter = opts.filter;
      this.bias = opts.biasParam;
    } else {
      const k = this.kernelSize;
      this.filter = makeParam(`${name}.weight`, kaimingNormal([k, k, inChannels, outChannels], k * k * inChannels, opts.rng));
      this.bias = opts.bias === false ? null : makeParam(`${name}.bias`, constant([outChannels], 0), false);
    }
  }

  outputShape(input: readonly number[]): number[] {
    return conv2dOutputShape(this, input);
  }

  forward(x: tf.Tensor, _ctx: ForwardContext): tf.Tensor {
    return conv2dForward(x, this.filter.variable, this.bias?.variable ?? null, this.stride, this.padding);
  }

  params(): Param[] {
    return this.bias ? [this.filter, this.bias] : [this.filter];
  }

  state(): NamedVariable[] {
    return [];
  }

  children(): readonly Layer[] {
    return [];
  }

  clone(): Conv2d {
    return new Conv2d(this.name, this.inChannels, this.outChannels, {
      kernelSize: this.kernelSize,
      stride: this.stride,
      padding: this.padding,
      filter: cloneParam(this.filter),
      biasParam: this.bias ? cloneParam(this.bias) : null,
    });
  }

  dispose(): void {
    for (const p of this.params()) p.variable.dispose();
  }
}

/**
 * The convolution every conv-like layer (plain, rank-1, template, late-phase) computes. Unfused on
 * purpose: tfjs's fused conv gradient always computes every input's gradient, including the data
 * gradient of a first layer nobody asked for (a whole extra convolution per step, plus identity
 * copies); the plain op's gradient computes only what the tape needs.
 */
export function conv2dForward(x: tf.Tensor, filter: tf.Tensor, bias: tf.Tensor | null, stride: number, padding: Padding): tf.Tensor4D {
  const y = tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, stride, padding);
  return bias ? tf.add(y, bias) : y;
}

/** Kernel size, stride and padding with the defaults every conv-like layer uses (stride 1, 'same'). */
export function convSettings(opts: Conv2dOptions): { kernelSize: number; stride: number; padding: Padding } {
  return { kernelSize: opts.kernelSize, stride: opts.stride ?? 1, padding: opts.padding ?? 'same' };
}

/** The geometry every conv-like layer has; its shape rule is shared. */
export interface ConvGeometry {
  readonly name: string;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: Padding;
}

export function conv2dOutputShape(g: ConvGeometry, input: readonly number[]): number[] {
  expectRank(g.name, input, [3]);
  expectLastDim(g.name, input, g.inChannels);
  const [h, w] = input as [number, number, number];
  return [windowOutput(g.name, h, g.kernelSize, g.stride, g.padding), windowOutput(g.name, w, g.kernelSize, g.stride, g.padding), g.outChannels];
}
