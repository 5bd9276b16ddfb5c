/** Shape checks shared by layers: they turn a mismatch into a ShapeError that names the layer. */
import { ShapeError } from '../errors';

export function expectRank(layer: string, input: readonly number[], ranks: readonly number[]): void {
  if (!ranks.includes(input.length)) {
    throw new ShapeError(`layer '${layer}': expected input of rank ${ranks.join(' or ')} (batch excluded), got [${input.join(', ')}]`);
  }
}

export function expectLastDim(layer: string, input: readonly number[], size: number): void {
  const last = input[input.length - 1];
  if (last !== size) {
    throw new ShapeError(`layer '${layer}': expected ${size} input channels/features, got shape [${input.join(', ')}]`);
  }
}

/** Spatial output size of a window op, tfjs conventions ('same': ceil(in/stride); 'valid': floor((in-k)/stride)+1). */
export function windowOutput(layer: string, size: number, kernel: number, stride: number, padding: 'same' | 'valid'): number {
  const out = padding === 'same' ? Math.ceil(size / stride) : Math.floor((size - kernel) / stride) + 1;
  if (out < 1) throw new ShapeError(`layer '${layer}': input of spatial size ${size} is smaller than its window ${kernel}`);
  return out;
}

/** tfjs 'same' padding for one window op: [top, left, bottom, right]. */
export function samePads(h: number, w: number, kernel: number, stride: number): [number, number, number, number] {
  const total = (size: number): number => Math.max((Math.ceil(size / stride) - 1) * stride + kernel - size, 0);
  const th = total(h);
  const tw = total(w);
  return [Math.floor(th / 2), Math.floor(tw / 2), th - Math.floor(th / 2), tw - Math.floor(tw / 2)];
}
