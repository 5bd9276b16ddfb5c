/**
 * The entries of a zip archive (what NumPy's `savez` writes), read from its central directory
 * without reading the members: name, method, sizes and where the data starts, zip64 included
 * (`savez` of arrays over 4 GB). Stored entries can then be read in place (streamed); deflated
 * ones (`savez_compressed`) are inflated by the caller.
 */
import * as fs from 'fs';
import { DataError } from '../errors';

export interface ZipEntry {
  readonly name: string;
  /** 0: stored, 8: deflate. */
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  /** Offset of the entry's data in the archive. */
  readonly dataOffset: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX32 = 0xffffffff;

function readAt(fd: number, offset: number, length: number, file: string): Buffer {
  const buf = Buffer.alloc(length);
  const got = fs.readSync(fd, buf, 0, length, offset);
  if (got !== length) throw new DataError(`'${file}': truncated zip archive (wanted ${length} bytes at ${offset})`);
  return buf;
}

const u64 = (b: Buffer, at: number): number => Number(b.readBigUInt64LE(at));

export function zipEntries(file: string): ZipEntry[] {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const tailLength = Math.min(size, 22 + 65535);
    const tail = readAt(fd, size - tailLength, tailLength, file);
    let at = tailLength - 22;
    while (at >= 0 && tail.readUInt32LE(at) !== EOCD) at--;
    if (at < 0) throw new DataError(`'${file}': not a zip archive (no end of central directory)`);
    let count = tail.readUInt16LE(at + 10);
    let dirSize = tail.readUInt32LE(at + 12);
    let dirOffset = tail.readUInt32LE(at + 16);
    if (dirOffset === MAX32 || count === 0xffff) {
      const locator = at - 20;
      if (locator < 0 || tail.readUInt32LE(locator) !== ZIP64_LOCATOR) throw new DataError(`'${file}': zip64 archive without its locator`);
      const record = readAt(fd, u64(tail, locator + 8), 56, file);
      if (record.readUInt32LE(0) !== ZIP64_EOCD) throw new DataError(`'${file}': corrupt zip64 end of central directory`);
      count = u64(record, 32);
      dirSize = u64(record, 40);
      dirOffset = u64(record, 48);
    }
    if (dirOffset + dirSize > size) throw new DataError(`'${file}': truncated zip archive (central directory beyond the end)`);
    const dir = readAt(fd, dirOffset, dirSize, file);
    const entries: ZipEntry[] = [];
    let p = 0;
    for (let n = 0; n < count; n++) {
      if (p + 46 > dir.length || dir.readUInt32LE(p) !== CENTRAL) throw new DataError(`'${file}': corrupt zip central directory (entry ${n})`);
      const method = dir.readUInt16LE(p + 10);
      let compressedSize = dir.readUInt32LE(p + 20);
      let uncompressed = dir.readUInt32LE(p + 24);
      const nameLength = dir.readUInt16LE(p + 28);
      const extraLength = dir.readUInt16LE(p + 30);
      const commentLength = dir.readUInt16LE(p + 32);
      let localOffset = dir.readUInt32LE(p + 42);
      const name = dir.toString('utf8', p + 46, p + 46 + nameLength);
      // zip64: the 32-bit fields at their maximum are in the extra field 0x0001, in this order
      let e = p + 46 + nameLength;
      const extraEnd = e + extraLength;
      while (e + 4 <= extraEnd) {
        const id = dir.readUInt16LE(e);
        const len = dir.readUInt16LE(e + 2);
        if (id === 0x0001) {
          let q = e + 4;
          const next = (): number => {
            const v = u64(dir, q);
            q += 8;
            return v;
          };
          if (uncompressed === MAX32) uncompressed = next();
          if (compressedSize === MAX32) compressedSize = next();
          if (localOffset === MAX32) localOffset = next();
        }
        e += 4 + len;
      }
      const local = readAt(fd, localOffset, 30, file);
      if (local.readUInt32LE(0) !== LOCAL) throw new DataError(`'${file}': corrupt zip entry '${name}'`);
      const dataOffset = localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
      if (dataOffset + compressedSize > size) throw new DataError(`'${file}': zip entry '${name}' is truncated`);
      entries.push({ name, method, compressedSize, size: uncompressed, dataOffset });
      p = extraEnd + commentLength;
    }
    return entries;
  } finally {
    fs.closeSync(fd);
  }
}
