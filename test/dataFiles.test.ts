/** CIFAR binary and IDX readers, on small files the test writes in those formats. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { readCifarBinary } from '../src/data/cifar';
import { readIdxDataset } from '../src/data/idx';
import { DataError } from '../src/errors';
import { readTextCorpus } from '../src/data/text';
import { idxFile } from './helpers';

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-data-'));

function cifarRecord(label: number[], pixel: (c: number, p: number) => number): Buffer {
  const b = Buffer.alloc(label.length + 3072);
  label.forEach((l, i) => (b[i] = l));
  for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) b[label.length + c * 1024 + p] = pixel(c, p);
  return b;
}

test('CIFAR-10 and CIFAR-100 binaries become HWC images in [0, 1] with their labels', () => {
  const dir = tmp();
  const a = path.join(dir, 'data_batch_1.bin');
  const b = path.join(dir, 'data_batch_2.bin');
  fs.writeFileSync(a, Buffer.concat([cifarRecord([3], (c, p) => (c * 50 + p) % 256), cifarRecord([9], () => 255)]));
  fs.writeFileSync(
    b,
    cifarRecord([0], (c) => c),
  );
  const d = readCifarBinary([a, b]);
  assert.deepEqual([...d.y], [3, 9, 0]);
  assert.deepEqual(d.featureShape, [32, 32, 3]);
  // pixel (row 0, col 5): red plane value 5, green 55, blue 105 -> HWC position 5 * 3 + c
  assert.deepEqual(
    [...d.x.subarray(15, 18)].map((v) => Math.round(v * 255)),
    [5, 55, 105],
  );
  assert.equal(d.x[3072 + 100], 1);
  const c100 = path.join(dir, 'train.bin');
  fs.writeFileSync(
    c100,
    cifarRecord([4, 77], () => 0),
  );
  const d100 = readCifarBinary([c100], { variant: 'cifar100' });
  assert.deepEqual([...d100.y], [77]);
  assert.equal(d100.classes, 100);
  fs.writeFileSync(path.join(dir, 'short.bin'), Buffer.alloc(3000));
  assert.throws(
    () => readCifarBinary([path.join(dir, 'short.bin')]),
    (e: unknown) => e instanceof DataError && /not a whole number of 3073-byte records/.test(e.message),
  );
  fs.rmSync(dir, { recursive: true });
});

const idx = idxFile;

test('IDX image and label files become a flat-pixel data set; bad files are named', () => {
  const dir = tmp();
  const images = path.join(dir, 'images-idx3-ubyte');
  const labels = path.join(dir, 'labels-idx1-ubyte');
  fs.writeFileSync(images, idx([2, 2, 3], [0, 51, 102, 153, 204, 255, 1, 2, 3, 4, 5, 6]));
  fs.writeFileSync(labels, idx([2], [7, 1]));
  const d = readIdxDataset(images, labels);
  assert.deepEqual(d.featureShape, [6]);
  assert.deepEqual([...d.y], [7, 1]);
  assert.deepEqual(
    [...d.x.subarray(0, 6)].map((v) => Math.round(v * 255)),
    [0, 51, 102, 153, 204, 255],
  );
  fs.writeFileSync(path.join(dir, 'gz'), Buffer.from([0x1f, 0x8b, 8, 0]));
  assert.throws(() => readIdxDataset(path.join(dir, 'gz'), labels), /corrupt gzip data/);
  // The distribution's gzipped files are read as they are.
  fs.writeFileSync(path.join(dir, 'images.gz'), zlib.gzipSync(fs.readFileSync(images)));
  fs.writeFileSync(path.join(dir, 'labels.gz'), zlib.gzipSync(fs.readFileSync(labels)));
  assert.deepEqual([...readIdxDataset(path.join(dir, 'images.gz'), path.join(dir, 'labels.gz')).y], [7, 1]);
  fs.writeFileSync(path.join(dir, 'text.idx'), 'hello there');
  assert.throws(() => readIdxDataset(path.join(dir, 'text.idx'), labels), /bad magic \(not an IDX file\)/);
  fs.writeFileSync(path.join(dir, 'labels3'), idx([3], [0, 1, 2]));
  assert.throws(() => readIdxDataset(images, path.join(dir, 'labels3')), /IDX files disagree: 2 images/);
  fs.writeFileSync(path.join(dir, 'cut'), idx([2, 2, 3], [1, 2, 3]));
  assert.throws(() => readIdxDataset(path.join(dir, 'cut'), labels), /3 data bytes, dimensions \[2, 2, 3\] need 12/);
  fs.rmSync(dir, { recursive: true });
});

test('readers refuse empty data sets, unknown variants and binary data read as text', () => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'none-images'), idx([0, 28, 28], []));
  fs.writeFileSync(path.join(dir, 'none-labels'), idx([0], []));
  assert.throws(
    () => readIdxDataset(path.join(dir, 'none-images'), path.join(dir, 'none-labels')),
    (e: unknown) => e instanceof DataError && /holds no images/.test(e.message),
  );
  fs.writeFileSync(path.join(dir, 'one.bin'), Buffer.alloc(3073));
  assert.throws(
    () => readCifarBinary([path.join(dir, 'one.bin')], { variant: 'cifar1000' as 'cifar100' }),
    (e: unknown) => e instanceof DataError && /variant must be 'cifar10' or 'cifar100', got 'cifar1000'/.test(e.message),
  );
  assert.throws(
    () => readCifarBinary([]),
    (e: unknown) => e instanceof DataError && /no files/.test(e.message),
  );
  const binary = path.join(dir, 'blob.bin');
  fs.writeFileSync(binary, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 73) % 256)));
  assert.throws(
    () => readTextCorpus(binary),
    (e: unknown) => e instanceof DataError && /is not UTF-8 text .* \{ bytes: true \}/.test(e.message),
  );
  assert.equal(readTextCorpus(binary, { bytes: true }).vocab.length, 256);
  fs.writeFileSync(path.join(dir, 'text.txt'), 'plain text with a tab\tand newlines\nand ümlauts\n');
  assert.equal(readTextCorpus(path.join(dir, 'text.txt')).ids.length, 47);
  fs.rmSync(dir, { recursive: true });
});

test('IDX sizes are checked before memory is touched: a gzip bomb stops at the size its header declares, a huge header is refused', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-idx-bomb-'));
  const header = (dims: number[]): Buffer => {
    const h = Buffer.alloc(4 + 4 * dims.length);
    h[2] = 0x08;
    h[3] = dims.length;
    dims.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
    return h;
  };
  // 10 images declared (7,840 bytes), 64 MiB of zeros behind them: about 64 KB gzipped.
  const bomb = path.join(dir, 'bomb-images.gz');
  fs.writeFileSync(bomb, zlib.gzipSync(Buffer.concat([header([10, 28, 28]), Buffer.alloc(64 << 20)]), { level: 9 }));
  const labels = path.join(dir, 'labels.idx');
  fs.writeFileSync(labels, Buffer.concat([header([10]), Buffer.alloc(10)]));
  const rssBefore = process.memoryUsage().rss;
  assert.throws(
    () => readIdxDataset(bomb, labels),
    (e: Error) => e instanceof DataError && /decompresses to more than the 7856 bytes its header declares/.test(e.message),
  );
  assert.ok(process.memoryUsage().rss - rssBefore < 48 << 20, 'the bomb was not inflated');
  const huge = path.join(dir, 'huge.gz');
  fs.writeFileSync(huge, zlib.gzipSync(header([200000, 200000])));
  assert.throws(() => readIdxDataset(huge, labels), /dimensions \[200000, 200000\] declare 40000000000 bytes, more than the 1073741824/);
  fs.rmSync(dir, { recursive: true, force: true });
});
