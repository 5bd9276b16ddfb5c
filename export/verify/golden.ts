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
import { tensorByteSize, toInt } from './readOnnx';

/** A tensor by name: element type, shape and values (float32 / int64 as numbers / int32 / bool as 0/1). */
export interface NamedArray {
  readonly name: string;
  readonly dtype: 'float32' | 'int64' | 'int32' | 'bool';
  readonly dims: readonly number[];
  readonly data: Float32Array | Int32Array | BigInt64Array | Uint8Array;
}

export interface GoldenSet {
  readonly label: string;
  readonly inputs: readonly NamedArray[];
  readonly outputs: readonly NamedArray[];
}

const DT = onnx.TensorProto.DataType;
const TYPES = { float32: DT.FLOAT, int64: DT.INT64, int32: DT.INT32, bool: DT.BOOL } as const;

export function encodeTensor(a: NamedArray): Uint8Array {
  const bytes = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  return onnx.TensorProto.encode({ name: a.name, dataType: TYPES[a.dtype], dims: [...a.dims], rawData: Uint8Array.from(bytes) }).finish();
}

export function decodeTensor(bytes: Uint8Array, file: string): NamedArray {
  let t: onnx.TensorProto;
  try {
    t = onnx.TensorProto.decode(bytes);
  } catch (err) {
    throw new DataError(`golden tensor '${file}' is not a valid TensorProto (${(err as Error).message})`);
  }
  const dims = (t.dims ?? []).map((d) => toInt(d, `golden tensor '${file}': dimension`));
  const dtype = (Object.keys(TYPES) as Array<keyof typeof TYPES>).find((k) => TYPES[k] === t.dataType);
  if (!dtype)
    throw new DataError(`golden tensor '${file}': element type ${DT[t.dataType] ?? t.dataType} is not supported (float32, int64, int32, bool)`);
  const size = tensorByteSize(t, `golden tensor '${file}'`)!;
  const count = dims.reduce((a, b) => a * b, 1);
  // Data either raw (little-endian) or in the typed repeated fields.
  if (t.rawData?.length) {
    if (t.rawData.length !== size)
      throw new DataError(`golden tensor '${file}': ${t.rawData.length} data bytes for shape [${dims.join(', ')}] (${size} expected)`);
    const copy = Uint8Array.from(t.rawData).buffer;
    const data =
      dtype === 'float32'
        ? new Float32Array(copy)
        : dtype === 'int64'
          ? new BigInt64Array(copy)
          : dtype === 'int32'
            ? new Int32Array(copy)
            : new Uint8Array(copy);
    return { name: t.name, dtype, dims, data };
  }
  const fields = dtype === 'float32' ? t.floatData : dtype === 'int64' ? t.int64Data : t.int32Data;
  if ((fields?.length ?? 0) !== count) throw new DataError(`golden tensor '${file}': ${fields?.length ?? 0} values for shape [${dims.join(', ')}]`);
  const values = (fields ?? []).map((v) => toInt(v as number, `golden tensor '${file}'`));
  const data =
    dtype === 'float32'
      ? Float32Array.from(t.floatData)
      : dtype === 'int64'
        ? BigInt64Array.from(values.map(BigInt))
        : dtype === 'int32'
          ? Int32Array.from(values)
          : Uint8Array.from(values);
  return { name: t.name, dtype, dims, data };
}

/** Every `test_data_set_<n>` under `dir`, in order; a folder without any is an error. */
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
  for (const s of sets) if (!s.inputs.length) throw new DataError(`golden data '${dir}': ${s.label} has no input_<i>.pb`);
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
