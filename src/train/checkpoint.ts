/**
 * Model checkpoints: every parameter and state tensor (late-phase members included), by name.
 *
 * File layout (version 3): 8-byte magic `LPCKPT03`, a little-endian uint32 header length, the
 * 32-byte SHA-256 of everything after it (header and payload), a JSON header (model name, member
 * count K, each tensor's name, dtype, shape, offset and length, and for a run's progress
 * checkpoint the training position and its state tensors: optimizer momentum, the cycle's shared
 * gradient, SWA averages), then the float32 little-endian payload. Version 2 files (no training
 * section) are still read. The checksum covers every byte that follows it, so an edited offset is as detectable as
 * a flipped weight. Writes are atomic. Loading validates the whole file, and every entry against
 * the file and the model, before anything changes: a rejected file leaves the model exactly as it
 * was (its structure included: a model at K = 1 is released to the file's K only after the check).
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs-core';
import { Model } from '../nn/model';
import { NamedVariable, uniqueByVariable } from '../nn/layer';
import { writeFileAtomic } from '../io/atomicWrite';
import { latePhaseUnits, memberCount, releaseMembers } from '../latephase/members';
import { MemberUnit } from '../latephase/memberUnit';
import { memberTensorName } from '../latephase/memberSet';
import { ConfigError, DataError, ShapeError } from '../errors';
import { positionProblem, TrainPosition, TrainSnapshot } from './trainingState';

const MAGIC = 'LPCKPT03';
const VERSION = 3;
/** Formats this version reads: the current one, and version 2 (model only). */
const READABLE: Readonly<Record<string, number>> = { LPCKPT03: 3, LPCKPT02: 2 };
const PREFIX_BYTES = 8 + 4 + 32;

interface TensorEntry {
  readonly name: string;
  readonly dtype: 'float32';
  readonly shape: number[];
  /** Offset and length in float32 elements from the start of the payload. */
  readonly offset: number;
  readonly length: number;
}

interface Header {
  readonly format: 'latephase-checkpoint';
  readonly version: number;
  readonly model: string;
  readonly members: number;
  readonly tensors: TensorEntry[];
  readonly payloadBytes: number;
  readonly meta: Record<string, string | number>;
  /** A run's progress: where it is and the training state tensors (in the same payload, after the model's). */
  readonly training?: { readonly position: TrainPosition; readonly tensors: TensorEntry[] };
}

export interface CheckpointInfo {
  readonly model: string;
  readonly members: number;
  readonly tensors: number;
  readonly meta: Readonly<Record<string, string | number>>;
  /** The training state of a progress checkpoint (tensors owned by the caller), absent for a final one. */
  readonly training?: TrainSnapshot;
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

/**
 * Save every parameter and state tensor of `model` (and, for a run's progress checkpoint, the
 * training snapshot) to `file`, atomically. `faultSite` names the fault-injection site of the write.
 */
export function saveCheckpoint(
  model: Model,
  file: string,
  meta: Record<string, string | number> = {},
  training?: TrainSnapshot,
  faultSite?: string,
): void {
  const named = [...checkpointVariables(model).map((v) => ({ name: v.name, tensor: v.variable as tf.Tensor })), ...(training?.tensors ?? [])];
  const total = named.reduce((sum, t) => sum + t.tensor.size, 0);
  const payload = new Uint8Array(total * 4);
  const view = new DataView(payload.buffer);
  const entries: TensorEntry[] = [];
  let offset = 0;
  for (const { name, tensor } of named) {
    const values = tensor.dataSync();
    for (let i = 0; i < values.length; i++) view.setFloat32((offset + i) * 4, values[i]!, true);
    entries.push({ name, dtype: 'float32', shape: [...tensor.shape], offset, length: values.length });
    offset += values.length;
  }
  const modelCount = named.length - (training?.tensors.length ?? 0);
  const header: Header = {
    format: 'latephase-checkpoint',
    version: VERSION,
    model: model.name,
    members: memberCount(model),
    tensors: entries.slice(0, modelCount),
    payloadBytes: payload.length,
    meta,
    ...(training && { training: { position: training.position, tensors: entries.slice(modelCount) } }),
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(PREFIX_BYTES);
  prefix.write(MAGIC, 0, 'latin1');
  prefix.writeUInt32LE(headerBytes.length, 8);
  crypto.createHash('sha256').update(headerBytes).update(payload).digest().copy(prefix, 12);
  writeFileAtomic(file, Buffer.concat([prefix, headerBytes, payload]), undefined, faultSite);
}

function readHeader(file: string, bytes: Buffer): { header: Header; payload: Buffer } {
  const bad = (why: string): DataError => new DataError(`checkpoint '${file}': ${why}`);
  if (bytes.length < PREFIX_BYTES || bytes.toString('latin1', 0, 6) !== MAGIC.slice(0, 6)) throw bad('not a latephase checkpoint (bad magic)');
  const version = READABLE[bytes.toString('latin1', 0, 8)];
  if (version === undefined)
    throw bad(`unsupported checkpoint format ${bytes.toString('latin1', 0, 8)} (this version reads ${Object.keys(READABLE).join(', ')})`);
  const headerLength = bytes.readUInt32LE(8);
  if (PREFIX_BYTES + headerLength > bytes.length) throw bad('truncated header');
  const digest = crypto.createHash('sha256').update(bytes.subarray(PREFIX_BYTES)).digest();
  if (!digest.equals(bytes.subarray(12, PREFIX_BYTES))) throw bad('checksum mismatch: the file is corrupt, truncated or was edited');
  let header: Header;
  try {
    header = JSON.parse(bytes.toString('utf8', PREFIX_BYTES, PREFIX_BYTES + headerLength)) as Header;
  } catch {
    throw bad('corrupt header');
  }
  if (header.format !== 'latephase-checkpoint' || header.version !== version) throw bad(`unsupported format ${header.format} v${header.version}`);
  if (header.training !== undefined) {
    if (version < 3 || typeof header.training !== 'object' || header.training === null) throw bad('malformed training section');
    const why = positionProblem(header.training.position);
    if (why) throw bad(`training position: ${why}`);
  }
  const payload = bytes.subarray(PREFIX_BYTES + headerLength);
  if (payload.length !== header.payloadBytes) throw bad(`payload is ${payload.length} bytes, header says ${header.payloadBytes} (truncated?)`);
  checkEntries(file, header, payload.length);
  return { header, payload };
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/** Every entry well-formed, inside the payload, and the entries tiling it without gap or overlap. */
function checkEntries(file: string, header: Header, payloadBytes: number): void {
  const bad = (why: string): DataError => new DataError(`checkpoint '${file}': ${why}`);
  if (!isCount(header.members) || header.members < 1) throw bad(`member count ${JSON.stringify(header.members)} is not a positive integer`);
  if (!Array.isArray(header.tensors)) throw bad('no tensor table');
  // Every member stores at least one tensor of its own: a larger K is a corrupt header (and must not size any loop).
  if (header.members > header.tensors.length) throw bad(`member count ${header.members} exceeds the ${header.tensors.length} tensors stored`);
  if (header.training && !Array.isArray(header.training.tensors)) throw bad('no training tensor table');
  const names = new Set<string>();
  let next = 0;
  for (const t of [...header.tensors, ...(header.training?.tensors ?? [])].sort((a, b) => a.offset - b.offset)) {
    if (typeof t.name !== 'string' || names.has(t.name)) throw bad(`tensor name ${JSON.stringify(t.name)} is missing or repeated`);
    names.add(t.name);
    if (t.dtype !== 'float32') throw bad(`tensor '${t.name}' has dtype ${JSON.stringify(t.dtype)}; only float32 is stored`);
    if (!Array.isArray(t.shape) || !t.shape.every(isCount)) throw bad(`tensor '${t.name}' has a malformed shape ${JSON.stringify(t.shape)}`);
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (!isCount(t.offset) || !isCount(t.length) || t.length !== size)
      throw bad(`tensor '${t.name}': offset/length ${t.offset}/${t.length} do not fit its shape [${t.shape.join(', ')}]`);
    if (t.offset !== next) throw bad(`tensor '${t.name}' starts at element ${t.offset}, expected ${next} (gap or overlap)`);
    next += t.length;
  }
  if (next * 4 !== payloadBytes) throw bad(`the tensors cover ${next * 4} bytes, the payload has ${payloadBytes}`);
}

/** The tensor names and shapes the model would have at K members, computed without changing it. */
function expectedTensors(model: Model, k: number): Map<string, readonly number[]> {
  const out = new Map<string, readonly number[]>(checkpointVariables(model).map((v) => [v.name, v.variable.shape]));
  if (k === memberCount(model)) return out;
  for (const unit of latePhaseUnits(model)) {
    if (!(unit instanceof MemberUnit))
      throw new DataError(`model '${model.name}': late-phase unit '${unit.name}' cannot be restructured to K=${k} from a checkpoint`);
    for (const t of [...unit.memberParams(0), ...unit.memberState(0)]) {
      out.delete(t.name);
      for (let m = 0; m < k; m++) out.set(memberTensorName(t.name, m, k), t.variable.shape);
    }
  }
  return out;
}

/**
 * Restore `model` from `file`. A model built with the same architecture but not yet released is
 * released to the checkpoint's K, after the whole file has been checked against it. Throws
 * DataError / ShapeError naming the problem, with the model unchanged.
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
  const entries = new Map(header.tensors.map((t) => [t.name, t]));
  const expected = expectedTensors(model, header.members);
  for (const [name, shape] of expected) {
    const entry = entries.get(name);
    if (!entry) throw new DataError(`checkpoint '${file}' has no tensor '${name}' (saved from model '${header.model}')`);
    if (entry.shape.join() !== shape.join())
      throw new ShapeError(`checkpoint '${file}': tensor '${name}' has shape [${entry.shape.join(', ')}], the model expects [${shape.join(', ')}]`);
  }
  if (expected.size !== entries.size) {
    const extra = header.tensors.map((t) => t.name).filter((n) => !expected.has(n));
    throw new DataError(`checkpoint '${file}' has tensors the model lacks: ${extra.slice(0, 5).join(', ')}`);
  }
  // Everything is checked: only now may the model change (released to the file's K, then assigned).
  if (header.members !== k) releaseMembers(model, header.members, 0, 0);
  const vars = checkpointVariables(model);
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  for (const { name, variable } of vars) {
    const entry = entries.get(name)!;
    const values = new Float32Array(variable.size);
    for (let i = 0; i < values.length; i++) values[i] = view.getFloat32((entry.offset + i) * 4, true);
    tf.tidy(() => variable.assign(tf.tensor(values, variable.shape, 'float32')));
  }
  return { model: header.model, members: header.members, tensors: vars.length, meta: header.meta, training: trainingSnapshot(header, view) };
}

function trainingSnapshot(header: Header, view: DataView): TrainSnapshot | undefined {
  if (!header.training) return undefined;
  const tensors = header.training.tensors.map((t) => {
    const values = new Float32Array(t.length);
    for (let i = 0; i < values.length; i++) values[i] = view.getFloat32((t.offset + i) * 4, true);
    return { name: t.name, tensor: tf.tensor(values, t.shape, 'float32') };
  });
  return { position: header.training.position, tensors };
}

/**
 * The header of a checkpoint (checksum verified), without a model: its meta (the resolved config
 * of the run) and, for a progress checkpoint, the training position.
 */
export function readCheckpointHeader(file: string): { meta: Readonly<Record<string, string | number>>; position?: TrainPosition } {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new DataError(`checkpoint '${file}': cannot read (${err instanceof Error ? err.message : String(err)})`);
  }
  const { header } = readHeader(file, bytes);
  return { meta: header.meta, ...(header.training && { position: header.training.position }) };
}
