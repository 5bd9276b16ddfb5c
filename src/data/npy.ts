/**
 * NumPy arrays as a data set: `x` (features) and `y` (integer labels) in an `.npz` archive (what
 * `np.savez` writes) or a pair of `.npy` files. Features stay on disk and are read by row (an
 * `.npy` file or a stored `.npz` member is read in place; a `savez_compressed` member is inflated
 * into memory once). C order, little-endian; features float32, float64 or uint8 (uint8 scaled by
 * 1/255 by default, as image readers scale pixels), labels any integer dtype. Fortran order,
 * object arrays, big-endian data, a shape that disagrees with the labels or the config are named
 * errors.
 */
import * as fs from 'fs';
import * as zlib from 'zlib';
import { DataError } from '../errors';
import { StreamedDataset } from './dataset';
import { zipEntries } from './zipEntries';

interface DtypeInfo {
  readonly bytes: number;
  readonly kind: 'float' | 'int' | 'uint';
}

const DTYPES: Readonly<Record<string, DtypeInfo>> = {
  f4: { bytes: 4, kind: 'float' },
  f8: { bytes: 8, kind: 'float' },
  u1: { bytes: 1, kind: 'uint' },
  i1: { bytes: 1, kind: 'int' },
  u2: { bytes: 2, kind: 'uint' },
  i2: { bytes: 2, kind: 'int' },
  u4: { bytes: 4, kind: 'uint' },
  i4: { bytes: 4, kind: 'int' },
  u8: { bytes: 8, kind: 'uint' },
  i8: { bytes: 8, kind: 'int' },
};

/** One array: its dtype, shape and where its data is (in a file at an offset, or inflated in memory). */
export interface NpyArray {
  /** For errors: `train.npz:x.npy`, `train_x.npy`. */
  readonly what: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly file: string;
  readonly offset: number;
  readonly memory?: Buffer;
}

/** The header of an array starting at `offset` of `bytes` (a file's first bytes, or an inflated member). */
function parseHeader(head: Buffer, what: string): { dtype: string; shape: number[]; dataStart: number } {
  if (head.length < 10 || head.toString('latin1', 0, 6) !== '\x93NUMPY') throw new DataError(`${what}: not a NumPy .npy array (bad magic)`);
  const major = head[6]!;
  const lengthBytes = major === 1 ? 2 : 4;
  const headerLength = major === 1 ? head.readUInt16LE(8) : head.readUInt32LE(8);
  const start = 8 + lengthBytes;
  if (start + headerLength > head.length) throw new DataError(`${what}: truncated .npy header`);
  const header = head.toString(major >= 3 ? 'utf8' : 'latin1', start, start + headerLength);
  const descr = /'descr':\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined)
    throw new DataError(
      `${what}: malformed .npy header ${JSON.stringify(header.trim()).slice(0, 120)} (object arrays and structured dtypes are not supported)`,
    );
  if (fortran === 'True') throw new DataError(`${what}: Fortran order; save it in C order (np.ascontiguousarray(a))`);
  const order = descr[0];
  const code = descr.slice(1);
  if (!DTYPES[code]) throw new DataError(`${what}: dtype '${descr}' is not supported (float32, float64, integers; object arrays cannot be read)`);
  if (order === '>' && DTYPES[code]!.bytes > 1)
    throw new DataError(`${what}: big-endian dtype '${descr}'; save it little-endian (a.astype('<${code}'))`);
  const shape = shapeText
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
    .map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new DataError(`${what}: malformed shape (${shapeText})`);
  return { dtype: code, shape, dataStart: start + headerLength };
}

const elementCount = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

function checkSize(a: NpyArray, available: number): NpyArray {
  const need = elementCount(a.shape) * DTYPES[a.dtype]!.bytes;
  if (available < need) throw new DataError(`${a.what}: truncated: shape [${a.shape.join(', ')}] needs ${need} bytes of data, ${available} present`);
  return a;
}

export function openNpy(file: string): NpyArray {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(Math.min(fs.fstatSync(fd).size, 1 << 16));
    fs.readSync(fd, head, 0, head.length, 0);
    const { dtype, shape, dataStart } = parseHeader(head, `'${file}'`);
    return checkSize({ what: `'${file}'`, dtype, shape, file, offset: dataStart }, fs.fstatSync(fd).size - dataStart);
  } finally {
    fs.closeSync(fd);
  }
}

/** The arrays of an .npz archive by name (without `.npy`). */
export function openNpz(file: string): Map<string, NpyArray> {
  const out = new Map<string, NpyArray>();
  for (const e of zipEntries(file)) {
    if (!e.name.endsWith('.npy')) continue;
    const name = e.name.slice(0, -4);
    const what = `'${file}' array '${name}'`;
    if (e.method === 8) {
      const fd = fs.openSync(file, 'r');
      const packed = Buffer.alloc(e.compressedSize);
      fs.readSync(fd, packed, 0, packed.length, e.dataOffset);
      fs.closeSync(fd);
      const memory = zlib.inflateRawSync(packed);
      const { dtype, shape, dataStart } = parseHeader(memory, what);
      out.set(name, checkSize({ what, dtype, shape, file, offset: dataStart, memory }, memory.length - dataStart));
    } else if (e.method === 0) {
      const fd = fs.openSync(file, 'r');
      const head = Buffer.alloc(Math.min(e.size, 1 << 16));
      fs.readSync(fd, head, 0, head.length, e.dataOffset);
      fs.closeSync(fd);
      const { dtype, shape, dataStart } = parseHeader(head, what);
      out.set(name, checkSize({ what, dtype, shape, file, offset: e.dataOffset + dataStart }, e.size - dataStart));
    } else throw new DataError(`${what}: zip compression method ${e.method} is not supported (np.savez or np.savez_compressed)`);
  }
  return out;
}

/** `count` elements from element `start` of `a`, as numbers in a Float64Array (exact for every supported dtype up to 2^53). */
function readElements(a: NpyArray, start: number, count: number, fd: number | null): Float64Array {
  const info = DTYPES[a.dtype]!;
  const bytes = count * info.bytes;
  const at = a.offset + start * info.bytes;
  let buf: Buffer;
  if (a.memory) buf = a.memory.subarray(at, at + bytes);
  else {
    buf = Buffer.alloc(bytes);
    if (fs.readSync(fd!, buf, 0, bytes, at) !== bytes) throw new DataError(`${a.what}: truncated while reading`);
  }
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = element(buf, i * info.bytes, a.dtype);
  return out;
}

function element(b: Buffer, at: number, dtype: string): number {
  switch (dtype) {
    case 'f4':
      return b.readFloatLE(at);
    case 'f8':
      return b.readDoubleLE(at);
    case 'u1':
      return b[at]!;
    case 'i1':
      return b.readInt8(at);
    case 'u2':
      return b.readUInt16LE(at);
    case 'i2':
      return b.readInt16LE(at);
    case 'u4':
      return b.readUInt32LE(at);
    case 'i4':
      return b.readInt32LE(at);
    case 'u8':
      return Number(b.readBigUInt64LE(at));
    default:
      return Number(b.readBigInt64LE(at));
  }
}

export interface NpyDataOptions {
  /** Per-example shape the config expects (checked), e.g. [28, 28, 1]. */
  readonly shape?: readonly number[];
  /** Classes (default: the largest label + 1). */
  readonly classes?: number;
  /** Factor on the features (default: 1/255 for uint8, else 1). */
  readonly scale?: number;
}

/**
 * A data set from arrays `x` and `y`: x [N, ...] (an image [N, H, W] gets one channel:
 * [H, W, 1]), y [N] integers in 0..classes-1. Features are read by row when training asks.
 */
export function npyDataset(x: NpyArray, y: NpyArray, opts: NpyDataOptions = {}): StreamedDataset {
  if (x.shape.length < 2) throw new DataError(`${x.what}: shape [${x.shape.join(', ')}]: expected [examples, features...]`);
  if (DTYPES[x.dtype]!.kind === 'int' || (DTYPES[x.dtype]!.kind === 'uint' && x.dtype !== 'u1'))
    throw new DataError(`${x.what}: dtype ${x.dtype} for features; use float32, float64 or uint8`);
  if (DTYPES[y.dtype]!.kind === 'float') throw new DataError(`${y.what}: labels of dtype ${y.dtype}; labels must be integers (y.astype('int64'))`);
  if (y.shape.length !== 1 && !(y.shape.length === 2 && y.shape[1] === 1))
    throw new DataError(`${y.what}: labels of shape [${y.shape.join(', ')}]; expected [examples]`);
  const n = x.shape[0]!;
  if (y.shape[0] !== n) throw new DataError(`${x.what} has ${n} examples, ${y.what} ${y.shape[0]} labels`);
  const rest = x.shape.slice(1);
  const featureShape = rest.length === 2 ? [...rest, 1] : rest;
  if (opts.shape && opts.shape.join() !== featureShape.join() && opts.shape.join() !== rest.join())
    throw new DataError(`${x.what}: examples of shape [${rest.join(', ')}], the config says data.shape [${opts.shape.join(', ')}]`);
  const fd = y.memory ? null : fs.openSync(y.file, 'r');
  let raw: Float64Array;
  try {
    raw = readElements(y, 0, n, fd);
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
  const labels = Int32Array.from(raw);
  const classes = opts.classes ?? labels.reduce((m, v) => Math.max(m, v), -1) + 1;
  raw.forEach((v, i) => {
    if (!(Number.isInteger(v) && v >= 0 && v < classes)) throw new DataError(`${y.what}: label ${v} at index ${i} is outside 0..${classes - 1}`);
  });
  const per = elementCount(rest);
  const scale = opts.scale ?? (x.dtype === 'u1' ? 1 / 255 : 1);
  return {
    y: labels,
    featureShape,
    classes,
    readRows: (indices) => {
      const out = new Float32Array(indices.length * per);
      const fd2 = x.memory ? null : fs.openSync(x.file, 'r');
      try {
        for (let i = 0; i < indices.length; i++) {
          const r = indices[i]!;
          if (!(r >= 0 && r < n)) throw new DataError(`${x.what}: row ${r} outside 0..${n - 1}`);
          const values = readElements(x, r * per, per, fd2);
          for (let j = 0; j < per; j++) out[i * per + j] = values[j]! * scale;
        }
      } finally {
        if (fd2 !== null) fs.closeSync(fd2);
      }
      return out;
    },
  };
}
