#!/usr/bin/env node
/**
 * Issue 25's data split (PLAN.md, "Data and splits"): Debian's Fashion-MNIST training set cut into
 * 55,000 training and 5,000 validation images by a seeded permutation (split seed 2026), and the
 * 10,000 test images as they are, written as uint8 `.npy` pairs for `data: { source: npy }`.
 *
 *   node experiments/finetune-and-long-late/split.js <out dir> [fashion dir]
 *
 * Needs `npm run build` (reads the IDX files with the toolkit's own reader and permutes with its Rng).
 */
'use strict';
const fs = require('fs');
const path = require('path');
const { readIdx } = require('../../dist/src/data/idx');
const { Rng } = require('../../dist/src/nn/rng');

const SPLIT_SEED = 2026;
const VALIDATION = 5000;

/** NumPy's .npy v1.0: magic, header length, a dict padded so the data starts at a multiple of 64. */
function npy(dtype, shape, data) {
  const dims = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${dtype}', 'fortran_order': False, 'shape': ${dims}, }`;
  header += ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

function write(file, bytes) {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, bytes);
  fs.renameSync(tmp, file);
}

/** Rows `rows` of images [n, h, w] and labels [n] as .npy files `<name>_x.npy`, `<name>_y.npy`. */
function save(out, name, images, labels, rows) {
  const [, h, w] = images.dims;
  const per = h * w;
  const x = new Uint8Array(rows.length * per);
  const y = new Uint8Array(rows.length);
  rows.forEach((r, i) => {
    x.set(images.data.subarray(r * per, (r + 1) * per), i * per);
    y[i] = labels.data[r];
  });
  write(path.join(out, `${name}_x.npy`), npy('|u1', [rows.length, h, w], x));
  write(path.join(out, `${name}_y.npy`), npy('|u1', [rows.length], y));
  const counts = new Array(10).fill(0);
  for (const v of y) counts[v]++;
  console.log(`${name}: ${rows.length} images, per class ${counts.join(' ')}`);
}

function main() {
  const [out, dir = '/usr/share/datasets/fashion-mnist'] = process.argv.slice(2);
  if (!out) throw new Error('usage: split.js <out dir> [fashion-mnist dir]');
  fs.mkdirSync(out, { recursive: true });
  const at = (f) => path.join(dir, f);
  const trainX = readIdx(at('train-images-idx3-ubyte.gz'));
  const trainY = readIdx(at('train-labels-idx1-ubyte.gz'));
  const testX = readIdx(at('t10k-images-idx3-ubyte.gz'));
  const testY = readIdx(at('t10k-labels-idx1-ubyte.gz'));
  const order = Array.from(new Rng(SPLIT_SEED).permutation(trainX.dims[0]));
  // Sorted inside each part: the split chooses which images, the training seed their order.
  const val = order.slice(0, VALIDATION).sort((a, b) => a - b);
  const train = order.slice(VALIDATION).sort((a, b) => a - b);
  save(out, 'train55k', trainX, trainY, train);
  save(out, 'val5k', trainX, trainY, val);
  save(
    out,
    'test10k',
    testX,
    testY,
    Array.from({ length: testX.dims[0] }, (_, i) => i),
  );
  console.log(`split seed ${SPLIT_SEED}, written to ${out}`);
}

main();
