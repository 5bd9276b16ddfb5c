/** The geometry of a 2-D convolution as one value: every conv-like computation, shape rule and lowering reads it. */
import { expectLastDim, expectRank, windowOutput } from './shape';

export type Padding = 'same' | 'valid';

export interface Conv2dOptions {
  readonly kernelSize: number;
  readonly stride?: number;
  readonly padding?: Padding;
  /** Convolutions followed by BatchNorm usually drop their bias. */
  readonly bias?: boolean;
}

export interface ConvGeometry {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: Padding;
}

/** Geometry with the defaults every conv layer uses (stride 1, 'same'). */
export function convGeometry(inChannels: number, outChannels: number, opts: Conv2dOptions): ConvGeometry {
  return { inChannels, outChannels, kernelSize: opts.kernelSize, stride: opts.stride ?? 1, padding: opts.padding ?? 'same' };
}

/** tfjs filter layout [kh, kw, in, out]. */
export function filterShape(g: ConvGeometry): [number, number, number, number] {
  return [g.kernelSize, g.kernelSize, g.inChannels, g.outChannels];
}

export function fanIn(g: ConvGeometry): number {
  return g.kernelSize * g.kernelSize * g.inChannels;
}

/** [H, W, inChannels] -> [H', W', outChannels]; a ShapeError names `layer` otherwise. */
export function convOutputShape(layer: string, g: ConvGeometry, input: readonly number[]): number[] {
  expectRank(layer, input, [3]);
  expectLastDim(layer, input, g.inChannels);
  const [h, w] = input as [number, number, number];
  return [windowOutput(layer, h, g.kernelSize, g.stride, g.padding), windowOutput(layer, w, g.kernelSize, g.stride, g.padding), g.outChannels];
}
