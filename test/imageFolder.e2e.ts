/**
 * Bring your own data through the real command line: the `image-folder` preset trains on a folder
 * of real PNG files this test writes (pointed at it with --set, as the README shows), and its
 * bundle states the class names and the preprocessing; a second run decodes nothing (the cache);
 * an unreadable image stops the run before training (exit 2, one line, no stack trace) or, with
 * skipUnreadable, is skipped and counted in the summary and the manifest; and a run over an image
 * folder whose float32 size is several times a memory cap stays under that cap (peak RSS of the
 * whole process, gradient worker included).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { CLI, runCli, useBackend, writeNpy } from './helpers';
import { decodeImageFolder, scanImageFolder } from '../src/data/imageFolder';
import { Examples, featureRows, rowRange, subset } from '../src/data/dataset';
import { loadJobData } from '../src/config/dataSource';
import { JOB_SCHEMA } from '../src/config/schema';
import { mlp } from '../models/mlp';
import { trainLatePhase } from '../src/train/trainer';
import { DEFAULT_TRAIN_CONFIG } from '../job/runPlan';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-images-e2e-'));

/**
 * `count` PNGs per class, `size` x `size` RGB, the class visible in the pixels (a bright quadrant)
 * plus seeded noise; past `distinct` per class, further files are hard links to those (each still a
 * file to decode, without the time to encode it).
 */
async function writeClassFolder(root: string, classes: number, count: number, size: number, distinct = count): Promise<void> {
  for (let c = 0; c < classes; c++) {
    const dir = path.join(root, `class_${c}`);
    fs.mkdirSync(dir, { recursive: true });
    const writes: Array<Promise<unknown>> = [];
    for (let i = 0; i < count; i++) {
      if (i >= distinct) {
        if (i === distinct) await Promise.all(writes.splice(0));
        fs.linkSync(path.join(dir, `${i % distinct}.png`), path.join(dir, `${i}.png`));
        continue;
      }
      const px = Buffer.alloc(size * size * 3);
      for (let y = 0; y < size; y++)
        for (let x = 0; x < size; x++) {
          const quadrant = (y < size / 2 ? 0 : 2) + (x < size / 2 ? 0 : 1);
          for (let k = 0; k < 3; k++) px[(y * size + x) * 3 + k] = (quadrant === c % 4 ? 190 : 50) + ((i * 31 + x * 17 + y * 7 + k * 5) % 40);
        }
      writes.push(
        sharp(px, { raw: { width: size, height: size, channels: 3 } })
          .png()
          .toFile(path.join(dir, `${i}.png`)),
      );
      if (writes.length >= 64) await Promise.all(writes.splice(0));
    }
    await Promise.all(writes);
  }
}

/** Debian's ImageMagick (not the project's own code) writes the preset's photos; .ci/run installs it. */
const CONVERT = '/usr/bin/convert';
const needConvert =
  !fs.existsSync(CONVERT) && process.env['LATEPHASE_REQUIRE_IMAGEMAGICK'] !== '1' ? 'ImageMagick not installed (apt-get install imagemagick)' : false;

/** `count` images per class written by ImageMagick, PNG and JPEG alternating: a bright quadrant per class on grey, Gaussian noise seeded per image. */
function writeWithImageMagick(root: string, classes: number, count: number, size: number): void {
  const h = size / 2;
  for (let c = 0; c < classes; c++) {
    fs.mkdirSync(path.join(root, `class_${c}`), { recursive: true });
    const [x0, y0] = [(c % 2) * h, Math.floor(c / 2) * h];
    for (let i = 0; i < count; i++) {
      const file = path.join(root, `class_${c}`, `${i}.${i % 2 ? 'jpg' : 'png'}`);
      const args = ['-size', `${size}x${size}`, 'xc:gray25', '-fill', 'gray80', '-draw', `rectangle ${x0},${y0} ${x0 + h - 1},${y0 + h - 1}`];
      const r = spawnSync(CONVERT, [...args, '-seed', String(c * 1000 + i), '-attenuate', '0.4', '+noise', 'Gaussian', file], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    }
  }
}

interface Manifest {
  readonly verification: { readonly pass: boolean };
  readonly inputs: ReadonlyArray<{ readonly preprocessing: string; readonly dims: readonly (string | number)[] }>;
  readonly labels?: readonly string[];
  readonly provenance: Readonly<Record<string, string>>;
}
const manifestOf = (dir: string): Manifest => JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;

test(
  'the image-folder preset on PNG and JPEG files ImageMagick wrote: a verified bundle with the class names and the preprocessing; the second run reads the cache',
  { skip: needConvert },
  async () => {
    const photos = path.join(tmp, 'photos');
    writeWithImageMagick(photos, 3, 24, 40);
    const cache = path.join(tmp, 'cache');
    const run = (out: string): ReturnType<typeof runCli> =>
      runCli(
        [
          'train',
          'image-folder',
          '--set',
          `data.train=${JSON.stringify(photos)}`,
          '--set',
          `data.cache=${JSON.stringify(cache)}`,
          '--set',
          'epochs=2',
          '--set',
          'latePhase.t0=1',
          '--set',
          'latePhase.k=2',
          '--set',
          'batchSize=16',
          '--set',
          'backend="wasm"',
          '--out',
          out,
          '--quiet',
        ],
        {},
        300_000,
      );
    const first = run(path.join(tmp, 'first'));
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stdout,
      /data: 58 training \/ 14 held-out images of 3 classes from .*photos' \(a seeded 0\.2 held out\), 32x32x3; decoded 72 in/,
    );
    const manifest = manifestOf(path.join(tmp, 'first'));
    assert.equal(manifest.verification.pass, true);
    assert.deepEqual(manifest.labels, ['class_0', 'class_1', 'class_2']);
    assert.deepEqual(manifest.inputs[0]!.dims, ['N', 3, 32, 32]);
    assert.match(
      manifest.inputs[0]!.preprocessing,
      /EXIF orientation.*sRGB, RGB order, resize the shorter side to 32 .* centre 32x32, scale .* by 1\/255/,
    );
    assert.match(fs.readFileSync(path.join(tmp, 'first', 'README.md'), 'utf8'), /labels \(output index order\): class_0, class_1, class_2/);
    const second = run(path.join(tmp, 'second'));
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /decoded images from the cache/);
  },
);

test(
  'the same images as an image folder, as .npy files and as CSV train the same weights as in memory, bit for bit',
  { skip: needConvert },
  async () => {
    const root = path.join(tmp, 'same-images');
    writeWithImageMagick(root, 3, 12, 16);
    const folder = await decodeImageFolder(scanImageFolder(root), {
      size: [16, 16],
      channels: 3,
      resize: 'crop',
      cache: false,
      skipUnreadable: false,
    });
    const n = folder.data.y.length;
    const x = featureRows(folder.data, rowRange(0, n));
    writeNpy(path.join(tmp, 'x.npy'), x, [n, 16, 16, 3]);
    writeNpy(path.join(tmp, 'y.npy'), folder.data.y, [n]);
    const columns = Array.from({ length: 768 }, (_, i) => `p${i}`);
    const csv = [
      `${columns.join(',')},label`,
      ...Array.from({ length: n }, (_, r) => `${Array.from(x.subarray(r * 768, (r + 1) * 768)).join(',')},${folder.data.y[r]}`),
    ];
    fs.writeFileSync(path.join(tmp, 'images.csv'), `${csv.join('\n')}\n`);
    const split = { testFraction: 0.25, splitSeed: 7 };
    const sources = {
      folder: { source: 'imageFolder', train: root, size: [16, 16], channels: 3, cache: false, ...split },
      npy: { source: 'npy', train: { x: path.join(tmp, 'x.npy'), y: path.join(tmp, 'y.npy') }, scale: 1, ...split },
      csv: { source: 'csv', train: path.join(tmp, 'images.csv'), label: 'label', ...split },
    };
    await useBackend('wasm');
    const weights: Record<string, Float32Array[]> = {};
    const inMemory = async (): Promise<Examples> => {
      const folderData = (await loadJobData(JOB_SCHEMA.parse({ model: { zoo: 'mlp' }, data: sources.folder }).data)).train;
      return subset(folderData, rowRange(0, folderData.y.length)); // the same rows, in one Float32Array
    };
    const sets: Record<string, () => Promise<Examples>> = {
      ...Object.fromEntries(
        Object.entries(sources).map(([k, d]) => [
          k,
          async () => (await loadJobData(JOB_SCHEMA.parse({ model: { zoo: 'mlp' }, data: d }).data)).train,
        ]),
      ),
      memory: inMemory,
    };
    for (const [name, load] of Object.entries(sets)) {
      const data = await load();
      const flat = { ...data, featureShape: [768] }; // HWC rows are the flat rows
      const model = mlp({ inputs: 768, hidden: [16], classes: 3, seed: 2 });
      await trainLatePhase(model, flat, { ...DEFAULT_TRAIN_CONFIG, epochs: 2, t0: 1, k: 2, batchSize: 9, ghostBatches: 1 });
      weights[name] = model.params().map((p) => p.variable.dataSync().slice() as Float32Array);
      model.dispose();
    }
    for (const name of ['folder', 'npy', 'csv'])
      weights[name]!.forEach((w, i) =>
        assert.ok(Buffer.from(w.buffer).equals(Buffer.from(weights['memory']![i]!.buffer)), `${name}: tensor ${i} differs from in memory`),
      );
  },
);

test('an unreadable image: exit 2 before training, one line naming the file; with skipUnreadable it is skipped and counted in the summary and the manifest', async () => {
  const root = path.join(tmp, 'broken');
  await writeClassFolder(root, 2, 20, 28);
  const png = fs.readFileSync(path.join(root, 'class_1', '0.png'));
  fs.writeFileSync(path.join(root, 'class_1', 'cut.png'), png.subarray(0, png.length - 30));
  const job = (extra: Record<string, unknown>): string => {
    const file = path.join(tmp, `broken-${Object.keys(extra).length}.json`);
    fs.writeFileSync(
      file,
      JSON.stringify({
        model: { zoo: 'mnist-cnn', classes: 2 },
        data: { source: 'imageFolder', train: root, size: [28, 28], channels: 1, cache: false, ...extra },
        epochs: 1,
        latePhase: { t0: 0, k: 2 },
        batchSize: 16,
        backend: 'wasm',
        output: path.join(tmp, `broken-out-${Object.keys(extra).length}`),
      }),
    );
    return file;
  };
  const failed = runCli(['train', job({}), '--quiet']);
  assert.equal(failed.code, 2, failed.stderr);
  assert.match(failed.stderr, /DataError: image folder '.*broken': 'class_1\/cut\.png' cannot be decoded as an image/);
  assert.doesNotMatch(failed.stderr, /\n\s+at /, 'no stack trace');
  assert.ok(!fs.existsSync(path.join(tmp, 'broken-out-0')), 'nothing written');
  const skipped = runCli(['train', job({ skipUnreadable: true }), '--quiet']);
  assert.equal(skipped.code, 0, skipped.stderr);
  assert.match(skipped.stdout, /skipped inputs\s+1 unreadable images \(class_1\/cut\.png\)/);
  assert.match(manifestOf(path.join(tmp, 'broken-out-1')).provenance['data_skipped']!, /^1 unreadable images: class_1\/cut\.png$/);
});

test('a run over an image folder over 4x larger (as float32) than a memory cap stays under the cap (peak RSS of the process), and so does its resume after a kill, ending bit-identical', async () => {
  const CAP_MB = 450;
  const size = 128;
  const perClass = 3300; // 3 classes x 3300 x 128 x 128 x 3 x 4 bytes = 1856 MB as float32
  const root = path.join(tmp, 'large');
  await writeClassFolder(root, 3, perClass, size, 50);
  const float32MB = (3 * perClass * size * size * 3 * 4) / 2 ** 20;
  assert.ok(float32MB > 4 * CAP_MB, `the data (${float32MB.toFixed(0)} MB as float32) is over 4x the cap`);
  const api = path.join(__dirname, '..', 'api', 'index.js');
  fs.writeFileSync(
    path.join(tmp, 'smallConv.js'),
    `const lp = require(${JSON.stringify(api)});
exports.buildModel = ({ seed, latePhase, classes }) => {
  const make = new lp.LayerFactory(latePhase, new lp.Rng(seed));
  const net = new lp.Sequential('net', [
    make.conv('conv1', 3, 8, { kernelSize: 3, stride: 4, padding: 'same' }), make.batchNorm('bn1', 8), new lp.ReLU('relu1'),
    new lp.GlobalAvgPool('pool'), make.head('head', 8, classes),
  ]);
  return new lp.Model('small-conv', net, [${size}, ${size}, 3]);
};\n`,
  );
  const config = path.join(tmp, 'large.json');
  fs.writeFileSync(
    config,
    JSON.stringify({
      model: { module: path.join(tmp, 'smallConv.js') },
      data: { source: 'imageFolder', train: root, size: [size, size], channels: 3, cache: path.join(tmp, 'large-cache'), testFraction: 0.1 },
      epochs: 1,
      latePhase: { t0: 0, k: 2 },
      batchSize: 128,
      backend: 'wasm',
      output: path.join(tmp, 'large-out'),
    }),
  );
  /** The CLI with `args` in a child process that reports its peak RSS in MB (worker threads included) as it exits. */
  const measured = (args: readonly string[], env: Record<string, string> = {}): { r: ReturnType<typeof spawnSync>; peakMB: number } => {
    const report = path.join(tmp, 'maxrss');
    fs.rmSync(report, { force: true });
    const wrapper = `require(${JSON.stringify(CLI)}).main(${JSON.stringify(args)}).then((code) => {
  require('fs').writeFileSync(${JSON.stringify(report)}, String(process.resourceUsage().maxRSS));
  process.exitCode = code;
});`;
    const r = spawnSync(process.execPath, ['-e', wrapper], { encoding: 'utf8', timeout: 540_000, env: { ...process.env, ...env } });
    return { r, peakMB: fs.existsSync(report) ? Number(fs.readFileSync(report, 'utf8')) / 1024 : NaN };
  };
  const whole = measured(['train', config, '--quiet']);
  assert.equal(whole.r.status, 0, String(whole.r.stderr));
  assert.match(String(whole.r.stdout), /data: 8910 training \/ 990 held-out images of 3 classes/);
  console.log(`peak RSS ${whole.peakMB.toFixed(0)} MB for ${float32MB.toFixed(0)} MB of float32 images (cap ${CAP_MB} MB)`);
  assert.ok(whole.peakMB < CAP_MB, `peak RSS ${whole.peakMB.toFixed(0)} MB is over the ${CAP_MB} MB cap`);

  // Killed mid-epoch (in minibatch 30 of 70; checkpoints every 10), then resumed: under the cap
  // again, and the same final weights as the uninterrupted run, bit for bit.
  const out = path.join(tmp, 'large-resumed');
  const steps = ['--set', 'checkpoint.everySteps=10', '--quiet'];
  const killed = runCli(['train', config, '--set', `output=${JSON.stringify(out)}`, ...steps], { LATEPHASE_FAULT: 'kill@step:30' }, 300_000);
  assert.equal(killed.signal, 'SIGKILL', killed.stderr);
  const resumed = measured(['train', '--resume', out, '--quiet']);
  assert.equal(resumed.r.status, 0, String(resumed.r.stderr));
  assert.match(String(resumed.r.stdout), /resuming from .* \(20 minibatches done\)/); // killed in minibatch 30, before its checkpoint
  assert.ok(resumed.peakMB < CAP_MB, `resumed: peak RSS ${resumed.peakMB.toFixed(0)} MB is over the ${CAP_MB} MB cap`);
  const payload = (file: string): Buffer => {
    const bytes = fs.readFileSync(file);
    return bytes.subarray(44 + bytes.readUInt32LE(8));
  };
  assert.ok(
    payload(path.join(out, 'latephase.ckpt')).equals(payload(path.join(tmp, 'large-out', 'latephase.ckpt'))),
    "the resumed run ends with the uninterrupted run's weights",
  );
});
