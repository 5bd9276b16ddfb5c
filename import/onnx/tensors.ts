/**
 * ONNX tensors (initializers and Constant values) as import constants: float32, float64, float16
 * and integer types, raw (little-endian) or in the typed fields. NaN or Inf in a weight is a
 * ConfigError naming the tensor: training from it could only diverge.
 */
import { onnx } from 'onnx-proto';
import { ConfigError } from '../../src/errors';
import { toInt } from '../../src/onnx/readOnnx';
import { ConstValue, constant } from './values';

const DT = onnx.TensorProto.DataType;

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? Number.NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** The values of `t` as doubles, with its dims; `what` names it in errors. */
export function constantOf(t: onnx.ITensorProto, what: string): ConstValue {
  const dims = (t.dims ?? []).map((d) => toInt(d, `${what}: dimension`));
  const count = dims.reduce((a, b) => a * b, 1);
  const raw = t.rawData && t.rawData.length ? t.rawData : null;
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : null;
  const read = (bytes: number, get: (offset: number) => number, field: ArrayLike<number | { toNumber(): number }> | null | undefined): number[] => {
    if (view) {
      if (view.byteLength !== count * bytes) throw new ConfigError(`${what}: ${view.byteLength} data bytes for shape [${dims.join(', ')}]`);
      return Array.from({ length: count }, (_, i) => get(i * bytes));
    }
    const values = Array.from(field ?? [], (v) => (typeof v === 'number' ? v : v.toNumber()));
    if (values.length !== count) throw new ConfigError(`${what}: ${values.length} values for shape [${dims.join(', ')}]`);
    return values;
  };
  let data: number[];
  let integer = true;
  switch (t.dataType) {
    case DT.FLOAT:
      data = read(4, (o) => view!.getFloat32(o, true), t.floatData);
      integer = false;
      break;
    case DT.DOUBLE:
      data = read(8, (o) => view!.getFloat64(o, true), t.doubleData);
      integer = false;
      break;
    case DT.FLOAT16:
      data = read(
        2,
        (o) => halfToFloat(view!.getUint16(o, true)),
        (t.int32Data ?? []).map((v) => halfToFloat(v)),
      );
      integer = false;
      break;
    case DT.INT64:
      data = read(8, (o) => Number(view!.getBigInt64(o, true)), t.int64Data as ArrayLike<number | { toNumber(): number }>);
      break;
    case DT.INT32:
      data = read(4, (o) => view!.getInt32(o, true), t.int32Data);
      break;
    case DT.BOOL:
    case DT.UINT8:
      data = read(1, (o) => view!.getUint8(o), t.int32Data);
      break;
    default:
      throw new ConfigError(
        `${what}: element type ${DT[t.dataType ?? 0] ?? t.dataType} is not supported at import (float32, float64, float16, int64, int32, uint8, bool)`,
      );
  }
  if (!integer && data.some((v) => !Number.isFinite(v)))
    throw new ConfigError(`${what}: holds NaN or Inf values; a model cannot be trained from them`);
  return constant(dims, data, integer);
}
