/** The geometry of a 2-D convolution as one value: every conv-like computation, shape rule and lowering reads it. */
import { expectLastDim, expectRank, windowOutput } from './shape';
import { ConfigError } from '../errors';

export type Padding = 'same' | 'valid';

export interface Conv2dOptions {
  readonly kernelSize: number;
  readonly stride?: number;
  readonly padding?: Padding;
  /** Convolutions followed by BatchNorm usually drop their bias. */
  readonly bias?: boolean;
  /** Grouped convolution: input and output channels split into this many groups (depthwise: groups = channels). */
  readonly groups?: number;
}

export interface ConvGeometry {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: Padding;
  /** 1 for an ordinary convolution; each output group reads its own input group. */
  readonly groups: number;
}

/** Geometry with the defaults every conv layer uses (stride 1, 'same'). */
export function convGeometry(inChannels: number, outChannels: number, opts: Conv2dOptions): ConvGeometry {
  const groups = opts.groups ?? 1;
  if (!(Number.isInteger(groups) && groups >= 1 && inChannels % groups === 0 && outChannels % groups === 0))
    throw new ConfigError(`convolution: ${groups} groups do not divide ${inChannels} input and ${outChannels} output channels`);
  return { inChannels, outChannels, kernelSize: opts.kernelSize, stride: opts.stride ?? 1, padding: opts.padding ?? 'same', groups };
}

/** tfjs filter layout [kh, kw, in, out]; a grouped convolution's `in` is one group's. */
export function filterShape(g: ConvGeometry): [number, number, number, number] {
  return [g.kernelSize, g.kernelSize, g.inChannels / g.groups, g.outChannels];
}

export function fanIn(g: ConvGeometry): number {
  return (g.kernelSize * g.kernelSize * g.inChannels) / g.groups;
}

/** [H, W, inChannels] -> [H', W', outChannels]; a ShapeError names `layer` otherwise. */
export function convOutputShape(layer: string, g: ConvGeometry, input: readonly number[]): number[] {
  expectRank(layer, input, [3]);
  expectLastDim(layer, input, g.inChannels);
  const [h, w] = input as [number, number, number];
  return [windowOutput(layer, h, g.kernelSize, g.stride, g.padding), windowOutput(layer, w, g.kernelSize, g.stride, g.padding), g.outChannels];
}
