/**
 * Bring your own data, reader by reader: NumPy arrays (files written by NumPy itself when it is
 * installed: np.save, np.savez, np.savez_compressed, float32/float64/uint8, and hand-made bad
 * headers), CSV (quotes, BOM, CRLF, string and integer labels; every bad input named by file, line
 * and column, a 2 GB single line refused at once), image folders (real PNG, JPEG and WebP files:
 * EXIF orientation, alpha, CMYK, grayscale; the cache reused and invalidated by mtime; every bad
 * input named), and streamed data training bit for bit what the same data in memory trains, with
 * 0 and 1 gradient workers.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Dataset, Examples, featureRows, StreamedDataset } from '../src/data/dataset';
import { npyDataset, openNpy, openNpz } from '../src/data/npy';
import { MAX_RECORD, readCsv } from '../src/data/csv';
import { decodeImageFolder, ImageFolderOptions, scanImageFolder } from '../src/data/imageFolder';
import { loadJobData } from '../src/config/dataSource';
import { JOB_SCHEMA } from '../src/config/schema';
import { DataError } from '../src/errors';
import { Rng } from '../src/nn/rng';
import { mlp } from '../models/mlp';
import { trainLatePhase } from '../src/train/trainer';
import { DEFAULT_TRAIN_CONFIG } from '../job/runPlan';
import { writeImage } from './imageFixture';
import { useBackend } from './helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-data-'));
const at = (...parts: string[]): string => path.join(tmp, ...parts);
const PYTHON = '/usr/bin/python3';
const hasNumpy = spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;
const needNumpy = !hasNumpy && process.env['LATEPHASE_REQUIRE_TORCH'] !== '1' ? 'numpy not installed (apt-get install python3-numpy)' : false;

before(async () => {
  await useBackend('wasm');
});

/** An .npy file by hand: any header text, any payload (for the bad cases NumPy would not write). */
function npyBytes(header: string, payload: Buffer): Buffer {
  let text = header;
  while ((10 + text.length + 1) % 64) text += ' ';
  text += '\n';
  const prefix = Buffer.alloc(10);
  prefix.write('\x93NUMPY', 0, 'latin1');
  prefix[6] = 1;
  prefix.writeUInt16LE(text.length, 8);
  return Buffer.concat([prefix, Buffer.from(text, 'latin1'), payload]);
}

test(
  'NumPy arrays written by NumPy: .npz (stored and compressed) and .npy pairs stream their rows; uint8 is scaled by 1/255',
  { skip: needNumpy },
  () => {
    const script = `
import numpy as np, sys
d = sys.argv[1]
x = (np.arange(5 * 4 * 3, dtype=np.float32).reshape(5, 4, 3) / 7).astype(np.float32)
y = np.array([0, 2, 1, 2, 0], dtype=np.int64)
np.savez(d + '/stored.npz', x=x, y=y)
np.savez_compressed(d + '/packed.npz', x=x.astype(np.float64), y=y.astype(np.int32))
np.save(d + '/x8.npy', (np.arange(5 * 6) % 256).astype(np.uint8).reshape(5, 6))
np.save(d + '/y8.npy', y.astype(np.uint8))
np.save(d + '/fortran.npy', np.asfortranarray(x.reshape(5, 12)))
np.save(d + '/objects.npy', np.array([{'a': 1}, None], dtype=object), allow_pickle=True)
np.save(d + '/yfloat.npy', y.astype(np.float32))
np.save(d + '/y4.npy', y[:4])
`;
    const r = spawnSync(PYTHON, ['-c', script, tmp], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const want = Float32Array.from({ length: 60 }, (_, i) => Math.fround(i / 7));
    for (const file of ['stored.npz', 'packed.npz']) {
      const arrays = openNpz(at(file));
      const d = npyDataset(arrays.get('x')!, arrays.get('y')!);
      assert.deepEqual(d.featureShape, [4, 3, 1], '[N, H, W] arrays are one-channel images');
      assert.deepEqual([...d.y], [0, 2, 1, 2, 0]);
      assert.equal(d.classes, 3);
      assert.deepEqual([...d.readRows([3, 0])], [...want.subarray(36, 48), ...want.subarray(0, 12)], file);
    }
    const bytes = npyDataset(openNpy(at('x8.npy')), openNpy(at('y8.npy')));
    assert.deepEqual(
      [...bytes.readRows([1])],
      [6, 7, 8, 9, 10, 11].map((v) => Math.fround(v / 255)),
    );
    assert.throws(() => openNpy(at('fortran.npy')), /fortran\.npy': Fortran order; save it in C order/);
    assert.throws(() => openNpy(at('objects.npy')), /objects\.npy': dtype '\|O' is not supported .*object arrays cannot be read/);
    assert.throws(() => npyDataset(openNpy(at('x8.npy')), openNpy(at('yfloat.npy'))), /labels of dtype f4; labels must be integers/);
    assert.throws(() => npyDataset(openNpy(at('x8.npy')), openNpy(at('y4.npy'))), /x8\.npy' has 5 examples, '.*y4\.npy' 4 labels/);
    assert.throws(
      () => npyDataset(openNpy(at('x8.npy')), openNpy(at('y8.npy')), { shape: [3, 2] }),
      /examples of shape \[6\], the config says data\.shape \[3, 2\]/,
    );
  },
);

test('bad .npy files by hand: big-endian, truncated data, a malformed header are named errors', () => {
  const f = (name: string, header: string, payload: Buffer): string => {
    fs.writeFileSync(at(name), npyBytes(header, payload));
    return at(name);
  };
  assert.throws(() => openNpy(f('be.npy', "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", Buffer.alloc(8))), /big-endian dtype '>f4'/);
  assert.throws(
    () => openNpy(f('short.npy', "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }", Buffer.alloc(20))),
    /truncated: shape \[4, 3\] needs 48 bytes of data, 20 present/,
  );
  assert.throws(
    () => openNpy(f('odd.npy', "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", Buffer.alloc(8))),
    /malformed \.npy header/,
  );
  fs.writeFileSync(at('not.npz'), 'plain text, not a zip');
  assert.throws(() => openNpz(at('not.npz')), /not a zip archive/);
});

test('CSV: header, quoted commas and quotes, BOM, CRLF, blank lines; string labels sorted, integer labels kept', () => {
  fs.writeFileSync(at('a.csv'), '\uFEFFname,height,"weight, kg",label\r\n"Smith, J",1.8,80,cat\r\n"say ""hi""",1.6,55.5,dog\r\n\r\nx,1.7,70,cat\r\n');
  const a = readCsv(at('a.csv'), { label: 'label', features: ['height', 'weight, kg'] });
  assert.deepEqual(a.classNames, ['cat', 'dog']);
  assert.deepEqual([...a.data.y], [0, 1, 0]);
  assert.deepEqual([...a.data.x], [1.8, 80, 1.6, 55.5, 1.7, 70].map(Math.fround));
  assert.deepEqual(a.featureNames, ['height', 'weight, kg']);
  fs.writeFileSync(at('b.csv'), 'f1,f2,y\n0.5,1,2\n1.5,2,0\n');
  const b = readCsv(at('b.csv'), { label: 'y' });
  assert.deepEqual(b.classNames, ['0', '1', '2']);
  assert.deepEqual([...b.data.y], [2, 0]);
});

test('bad CSV input is named by file, line and column: non-numeric, ragged, missing (or skipped, counted), header only, no label column, a 2 GB line', () => {
  const csv = (name: string, text: string): string => {
    fs.writeFileSync(at(name), text);
    return at(name);
  };
  assert.throws(() => readCsv(csv('nan.csv', 'a,b,y\n1,2,0\n3,x7,1\n'), { label: 'y' }), /nan\.csv' line 3, column 'b': 'x7' is not a number/);
  assert.throws(() => readCsv(csv('ragged.csv', 'a,b,y\n1,2,0\n3,1\n'), { label: 'y' }), /ragged\.csv' line 3: 2 cells, the header has 3/);
  assert.throws(
    () => readCsv(csv('gap.csv', 'a,b,y\n1,,0\n3,4,1\n'), { label: 'y' }),
    /gap\.csv' line 2, column 'b': missing value \(data\.missing: 'skip'/,
  );
  const skipped = readCsv(at('gap.csv'), { label: 'y', missing: 'skip' });
  assert.equal(skipped.skipped, 1);
  assert.deepEqual([...skipped.data.x], [3, 4]);
  assert.throws(() => readCsv(csv('head.csv', 'a,b,y\n'), { label: 'y' }), /head\.csv': a header only, no data rows/);
  assert.throws(() => readCsv(csv('nolabel.csv', 'a,b\n1,2\n'), { label: 'y' }), /no label column 'y' in the header \(a, b\)/);
  assert.throws(() => readCsv(csv('quote.csv', 'a,y\n"1,0\n'), { label: 'y' }), /quote\.csv' line 2: a quote opened here is never closed/);
  const huge = at('huge.csv');
  fs.writeFileSync(huge, 'a,y\n');
  fs.truncateSync(huge, 2 ** 31); // a sparse 2 GB file: one line of NULs after the header
  const started = Date.now();
  assert.throws(
    () => readCsv(huge, { label: 'y' }),
    new RegExp(`huge\\.csv' line 2: a record longer than ${MAX_RECORD >> 20} MiB; is this a CSV file\\?`),
  );
  assert.ok(Date.now() - started < 10_000, 'refused after the cap, not after reading 2 GB');
  fs.rmSync(huge);
});

const IMAGE: ImageFolderOptions = { size: [4, 4], channels: 3, resize: 'exact', cache: '', skipUnreadable: false };

/** A 4x4 RGB image: the top half `top`, the bottom half `bottom`. */
function halves(top: readonly number[], bottom: readonly number[]): Uint8Array {
  return Uint8Array.from({ length: 48 }, (_, i) => (Math.floor(i / 12) < 2 ? top : bottom)[i % 3]!);
}

test('image folders: PNG, JPEG, WebP; EXIF orientation applied, alpha flattened on white, CMYK and grayscale converted; sorted classes; the cache reused and invalidated by mtime', async () => {
  const root = at('images');
  const red = [255, 0, 0];
  const blue = [0, 0, 255];
  await writeImage(path.join(root, 'b_second', 'plain.png'), halves(red, blue), { width: 4, height: 4, channels: 3 });
  // stored upside down with EXIF orientation 3 (rotate 180): decoded, red is on top again
  await writeImage(path.join(root, 'b_second', 'rotated.jpg'), halves(blue, red), { width: 4, height: 4, channels: 3 }, { orientation: 3 });
  await writeImage(path.join(root, 'a_first', 'lossless.webp'), halves(red, blue), { width: 4, height: 4, channels: 3 });
  // fully transparent pixels become white
  await writeImage(
    path.join(root, 'a_first', 'alpha.png'),
    Uint8Array.from({ length: 64 }, (_, i) => (i % 4 === 3 ? 0 : 9)),
    { width: 4, height: 4, channels: 4 },
  );
  await writeImage(path.join(root, 'a_first', 'cmyk.jpg'), halves(red, blue), { width: 4, height: 4, channels: 3 }, { cmyk: true });
  fs.writeFileSync(path.join(root, 'a_first', 'notes.txt'), 'not an image: ignored, counted');
  const cache = at('cache');
  const scan = scanImageFolder(root);
  assert.deepEqual(scan.classNames, ['a_first', 'b_second']);
  assert.equal(scan.ignored, 1);
  assert.deepEqual(
    scan.files.map((f) => [f.rel, f.label]),
    [
      [path.join('a_first', 'alpha.png'), 0],
      [path.join('a_first', 'cmyk.jpg'), 0],
      [path.join('a_first', 'lossless.webp'), 0],
      [path.join('b_second', 'plain.png'), 1],
      [path.join('b_second', 'rotated.jpg'), 1],
    ],
  );
  const first = await decodeImageFolder(scan, { ...IMAGE, cache });
  assert.equal(first.decoded, 5);
  const rows = first.data.readRows([0, 1, 2, 3, 4]);
  const pixel = (img: number, y: number, x: number): number[] =>
    [...rows.subarray(img * 48 + (y * 4 + x) * 3, img * 48 + (y * 4 + x) * 3 + 3)].map((v) => Math.round(v * 255));
  assert.deepEqual(pixel(0, 0, 0), [255, 255, 255], 'transparent -> white');
  for (const img of [1, 2, 3, 4]) {
    const [top, bottom] = [pixel(img, 0, 1), pixel(img, 3, 1)];
    assert.ok(top[0]! > 200 && top[2]! < 60 && bottom[2]! > 120 && bottom[0]! < 60, `image ${img}: red over blue, got ${top} / ${bottom}`); // CMYK round trips are approximate
  }
  const again = await decodeImageFolder(scanImageFolder(root), { ...IMAGE, cache });
  assert.equal(again.decoded, 0, 'the cache is reused');
  assert.deepEqual(again.data.readRows([4]), first.data.readRows([4]));
  const touched = path.join(root, 'b_second', 'plain.png');
  fs.utimesSync(touched, new Date(), new Date(Date.now() + 5000));
  assert.equal((await decodeImageFolder(scanImageFolder(root), { ...IMAGE, cache })).decoded, 5, 'a changed mtime invalidates the cache');
  const gray = await decodeImageFolder(scan, { ...IMAGE, channels: 1, cache: false });
  assert.deepEqual(gray.data.featureShape, [4, 4, 1]);
  const crop = await decodeImageFolder(scan, { ...IMAGE, size: [2, 4], resize: 'crop', cache: false });
  assert.deepEqual(crop.data.featureShape, [2, 4, 3]);
});

test('bad image folders are named errors: unreadable (or skipped, counted), not an image, empty, an empty class, one class, a link outside, a test class unknown', async () => {
  const make = async (name: string, files: Record<string, Buffer | 'png'>): Promise<string> => {
    const root = at(name);
    for (const [rel, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      if (content === 'png') await writeImage(path.join(root, rel), new Uint8Array(48).fill(128), { width: 4, height: 4, channels: 3 });
      else fs.writeFileSync(path.join(root, rel), content);
    }
    return root;
  };
  const good = await make('ok-src', { 'x/a.png': 'png' });
  const png = fs.readFileSync(path.join(good, 'x', 'a.png'));
  const decode = async (root: string, skip = false): Promise<Awaited<ReturnType<typeof decodeImageFolder>>> =>
    decodeImageFolder(scanImageFolder(root), { ...IMAGE, cache: false, skipUnreadable: skip });
  const truncated = await make('truncated', { 'a/1.png': 'png', 'b/1.png': 'png', 'b/2.png': png.subarray(0, png.length - 20) });
  await assert.rejects(decode(truncated), (e: Error) => e instanceof DataError && /'b\/2\.png' cannot be decoded as an image/.test(e.message));
  const skipped = await decode(truncated, true);
  assert.deepEqual(skipped.skipped, [path.join('b', '2.png')]);
  assert.equal(skipped.data.y.length, 2);
  const text = await make('text', { 'a/1.png': 'png', 'b/1.png': Buffer.from('hello, not a png') });
  await assert.rejects(decode(text), /'b\/1\.png' cannot be decoded as an image/);
  const empty = await make('emptyfile', { 'a/1.png': 'png', 'b/1.jpg': Buffer.alloc(0) });
  await assert.rejects(decode(empty), /'b\/1\.jpg' is an empty file/);
  const emptyClass = await make('emptyclass', { 'a/1.png': 'png', 'b/readme.txt': Buffer.from('x') });
  assert.throws(() => scanImageFolder(emptyClass), /class folder 'b' has no images/);
  const single = await make('single', { 'a/1.png': 'png' });
  assert.throws(() => scanImageFolder(single), /has one class \('a'\); a classifier needs at least two/);
  const linked = await make('linked', { 'a/1.png': 'png', 'b/1.png': 'png' });
  fs.symlinkSync(path.join(good, 'x', 'a.png'), path.join(linked, 'b', 'outside.png'));
  assert.throws(() => scanImageFolder(linked), /'b\/outside\.png' is a link to '.*ok-src\/x\/a\.png', outside the folder/);
  const other = await make('otherclasses', { 'a/1.png': 'png', 'c/1.png': 'png' });
  assert.throws(() => scanImageFolder(other, ['a', 'b']), /class folder\(s\) 'c' not in the training classes \(a, b\)/);
  assert.throws(() => scanImageFolder(at('nope')), /image folder '.*nope' is not a folder/);
});

const N = 48;
function memoryData(): Dataset {
  const rng = new Rng(5);
  return { x: rng.normalArray(N * 6), y: Int32Array.from({ length: N }, (_, i) => (i * 7) % 3), featureShape: [6], classes: 3 };
}

/** The same examples, read row by row through a closure as a file-backed source would. */
function streamed(d: Dataset): StreamedDataset {
  return { y: d.y, featureShape: d.featureShape, classes: d.classes, readRows: (rows) => featureRows(d, rows) };
}

test('streamed data trains bit for bit what the same data in memory trains, with 0 and 1 gradient workers (both phases)', async () => {
  const recipe = { module: require.resolve('../models/mlp'), exportName: 'mlp', args: [{ inputs: 6, hidden: [8, 5], classes: 3, seed: 4 }] };
  const cfg = { ...DEFAULT_TRAIN_CONFIG, epochs: 3, t0: 1, k: 2, batchSize: 16, ghostBatches: 2, schedule: { kind: 'constant' as const } };
  const finals: Float32Array[][] = [];
  for (const [data, workers] of [
    [memoryData(), 0],
    [streamed(memoryData()), 0],
    [streamed(memoryData()), 1],
  ] as Array<[Examples, number]>) {
    const model = mlp(recipe.args[0]!);
    await trainLatePhase(model, data, cfg, { parallel: { workers, recipe } });
    finals.push(model.params().map((p) => p.variable.dataSync().slice() as Float32Array));
    model.dispose();
  }
  for (const other of finals.slice(1)) other.forEach((v, i) => assert.deepEqual(v, finals[0]![i], `tensor ${i}`));
});

test('data configs: csv, npy and imageFolder load through the job schema (a seeded test fraction; labels and preprocessing stated)', async () => {
  fs.writeFileSync(at('job.csv'), 'a,b,y\n' + Array.from({ length: 20 }, (_, i) => `${i},${i % 3},${i % 2 ? 'odd' : 'even'}`).join('\n'));
  const csv = await loadJobData(
    JOB_SCHEMA.parse({ model: { zoo: 'mlp' }, data: { source: 'csv', train: at('job.csv'), label: 'y', testFraction: 0.25 } }).data,
  );
  assert.equal(csv.train.y.length + csv.test.y.length, 20);
  assert.equal(csv.test.y.length, 5);
  assert.deepEqual(csv.labels, ['even', 'odd']);
  assert.match(csv.preprocessing!, /the 2 numeric columns in this order: a, b/);
  const images = await loadJobData(
    JOB_SCHEMA.parse({
      model: { zoo: 'mlp' },
      data: { source: 'imageFolder', train: at('images'), size: [4, 4], cache: at('cache2'), testFraction: 0.4 },
    }).data,
  );
  assert.deepEqual(images.labels, ['a_first', 'b_second']);
  assert.equal(images.train.y.length + images.test.y.length, 5);
  assert.deepEqual(images.train.featureShape, [4, 4, 3]);
  assert.match(images.preprocessing!, /EXIF orientation.*sRGB, RGB order.*1\/255/);
  assert.match(images.description, /decoded 5 in .* s \(\d+ images\/s\)/);
});
