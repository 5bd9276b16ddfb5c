/**
 * The low-level ONNX protobuf vocabulary, stated once: the IR version and opset every graph we
 * write targets, attribute builders, and tensors with little-endian raw data. Shared by the
 * exporter (export/onnx) and the onnxruntime convolution graphs (src/backend).
 */
import { onnx } from 'onnx-proto';

/** Opset 17 / IR 8: supported by every onnxruntime since 1.13 and by Debian's onnx 1.12 checker. */
export const OPSET = 17;
export const IR_VERSION = 8;

export type AttributeValue = { readonly i: number } | { readonly ints: readonly number[] } | { readonly f: number } | { readonly s: string };

const ATTR = onnx.AttributeProto.AttributeType;
const DT = onnx.TensorProto.DataType;

export function attribute(name: string, v: AttributeValue): onnx.IAttributeProto {
  if ('i' in v) return { name, type: ATTR.INT, i: v.i };
  if ('ints' in v) return { name, type: ATTR.INTS, ints: [...v.ints] };
  if ('f' in v) return { name, type: ATTR.FLOAT, f: v.f };
  return { name, type: ATTR.STRING, s: new TextEncoder().encode(v.s) };
}

export function attributes(attrs: Readonly<Record<string, AttributeValue>>): onnx.IAttributeProto[] {
  return Object.entries(attrs).map(([k, v]) => attribute(k, v));
}

/** Whether this machine stores floats little-endian, as ONNX's raw_data does. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Little-endian float32 bytes of `values` (a copy). On a little-endian machine that is the memory
 * of a Float32Array as it is: one copy, where a DataView write per value dominated a large
 * model's export (WRN-28-10: 36M weights).
 */
export function float32Bytes(values: ArrayLike<number>): Uint8Array {
  if (LITTLE_ENDIAN) {
    const floats = values instanceof Float32Array ? values : Float32Array.from(values);
    return new Uint8Array(floats.buffer.slice(floats.byteOffset, floats.byteOffset + floats.byteLength));
  }
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return bytes;
}

export function int64Bytes(values: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return bytes;
}

export function float32Tensor(name: string, values: ArrayLike<number>, dims: readonly number[]): onnx.ITensorProto {
  return { name, dataType: DT.FLOAT, dims: [...dims], rawData: float32Bytes(values) };
}

/** A constant int64 vector. */
export function int64Tensor(name: string, values: readonly number[]): onnx.ITensorProto {
  return { name, dataType: DT.INT64, dims: [values.length], rawData: int64Bytes(values) };
}

/** A float graph input or output; a string dimension is symbolic. */
export function floatValueInfo(name: string, dims: ReadonlyArray<number | string>): onnx.IValueInfoProto {
  const dim = dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d }));
  return { name, type: { tensorType: { elemType: DT.FLOAT, shape: { dim } } } };
}

/** A ModelProto around `graph` at our IR version and opset, encoded. */
export function encodeModel(graph: onnx.IGraphProto, extra: Partial<onnx.IModelProto> = {}): Uint8Array {
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({ irVersion: IR_VERSION, opsetImport: [{ domain: '', version: OPSET }], ...extra, graph }),
  ).finish();
}
