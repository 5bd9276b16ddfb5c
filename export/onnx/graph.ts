/** Accumulates ONNX nodes and initializers with unique names; knows nothing about layers. */
import { onnx } from 'onnx-proto';

export type AttributeValue = { readonly i: number } | { readonly ints: readonly number[] } | { readonly f: number } | { readonly s: string };

const ATTR = onnx.AttributeProto.AttributeType;
const DT = onnx.TensorProto.DataType;

function attribute(name: string, v: AttributeValue): onnx.IAttributeProto {
  if ('i' in v) return { name, type: ATTR.INT, i: v.i };
  if ('ints' in v) return { name, type: ATTR.INTS, ints: [...v.ints] };
  if ('f' in v) return { name, type: ATTR.FLOAT, f: v.f };
  return { name, type: ATTR.STRING, s: new TextEncoder().encode(v.s) };
}

/** ONNX raw_data is little-endian whatever the host's byte order. */
function float32Bytes(values: ArrayLike<number>): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return bytes;
}

function int64Bytes(values: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return bytes;
}

export class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  private readonly taken = new Set<string>();

  /** A fresh tensor or node name based on `base`. */
  uniqueName(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_.\-/]/g, '_');
    let name = clean;
    for (let i = 1; this.taken.has(name); i++) name = `${clean}_${i}`;
    this.taken.add(name);
    return name;
  }

  /** Reserve an exact name (graph inputs and outputs). */
  reserve(name: string): string {
    if (this.taken.has(name)) throw new Error(`ONNX name '${name}' is already used`);
    this.taken.add(name);
    return name;
  }

  floatInitializer(base: string, values: ArrayLike<number>, dims: readonly number[]): string {
    const name = this.uniqueName(base);
    this.initializers.push({ name, dataType: DT.FLOAT, dims: [...dims], rawData: float32Bytes(values) });
    return name;
  }

  int64Initializer(base: string, values: readonly number[]): string {
    const name = this.uniqueName(base);
    this.initializers.push({ name, dataType: DT.INT64, dims: [values.length], rawData: int64Bytes(values) });
    return name;
  }

  /** Adds a node and returns its output name (`output` if given, else a fresh name from `base`). */
  node(opType: string, inputs: readonly string[], base: string, attrs: Record<string, AttributeValue> = {}, output?: string): string {
    const out = output ?? this.uniqueName(base);
    this.nodes.push({
      opType,
      name: this.uniqueName(`${base}/${opType}`),
      input: [...inputs],
      output: [out],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return out;
  }
}
