/**
 * Reading ONNX files we did not write, safely (../shared/docs/prior-art.md section 7: external
 * data has had several path-traversal CVEs, on the read and the write side). Before anything is
 * read: a size limit; the protobuf decoded in a guard that turns truncation and malformed bytes
 * into a named DataError; every external-data entry checked (relative path only, no `..`, no
 * absolute or drive paths, the canonical path inside the model's folder, no symlinks, a regular
 * file, offset + length inside it and equal to the tensor's byte size, no inline data beside it).
 * Only then are external bytes read, each entry's slice alone.
 */
import * as fs from 'fs';
import * as path from 'path';
import { onnx } from 'onnx-proto';
import { DataError } from '../errors';

/** 2 GiB: protobuf's own message limit; larger models must keep their weights in external data. */
const DEFAULT_MAX_MODEL_BYTES = 2 ** 31;
/** Weights read from external data, all files together (a hostile entry must not exhaust memory). */
const DEFAULT_MAX_EXTERNAL_BYTES = 16 * 2 ** 30;

interface ReadOnnxOptions {
  readonly maxBytes?: number;
  readonly maxExternalBytes?: number;
}

interface OnnxFile {
  readonly file: string;
  readonly model: onnx.ModelProto;
  /** Bytes read from external-data files (0 when every weight is inline). */
  readonly externalBytes: number;
}

const DT = onnx.TensorProto.DataType;
/** Bytes per element of each ONNX tensor type that can be stored raw (strings cannot). */
const ELEMENT_BYTES: Readonly<Partial<Record<number, number>>> = {
  [DT.FLOAT]: 4,
  [DT.UINT8]: 1,
  [DT.INT8]: 1,
  [DT.UINT16]: 2,
  [DT.INT16]: 2,
  [DT.INT32]: 4,
  [DT.INT64]: 8,
  [DT.BOOL]: 1,
  [DT.FLOAT16]: 2,
  [DT.DOUBLE]: 8,
  [DT.UINT32]: 4,
  [DT.UINT64]: 8,
  [DT.COMPLEX64]: 8,
  [DT.COMPLEX128]: 16,
  [DT.BFLOAT16]: 2,
};

/** An int64 protobuf field as a safe JavaScript integer (protobufjs gives Long objects or numbers). */
export function toInt(v: number | { toNumber(): number } | null | undefined, what: string): number {
  const n = v === null || v === undefined ? 0 : typeof v === 'number' ? v : v.toNumber();
  if (!Number.isSafeInteger(n)) throw new DataError(`${what}: ${String(v)} is not a usable integer`);
  return n;
}

/** The byte size a tensor's data must have: element count times element size (null for strings). */
export function tensorByteSize(t: onnx.ITensorProto, what: string): number | null {
  const size = ELEMENT_BYTES[t.dataType ?? 0];
  if (size === undefined) return null;
  let count = 1;
  for (const d of t.dims ?? []) {
    const n = toInt(d, `${what}: dimension`);
    if (n < 0) throw new DataError(`${what}: negative dimension ${n}`);
    count *= n;
  }
  if (!Number.isSafeInteger(count * size)) throw new DataError(`${what}: ${count} elements is more than can be addressed`);
  return count * size;
}

/** Every tensor a model stores data for: initializers, Constant node attributes, in the graph and its subgraphs. */
export function storedTensors(graph: onnx.IGraphProto | null | undefined): onnx.ITensorProto[] {
  if (!graph) return [];
  const out: onnx.ITensorProto[] = [...(graph.initializer ?? [])];
  for (const node of graph.node ?? []) {
    for (const a of node.attribute ?? []) {
      if (a.t) out.push(a.t);
      out.push(...(a.tensors ?? []));
      out.push(...storedTensors(a.g));
      for (const g of a.graphs ?? []) out.push(...storedTensors(g));
    }
  }
  for (const s of graph.sparseInitializer ?? []) out.push(...[s.values, s.indices].filter((t): t is onnx.ITensorProto => !!t));
  return out;
}

interface ExternalEntry {
  readonly location: string;
  readonly offset: number;
  readonly length: number;
}

/**
 * A relative location inside `dir`, checked by name before the file system is asked anything:
 * no absolute, drive or UNC paths, no `..` or empty segments, no NUL; then canonically (realpath)
 * inside `dir`, not a symlink, a regular file. The same rules hold for the files we write.
 */
export function checkExternalLocation(dir: string, location: string, what: string): string {
  const bad = (why: string): DataError => new DataError(`${what}: external data location ${JSON.stringify(location)} ${why}`);
  if (!location) throw bad('is empty');
  if (location.includes('\0')) throw bad('contains a NUL byte');
  if (path.posix.isAbsolute(location) || path.win32.isAbsolute(location) || /^[a-zA-Z]:/.test(location) || location.startsWith('\\\\'))
    throw bad('is absolute; only paths relative to the model folder are allowed');
  const segments = location.split(/[\\/]/);
  if (segments.some((s) => s === '..')) throw bad("contains '..'; it must stay inside the model folder");
  if (segments.some((s) => s === '' || s === '.')) throw bad('has empty or "." segments');
  const root = fs.realpathSync(dir);
  const target = path.join(root, ...segments);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(target);
  } catch {
    throw bad(`names a file that does not exist in ${root}`);
  }
  if (st.isSymbolicLink()) throw bad('is a symbolic link; links are not followed');
  if (!st.isFile()) throw bad('is not a regular file');
  const real = fs.realpathSync(target);
  const rel = path.relative(root, real);
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw bad(`resolves outside the model folder (${real})`);
  return real;
}

/** The tensor's external-data entry, parsed and checked against the tensor (not yet against the file). */
function externalEntry(t: onnx.ITensorProto, what: string): ExternalEntry {
  const fields = new Map<string, string>();
  for (const kv of t.externalData ?? []) {
    const key = kv.key ?? '';
    if (fields.has(key)) throw new DataError(`${what}: external data key '${key}' appears twice`);
    fields.set(key, kv.value ?? '');
  }
  const known = new Set(['location', 'offset', 'length', 'checksum']);
  const unknown = [...fields.keys()].filter((k) => !known.has(k));
  if (unknown.length) throw new DataError(`${what}: unknown external data key(s) ${unknown.map((k) => `'${k}'`).join(', ')}`);
  const int = (key: string): number | undefined => {
    const raw = fields.get(key);
    if (raw === undefined) return undefined;
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw)))
      throw new DataError(`${what}: external data ${key} ${JSON.stringify(raw)} is not a byte count`);
    return Number(raw);
  };
  const inline = (t.rawData?.length ?? 0) + (t.floatData?.length ?? 0) + (t.int32Data?.length ?? 0) + (t.int64Data?.length ?? 0);
  const more = (t.doubleData?.length ?? 0) + (t.uint64Data?.length ?? 0) + (t.stringData?.length ?? 0);
  if (inline + more > 0) throw new DataError(`${what}: has inline data beside external data`);
  const expected = tensorByteSize(t, what);
  if (expected === null) throw new DataError(`${what}: a ${DT[t.dataType ?? 0] ?? t.dataType} tensor cannot be stored as external data`);
  const offset = int('offset') ?? 0;
  const length = int('length') ?? expected;
  if (length !== expected) throw new DataError(`${what}: external data length ${length} differs from the tensor's ${expected} bytes`);
  return { location: fields.get('location') ?? '', offset, length };
}

/** Decode `bytes` as a ModelProto; truncated or malformed protobuf is a DataError naming the file. */
export function decodeModel(bytes: Uint8Array, file: string): onnx.ModelProto {
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new DataError(`'${file}' is not a valid ONNX model: the protobuf is truncated or malformed (${(err as Error).message})`);
  }
  if (!model.graph) throw new DataError(`'${file}' is not an ONNX model: it has no graph`);
  if (!model.opsetImport?.length) throw new DataError(`'${file}' is not a usable ONNX model: it imports no opset`);
  toInt(model.irVersion, `'${file}': IR version`);
  return model;
}

/**
 * Read and check an ONNX model file; external data is checked entry by entry before any of it is
 * read, then loaded into the tensors (so the model can be handed to onnxruntime as bytes).
 */
export function readOnnxModel(file: string, opts: ReadOnnxOptions = {}): OnnxFile {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_MODEL_BYTES;
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    throw new DataError(`ONNX model '${file}': cannot read (${(err as Error).message})`);
  }
  if (!st.isFile()) throw new DataError(`ONNX model '${file}' is not a regular file`);
  if (st.size > maxBytes) throw new DataError(`ONNX model '${file}' is ${st.size} bytes, over the ${maxBytes}-byte limit`);
  if (st.size === 0) throw new DataError(`ONNX model '${file}' is empty`);
  const model = decodeModel(fs.readFileSync(file), file);
  const dir = path.dirname(path.resolve(file));
  const external = storedTensors(model.graph).filter((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL);
  // Every entry is checked before any is read: a hostile entry stops the read with nothing opened.
  const checked = external.map((t, i) => {
    const what = `ONNX model '${file}', tensor '${t.name ?? `#${i}`}'`;
    const entry = externalEntry(t, what);
    const real = checkExternalLocation(dir, entry.location, what);
    const size = fs.statSync(real).size;
    if (entry.offset + entry.length > size)
      throw new DataError(
        `${what}: external data offset ${entry.offset} + length ${entry.length} runs past the end of '${entry.location}' (${size} bytes)`,
      );
    return { t, entry, real };
  });
  const total = checked.reduce((s, c) => s + c.entry.length, 0);
  const maxExternal = opts.maxExternalBytes ?? DEFAULT_MAX_EXTERNAL_BYTES;
  if (total > maxExternal) throw new DataError(`ONNX model '${file}': ${total} bytes of external data, over the ${maxExternal}-byte limit`);
  for (const { t, entry, real } of checked) {
    const data = Buffer.alloc(entry.length);
    const fd = fs.openSync(real, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0)); // swapped for a link since the check: refused
    try {
      if (fs.readSync(fd, data, 0, entry.length, entry.offset) !== entry.length) throw new DataError(`'${real}' changed while it was read`);
    } finally {
      fs.closeSync(fd);
    }
    t.rawData = data;
    t.externalData = [];
    t.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
  }
  return { file, model, externalBytes: total };
}
