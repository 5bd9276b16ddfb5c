/**
 * Golden inputs and outputs in the ONNX model-zoo layout: `test_data_set_<n>/input_<i>.pb` and
 * `output_<j>.pb`, each a serialized TensorProto named after the graph's input or output. Read to
 * replay a model offline against the outputs it once gave; written from a reference run.
 */
import * as fs from 'fs';
import * as path from 'path';
import { onnx } from 'onnx-proto';
import { DataError } from '../../src/errors';
import { writeFileAtomic } from '../../src/io/atomicWrite';
import { tensorByteSize, toInt } from '../../src/onnx/readOnnx';
import { ELEMENT_TYPES, ElementType, elementTypeOfCode, elementTypeOfOrt, OrtElementType, TensorValues } from './elementTypes';

/** A tensor by name: its onnxruntime-node element type, shape and values (float16 as bits, bool as 0/1). */
export interface NamedArray {
  readonly name: string;
  readonly dtype: OrtElementType;
  readonly dims: readonly number[];
  readonly data: TensorValues;
}

export interface GoldenSet {
  readonly label: string;
  readonly inputs: readonly NamedArray[];
  readonly outputs: readonly NamedArray[];
}

const DT = onnx.TensorProto.DataType;

export function encodeTensor(a: NamedArray): Uint8Array {
  const type = elementTypeOfOrt(a.dtype)!;
  if (Array.isArray(a.data))
    return onnx.TensorProto.encode({
      name: a.name,
      dataType: type.code,
      dims: [...a.dims],
      stringData: a.data.map((v) => Buffer.from(v, 'utf8')),
    }).finish();
  const bytes = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  return onnx.TensorProto.encode({ name: a.name, dataType: type.code, dims: [...a.dims], rawData: Uint8Array.from(bytes) }).finish();
}

/** Values from a TensorProto's typed field (no raw bytes): integers checked, float16 as the bits int32Data holds. */
function fieldValues(t: onnx.TensorProto, type: ElementType, count: number, file: string): TensorValues {
  if (type.ort === 'string') return (t.stringData ?? []).map((b) => Buffer.from(b).toString('utf8'));
  const field = (t[type.field] ?? []) as Array<number | { toString(): string }>;
  if (field.length !== count) throw new DataError(`golden tensor '${file}': ${field.length} values for ${count} elements`);
  const out = type.zeros(count);
  if (out instanceof BigInt64Array || out instanceof BigUint64Array) field.forEach((v, i) => (out[i] = BigInt(v.toString())));
  else if (type.draw === 'float' && type.ort !== 'float16') field.forEach((v, i) => (out[i] = Number(v)));
  else field.forEach((v, i) => (out[i] = toInt(v as number, `golden tensor '${file}'`)));
  return out;
}

export function decodeTensor(bytes: Uint8Array, file: string): NamedArray {
  let t: onnx.TensorProto;
  try {
    t = onnx.TensorProto.decode(bytes);
  } catch (err) {
    throw new DataError(`golden tensor '${file}' is not a valid TensorProto (${(err as Error).message})`);
  }
  const dims = (t.dims ?? []).map((d) => toInt(d, `golden tensor '${file}': dimension`));
  const type = elementTypeOfCode(t.dataType);
  if (!type)
    throw new DataError(
      `golden tensor '${file}': element type ${DT[t.dataType] ?? t.dataType} is not supported by onnxruntime-node (supported: ${Object.keys(ELEMENT_TYPES).join(', ')})`,
    );
  const count = dims.reduce((a, b) => a * b, 1);
  if (type.ort === 'string') {
    const data = fieldValues(t, type, count, file);
    if (data.length !== count) throw new DataError(`golden tensor '${file}': ${data.length} strings for shape [${dims.join(', ')}]`);
    return { name: t.name, dtype: type.ort, dims, data };
  }
  // Data either raw (little-endian) or in the typed repeated fields.
  if (t.rawData?.length) {
    const size = tensorByteSize(t, `golden tensor '${file}'`) ?? count * type.bytes;
    if (t.rawData.length !== size)
      throw new DataError(`golden tensor '${file}': ${t.rawData.length} data bytes for shape [${dims.join(', ')}] (${size} expected)`);
    return { name: t.name, dtype: type.ort, dims, data: type.view(Uint8Array.from(t.rawData).buffer) };
  }
  return { name: t.name, dtype: type.ort, dims, data: fieldValues(t, type, count, file) };
}

/** Every `test_data_set_<n>` under `dir`, in order; a folder without any is an error. (A set may have no inputs: a graph may take none; the caller matches them to the graph.) */
export function readGoldenSets(dir: string): GoldenSet[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    throw new DataError(`golden data '${dir}': cannot read (${(err as Error).message})`);
  }
  const sets = names
    .filter((n) => /^test_data_set_\d+$/.test(n))
    .sort((a, b) => Number(a.slice(14)) - Number(b.slice(14)))
    .map((set) => {
      const at = path.join(dir, set);
      const files = (prefix: string): NamedArray[] =>
        fs
          .readdirSync(at)
          .filter((f) => new RegExp(`^${prefix}_\\d+\\.pb$`).test(f))
          .sort((a, b) => Number(/\d+/.exec(a)![0]) - Number(/\d+/.exec(b)![0]))
          .map((f) => decodeTensor(fs.readFileSync(path.join(at, f)), path.join(at, f)));
      return { label: `golden ${set}`, inputs: files('input'), outputs: files('output') };
    });
  if (!sets.length) throw new DataError(`golden data '${dir}' holds no test_data_set_<n> folder`);
  return sets;
}

/** Write `sets` in the model-zoo layout under `dir` (each file atomically). */
export function writeGoldenSets(dir: string, sets: readonly GoldenSet[]): void {
  sets.forEach((s, n) => {
    const at = path.join(dir, `test_data_set_${n}`);
    s.inputs.forEach((a, i) => writeFileAtomic(path.join(at, `input_${i}.pb`), encodeTensor(a)));
    s.outputs.forEach((a, j) => writeFileAtomic(path.join(at, `output_${j}.pb`), encodeTensor(a)));
  });
}
