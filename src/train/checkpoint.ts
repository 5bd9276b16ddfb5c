/**
 * Model checkpoints: every parameter and state tensor (late-phase members included), by name.
 *
 * File layout: 8-byte magic `LPCKPT01`, a little-endian uint32 header length, a JSON header
 * (model name, member count K, each tensor's name/shape/offset, payload size and SHA-256), then
 * the float32 little-endian payload. Writes are atomic; loading validates the whole file and the
 * model's tensor names and shapes before assigning any value, so a bad file changes no weight.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs-core';
import { Model } from '../nn/model';
import { NamedVariable, uniqueByVariable } from '../nn/layer';
import { writeFileAtomic } from '../io/atomicWrite';
import { memberCount, releaseMembers } from '../latephase/members';
import { ConfigError, DataError, ShapeError } from '../errors';

const MAGIC = 'LPCKPT01';
const VERSION = 1;

interface TensorEntry {
  readonly name: string;
  readonly shape: number[];
  /** Offset in float32 elements from the start of the payload. */
  readonly offset: number;
}

interface Header {
  readonly format: 'latephase-checkpoint';
  readonly version: number;
  readonly model: string;
  readonly members: number;
  readonly tensors: TensorEntry[];
  readonly payloadBytes: number;
  readonly sha256: string;
  readonly meta: Record<string, string | number>;
}

export interface CheckpointInfo {
  readonly model: string;
  readonly members: number;
  readonly tensors: number;
  readonly meta: Readonly<Record<string, string | number>>;
}

/** Every variable of the model, named; names must be unique to be restorable. */
export function checkpointVariables(model: Model): NamedVariable[] {
  const all: NamedVariable[] = uniqueByVariable([...model.params(), ...model.net.state()]);
  const seen = new Set<string>();
  for (const v of all) {
    if (seen.has(v.name))
      throw new ConfigError(`model '${model.name}': tensor name '${v.name}' is used twice; give layers unique names to checkpoint it`);
    seen.add(v.name);
  }
  return all;
}

export function saveCheckpoint(model: Model, file: string, meta: Record<string, string | number> = {}): void {
  const vars = checkpointVariables(model);
  const total = vars.reduce((s, v) => s + v.variable.size, 0);
  const payload = new Uint8Array(total * 4);
  const view = new DataView(payload.buffer);
  const tensors: TensorEntry[] = [];
  let offset = 0;
  for (const { name, variable } of vars) {
    const values = variable.dataSync();
    for (let i = 0; i < values.length; i++) view.setFloat32((offset + i) * 4, values[i]!, true);
    tensors.push({ name, shape: [...variable.shape], offset });
    offset += values.length;
  }
  const header: Header = {
    format: 'latephase-checkpoint',
    version: VERSION,
    model: model.name,
    members: memberCount(model),
    tensors,
    payloadBytes: payload.length,
    sha256: crypto.createHash('sha256').update(payload).digest('hex'),
    meta,
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(12);
  prefix.write(MAGIC, 0, 'latin1');
  prefix.writeUInt32LE(headerBytes.length, 8);
  writeFileAtomic(file, Buffer.concat([prefix, headerBytes, payload]));
}

function readHeader(file: string, bytes: Buffer): { header: Header; payload: Buffer } {
  if (bytes.length < 12 || bytes.toString('latin1', 0, 8) !== MAGIC)
    throw new DataError(`checkpoint '${file}': not a latephase checkpoint (bad magic)`);
  const headerLength = bytes.readUInt32LE(8);
  if (12 + headerLength > bytes.length) throw new DataError(`checkpoint '${file}': truncated header`);
  let header: Header;
  try {
    header = JSON.parse(bytes.toString('utf8', 12, 12 + headerLength)) as Header;
  } catch {
    throw new DataError(`checkpoint '${file}': corrupt header`);
  }
  if (header.format !== 'latephase-checkpoint' || header.version !== VERSION)
    throw new DataError(`checkpoint '${file}': unsupported format ${header.format} v${header.version}`);
  const payload = bytes.subarray(12 + headerLength);
  if (payload.length !== header.payloadBytes)
    throw new DataError(`checkpoint '${file}': payload is ${payload.length} bytes, header says ${header.payloadBytes} (truncated?)`);
  if (crypto.createHash('sha256').update(payload).digest('hex') !== header.sha256)
    throw new DataError(`checkpoint '${file}': payload checksum mismatch (corrupt file)`);
  return { header, payload };
}

/**
 * Restore `model` from `file`. A model built with the same architecture but not yet released is
 * released to the checkpoint's K first (with copies of its current values, so a file rejected
 * after that still leaves every weight as it was). Throws DataError / ShapeError naming the problem.
 */
export function loadCheckpoint(model: Model, file: string): CheckpointInfo {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new DataError(`checkpoint '${file}': cannot read (${err instanceof Error ? err.message : String(err)})`);
  }
  const { header, payload } = readHeader(file, bytes);
  const k = memberCount(model);
  if (header.members !== k && k !== 1) throw new DataError(`checkpoint '${file}' has K=${header.members} members but the model has K=${k}`);
  if (header.members !== k) releaseMembers(model, header.members, 0, 0); // structure only: values are overwritten below
  const entries = new Map(header.tensors.map((t) => [t.name, t]));
  const vars = checkpointVariables(model);
  for (const { name, variable } of vars) {
    const entry = entries.get(name);
    if (!entry) throw new DataError(`checkpoint '${file}' has no tensor '${name}' (saved from model '${header.model}')`);
    if (entry.shape.join() !== variable.shape.join())
      throw new ShapeError(
        `checkpoint '${file}': tensor '${name}' has shape [${entry.shape.join(', ')}], the model expects [${variable.shape.join(', ')}]`,
      );
    if ((entry.offset + variable.size) * 4 > payload.length) throw new DataError(`checkpoint '${file}': tensor '${name}' lies outside the payload`);
  }
  if (vars.length !== entries.size) {
    const extra = header.tensors.map((t) => t.name).filter((n) => !vars.some((v) => v.name === n));
    throw new DataError(`checkpoint '${file}' has tensors the model lacks: ${extra.slice(0, 5).join(', ')}`);
  }
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  for (const { name, variable } of vars) {
    const entry = entries.get(name)!;
    const values = new Float32Array(variable.size);
    for (let i = 0; i < values.length; i++) values[i] = view.getFloat32((entry.offset + i) * 4, true);
    tf.tidy(() => variable.assign(tf.tensor(values, variable.shape, 'float32')));
  }
  return { model: header.model, members: header.members, tensors: vars.length, meta: header.meta };
}
