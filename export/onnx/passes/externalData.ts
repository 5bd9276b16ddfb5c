/**
 * External data for large models: initializers of `threshold` bytes or more move out of the
 * protobuf into one side file (ONNX external data: location, offset, length), 64-byte aligned.
 * The location obeys the rules the safe reader enforces (readOnnx.ts), checked again when the
 * files are written: one plain relative file name beside the model, never a path.
 */
import * as fs from 'fs';
import * as path from 'path';
import { onnx } from 'onnx-proto';
import { ExportError, WriteError } from '../../../src/errors';
import { writeFileAtomic } from '../../../src/io/atomicWrite';

const ALIGN = 64;

interface ExternalData {
  /** The side file's name, relative to the model's folder. */
  readonly location: string;
  readonly bytes: Uint8Array;
  readonly tensors: number;
}

/** A location we write: a single plain file name (no folders, no '..', not absolute, no NUL, not hidden). */
export function checkWriteLocation(location: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(location) || location.includes('..'))
    throw new ExportError(`external data location '${location}' must be a plain file name (letters, digits, '_', '-', '.'), beside the model`);
}

/** Move initializers of `threshold` bytes or more into one side file; returns it (null when none qualifies). */
function externalDataPass(initializers: onnx.ITensorProto[], threshold: number, location: string): ExternalData | null {
  checkWriteLocation(location);
  if (!(threshold >= 0)) throw new ExportError(`external data threshold must be >= 0 bytes, got ${threshold}`);
  const chunks: Uint8Array[] = [];
  let offset = 0;
  let tensors = 0;
  for (const t of initializers) {
    const data = t.rawData;
    if (!data || data.length < threshold || data.length === 0) continue;
    const pad = (ALIGN - (offset % ALIGN)) % ALIGN;
    if (pad) chunks.push(new Uint8Array(pad));
    offset += pad;
    chunks.push(data);
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    t.externalData = [
      { key: 'location', value: location },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(data.length) },
    ];
    t.rawData = new Uint8Array();
    offset += data.length;
    tensors++;
  }
  if (!tensors) return null;
  const bytes = new Uint8Array(offset);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return { location, bytes, tensors };
}

/**
 * Write a model and its external data into `dir`, each atomically, the side file first (a reader
 * never sees a model whose data is missing). Refuses to write through a symbolic link.
 */
export function writeModelFiles(dir: string, file: string, bytes: Uint8Array, external: ExternalData | null): void {
  checkWriteLocation(file);
  for (const name of [file, ...(external ? [external.location] : [])]) {
    const target = path.join(dir, name);
    if (fs.lstatSync(target, { throwIfNoEntry: false })?.isSymbolicLink()) throw new WriteError(`refusing to write ${target}: it is a symbolic link`);
  }
  if (external) writeFileAtomic(path.join(dir, external.location), external.bytes);
  writeFileAtomic(path.join(dir, file), bytes);
}

/** An encoded model split for writing: the protobuf without the large initializers, and their side file. */
export function splitExternalData(modelBytes: Uint8Array, threshold: number, location: string): { model: Uint8Array; external: ExternalData | null } {
  const model = onnx.ModelProto.decode(modelBytes);
  const external = externalDataPass(model.graph?.initializer ?? [], threshold, location);
  return { model: external ? onnx.ModelProto.encode(model).finish() : modelBytes, external };
}
