/**
 * Atomic file writes: data goes to a temporary file in the same directory, is written in full
 * (short writes are continued), flushed, then renamed over the target, and the directory entry is
 * flushed too. A crash never leaves a half-written file at the target, an existing file is
 * replaced only by a complete one, and a failed write or flush removes its temporary file.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { WriteError } from '../errors';
import { faultPoint } from './faultPoints';

/** The file operations a write uses; tests substitute failing ones. */
export interface AtomicWriteIo {
  openSync(file: string, flags: string): number;
  writeSync(fd: number, data: Uint8Array, offset: number, length: number): number;
  fsyncSync(fd: number): void;
  closeSync(fd: number): void;
  renameSync(from: string, to: string): void;
}

const NODE_IO: AtomicWriteIo = fs;

/** `faultSite`: the fault-injection site its steps count as (faultPoints.ts): 'bundle' unless the caller names another. */
export function writeFileAtomic(file: string, data: string | Uint8Array, io: AtomicWriteIo = NODE_IO, faultSite = 'bundle'): void {
  const dir = path.dirname(file);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new WriteError(`cannot create the folder ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(6).toString('hex')}.tmp`);
  try {
    faultPoint(faultSite);
    const fd = io.openSync(tmp, 'wx');
    try {
      for (let done = 0; done < bytes.length;) {
        const n = io.writeSync(fd, bytes, done, bytes.length - done);
        if (n <= 0) throw new Error(`short write to ${tmp}: ${done} of ${bytes.length} bytes`);
        done += n;
      }
      io.fsyncSync(fd);
    } finally {
      io.closeSync(fd);
    }
    faultPoint(faultSite);
    io.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new WriteError(`cannot write ${file}: ${(err as Error).message}`, { cause: err });
  }
  syncDirectory(dir);
}

/** Flush the directory entry of a rename (a no-op where directories cannot be opened, e.g. Windows). */
export function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Not every platform or file system can fsync a directory; the rename itself is still atomic.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
