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
import { CLI, runCli } from './helpers';

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

interface Manifest {
  readonly verification: { readonly pass: boolean };
  readonly inputs: ReadonlyArray<{ readonly preprocessing: string; readonly dims: readonly (string | number)[] }>;
  readonly labels?: readonly string[];
  readonly provenance: Readonly<Record<string, string>>;
}
const manifestOf = (dir: string): Manifest => JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;

test('the image-folder preset on a folder of real PNGs: a verified bundle with the class names and the preprocessing; the second run reads the cache', async () => {
  const photos = path.join(tmp, 'photos');
  await writeClassFolder(photos, 3, 24, 40);
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
});

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

test('a run over an image folder over 4x larger (as float32) than a memory cap stays under the cap: peak RSS of the process', async () => {
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
  // The CLI in this process's child, reporting its peak RSS (worker threads included) as it exits.
  const report = path.join(tmp, 'maxrss');
  const wrapper = `require(${JSON.stringify(CLI)}).main(['train', ${JSON.stringify(config)}, '--quiet']).then((code) => {
  require('fs').writeFileSync(${JSON.stringify(report)}, String(process.resourceUsage().maxRSS));
  process.exitCode = code;
});`;
  const r = spawnSync(process.execPath, ['-e', wrapper], { encoding: 'utf8', timeout: 540_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /data: 8910 training \/ 990 held-out images of 3 classes/);
  const peakMB = Number(fs.readFileSync(report, 'utf8')) / 1024;
  console.log(`peak RSS ${peakMB.toFixed(0)} MB for ${float32MB.toFixed(0)} MB of float32 images (cap ${CAP_MB} MB)`);
  assert.ok(peakMB < CAP_MB, `peak RSS ${peakMB.toFixed(0)} MB is over the ${CAP_MB} MB cap`);
});
