/**
 * Every tensor element type onnxruntime-node accepts, in one table: its ONNX name and code, the
 * onnxruntime-node type name, the typed array that holds it, and how a TensorProto stores it
 * outside raw bytes. Golden files, seeded inputs and output comparison all read this table, so a
 * type is supported everywhere or nowhere.
 */
import { onnx } from 'onnx-proto';

const DT = onnx.TensorProto.DataType;

export type OrtElementType =
  'float32' | 'float64' | 'float16' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'bool' | 'string';

export type TensorValues =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | string[];

export interface ElementType {
  readonly ort: OrtElementType;
  /** ONNX TensorProto.DataType code. */
  readonly code: number;
  /** Bytes per element in raw data (0: strings have no raw form). */
  readonly bytes: number;
  /** How seeded values are drawn: floats, integers, 64-bit integers, booleans, or none (strings). */
  readonly draw: 'float' | 'int' | 'bigint' | 'bool' | 'none';
  /** Smallest and largest value of an integer type (seeded draws stay inside). */
  readonly range?: readonly [number, number];
  /** A typed array over `buffer` (raw data, little-endian) or of `n` zeros. */
  view(buffer: ArrayBuffer): Exclude<TensorValues, string[]>;
  zeros(n: number): Exclude<TensorValues, string[]>;
  /** The TensorProto field holding values when there are no raw bytes. */
  readonly field: 'floatData' | 'doubleData' | 'int32Data' | 'int64Data' | 'uint64Data' | 'stringData';
}

const typed = <T extends Exclude<TensorValues, string[]>>(C: {
  new (b: ArrayBuffer): T;
  new (n: number): T;
}): Pick<ElementType, 'view' | 'zeros'> => ({ view: (b) => new C(b), zeros: (n) => new C(n) });

/** By ONNX type name (FLOAT, INT64, ...), the names `inspect` reports. */
export const ELEMENT_TYPES: Readonly<Record<string, ElementType>> = {
  FLOAT: { ort: 'float32', code: DT.FLOAT, bytes: 4, draw: 'float', field: 'floatData', ...typed(Float32Array) },
  DOUBLE: { ort: 'float64', code: DT.DOUBLE, bytes: 8, draw: 'float', field: 'doubleData', ...typed(Float64Array) },
  // float16 travels as its bit patterns (Uint16Array), as onnxruntime-node takes and returns it.
  FLOAT16: { ort: 'float16', code: DT.FLOAT16, bytes: 2, draw: 'float', field: 'int32Data', ...typed(Uint16Array) },
  INT8: { ort: 'int8', code: DT.INT8, bytes: 1, draw: 'int', range: [-128, 127], field: 'int32Data', ...typed(Int8Array) },
  UINT8: { ort: 'uint8', code: DT.UINT8, bytes: 1, draw: 'int', range: [0, 255], field: 'int32Data', ...typed(Uint8Array) },
  INT16: { ort: 'int16', code: DT.INT16, bytes: 2, draw: 'int', range: [-32768, 32767], field: 'int32Data', ...typed(Int16Array) },
  UINT16: { ort: 'uint16', code: DT.UINT16, bytes: 2, draw: 'int', range: [0, 65535], field: 'int32Data', ...typed(Uint16Array) },
  INT32: { ort: 'int32', code: DT.INT32, bytes: 4, draw: 'int', range: [-(2 ** 31), 2 ** 31 - 1], field: 'int32Data', ...typed(Int32Array) },
  UINT32: { ort: 'uint32', code: DT.UINT32, bytes: 4, draw: 'int', range: [0, 2 ** 32 - 1], field: 'uint64Data', ...typed(Uint32Array) },
  INT64: { ort: 'int64', code: DT.INT64, bytes: 8, draw: 'bigint', field: 'int64Data', ...typed(BigInt64Array) },
  UINT64: { ort: 'uint64', code: DT.UINT64, bytes: 8, draw: 'bigint', field: 'uint64Data', ...typed(BigUint64Array) },
  BOOL: { ort: 'bool', code: DT.BOOL, bytes: 1, draw: 'bool', field: 'int32Data', ...typed(Uint8Array) },
  STRING: {
    ort: 'string',
    code: DT.STRING,
    bytes: 0,
    draw: 'none',
    field: 'stringData',
    view: () => new Uint8Array(0),
    zeros: (n) => new Uint8Array(n),
  },
};

/** The entry for an ONNX type code, or undefined for types onnxruntime-node cannot feed (bfloat16, complex, float8). */
export function elementTypeOfCode(code: number | null | undefined): ElementType | undefined {
  return Object.values(ELEMENT_TYPES).find((t) => t.code === code);
}

/** The entry for an onnxruntime-node type name. */
export function elementTypeOfOrt(ort: string): ElementType | undefined {
  return Object.values(ELEMENT_TYPES).find((t) => t.ort === ort);
}

/** IEEE half-precision bits to a number (for comparing float16 outputs). */
function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** A number in [0, 65504] to the nearest IEEE half-precision bits (seeded float16 inputs). */
export function numberToHalf(v: number): number {
  if (v === 0) return 0;
  let e = Math.floor(Math.log2(v));
  if (e < -14) return Math.round(v / 2 ** -24);
  let fraction = Math.round((v / 2 ** e - 1) * 1024);
  if (fraction === 1024) [e, fraction] = [e + 1, 0]; // rounded up to the next power of two
  return ((e + 15) << 10) | fraction;
}

/** Values as numbers, for numeric comparison (float16 decoded; 64-bit integers rounded to doubles). */
export function asNumbers(values: ArrayLike<number | bigint>, ort: OrtElementType): number[] {
  if (ort === 'float16') return Array.from(values as ArrayLike<number>, halfToNumber);
  return Array.from(values, Number);
}
