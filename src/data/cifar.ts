/**
 * CIFAR-10 / CIFAR-100 in their binary distribution format, read from files the user supplies.
 * Each record is the label byte(s) then 3072 pixel bytes: the 1024 red values, then green, then
 * blue, each a row-major 32x32 plane. Images come out as HWC floats in [0, 1] (featureShape
 * [32, 32, 3]); the models normalise inside the graph.
 */
import * as fs from 'fs';
import { Dataset } from './dataset';
import { DataError } from '../errors';

const SIDE = 32;
const PLANE = SIDE * SIDE;

interface CifarOptions {
  /** 'cifar10' (1 label byte) or 'cifar100' (coarse + fine label bytes; the fine label is used). */
  readonly variant?: 'cifar10' | 'cifar100';
}

export function readCifarBinary(files: readonly string[], opts: CifarOptions = {}): Dataset {
  const variant = opts.variant ?? 'cifar10';
  if (variant !== 'cifar10' && variant !== 'cifar100') throw new DataError(`CIFAR variant must be 'cifar10' or 'cifar100', got '${String(variant)}'`);
  if (!files.length) throw new DataError('CIFAR: no files given');
  const labelBytes = variant === 'cifar100' ? 2 : 1;
  const record = labelBytes + 3 * PLANE;
  const buffers = files.map((file) => {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch (err) {
      throw new DataError(`CIFAR file '${file}': cannot read (${err instanceof Error ? err.message : String(err)})`);
    }
    if (bytes.length === 0 || bytes.length % record !== 0)
      throw new DataError(
        `CIFAR file '${file}': ${bytes.length} bytes is not a whole number of ${record}-byte records (wrong variant or truncated?)`,
      );
    return bytes;
  });
  const count = buffers.reduce((s, b) => s + b.length / record, 0);
  const x = new Float32Array(count * 3 * PLANE);
  const y = new Int32Array(count);
  const classes = labelBytes === 2 ? 100 : 10;
  let row = 0;
  for (const [f, bytes] of buffers.entries()) {
    for (let r = 0; r < bytes.length / record; r++, row++) {
      const base = r * record;
      const label = bytes[base + labelBytes - 1]!;
      if (label >= classes) throw new DataError(`CIFAR file '${files[f]}': record ${r} has label ${label}, outside 0..${classes - 1}`);
      y[row] = label;
      const out = row * 3 * PLANE;
      for (let p = 0; p < PLANE; p++) for (let c = 0; c < 3; c++) x[out + p * 3 + c] = bytes[base + labelBytes + c * PLANE + p]! / 255;
    }
  }
  return { x, y, featureShape: [SIDE, SIDE, 3], classes };
}
