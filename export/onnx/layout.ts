/**
 * The one place where tfjs's NHWC meets ONNX's NCHW.
 * - Per-example tensors of rank 3 are images: [H, W, C] in tfjs, [C, H, W] in the ONNX graph.
 * - Conv filters are [kh, kw, in, out] in tfjs and [out, in, kh, kw] (OIHW) in ONNX.
 * - Flattening an image in tfjs reads H, W, C order; the ONNX graph transposes back to NHWC first,
 *   so downstream Dense weights keep their tfjs row order.
 * - A model whose input is an image takes NCHW at the ONNX boundary; flat inputs stay flat.
 */
import { samePads } from '../../src/nn/shape';

export const ONNX_IMAGE_LAYOUT = 'NCHW';
export const NCHW_TO_NHWC = [0, 2, 3, 1] as const;
export const NHWC_TO_NCHW = [0, 3, 1, 2] as const;

export function isImageShape(perExample: readonly number[]): boolean {
  return perExample.length === 3;
}

/** ONNX dims of a per-example tfjs shape, batch excluded. */
export function onnxDims(perExample: readonly number[]): number[] {
  if (!isImageShape(perExample)) return [...perExample];
  const [h, w, c] = perExample as [number, number, number];
  return [c, h, w];
}

/** [kh, kw, in, out] -> [out, in, kh, kw]. */
export function filterToOIHW(values: ArrayLike<number>, shape: readonly [number, number, number, number]): Float32Array {
  const [kh, kw, ci, co] = shape;
  // a typed source and the index arithmetic hoisted: the per-element form was slow on large filters (WRN-28-10)
  const src = values instanceof Float32Array ? values : Float32Array.from(values);
  const out = new Float32Array(src.length);
  const taps = kh * kw;
  for (let o = 0; o < co; o++)
    for (let c = 0; c < ci; c++) {
      const dst = (o * ci + c) * taps;
      for (let t = 0, from = c * co + o; t < taps; t++, from += ci * co) out[dst + t] = src[from]!;
    }
  return out;
}

/** A batch of tfjs inputs ([n, ...perExample], row-major) in the ONNX input layout. */
export function toOnnxInput(values: Float32Array, n: number, perExample: readonly number[]): Float32Array {
  if (!isImageShape(perExample)) return values;
  const [h, w, c] = perExample as [number, number, number];
  const out = new Float32Array(values.length);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) for (let ch = 0; ch < c; ch++) out[((b * c + ch) * h + y) * w + x] = values[((b * h + y) * w + x) * c + ch]!;
  return out;
}

/** Explicit ONNX pads [top, left, bottom, right] (ONNX's x1_begin, x2_begin, x1_end, x2_end) reproducing tfjs padding. */
export function windowPads(inH: number, inW: number, kernel: number, stride: number, padding: 'same' | 'valid'): number[] {
  return padding === 'valid' ? [0, 0, 0, 0] : samePads(inH, inW, kernel, stride);
}

/** The ONNX axis (batch included) of per-example tfjs axis `axis` (non-negative): an image's H, W, C are NCHW's 2, 3, 1. */
export function onnxAxis(perExample: readonly number[], axis: number): number {
  return isImageShape(perExample) ? [2, 3, 1][axis]! : axis + 1;
}
