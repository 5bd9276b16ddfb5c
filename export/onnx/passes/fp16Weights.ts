/**
 * fp16 weight storage: every float initializer is stored as FLOAT16 and cast back to float once
 * (a Cast node per weight, which onnxruntime folds at load), so inputs, outputs, softmax and every
 * computation stay fp32 while the file shrinks by half. Values beyond fp16's range are clipped
 * to +-65504 and values too small for it become 0; both are counted, and the export is verified
 * against the fp32 one with fp16 tolerances (verifyPrecision.ts).
 */
import { onnx } from 'onnx-proto';
import { GraphParts } from './foldBatchNorm';

const FP16_MAX = 65504;

export interface Fp16Result {
  readonly tensors: number;
  /** Values whose magnitude exceeded 65504, stored as +-65504. */
  readonly clipped: number;
  /** Non-zero values too small for fp16, stored as 0. */
  readonly flushedToZero: number;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary16 bits of `value` (round to nearest even), after clipping to +-65504. */
export function float16Bits(value: number): number {
  f32[0] = Math.max(-FP16_MAX, Math.min(FP16_MAX, value));
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e <= 0) {
    if (e < -10) return sign;
    const full = mant | 0x800000;
    const shift = 14 - e;
    let half = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return half;
}

/** The float value of binary16 bits (for tests and reports). */
export function float16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function fp16WeightsPass(g: GraphParts): Fp16Result {
  let [tensors, clipped, flushedToZero] = [0, 0, 0];
  const casts: onnx.INodeProto[] = [];
  for (const t of g.initializers) {
    if (t.dataType !== onnx.TensorProto.DataType.FLOAT || !t.rawData) continue;
    const raw = t.rawData;
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const out = new Uint8Array(raw.byteLength / 2);
    const outView = new DataView(out.buffer);
    for (let i = 0; i < raw.byteLength / 4; i++) {
      const v = view.getFloat32(i * 4, true);
      if (Math.abs(v) > FP16_MAX) clipped++;
      const bits = float16Bits(v);
      if (v !== 0 && (bits & 0x7fff) === 0) flushedToZero++;
      outView.setUint16(i * 2, bits, true);
    }
    const stored = `${t.name}.fp16`;
    casts.push({
      opType: 'Cast',
      name: `${t.name}/to_float`,
      input: [stored],
      output: [t.name!],
      attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: onnx.TensorProto.DataType.FLOAT }],
    });
    t.name = stored;
    t.dataType = onnx.TensorProto.DataType.FLOAT16;
    t.rawData = out;
    tensors++;
  }
  g.nodes.unshift(...casts);
  return { tensors, clipped, flushedToZero };
}
