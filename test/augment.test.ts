/** Augmentation: crops and flips exactly as a host reference, draws fixed per (seed, epoch, row), and worker-count independent training. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Augmentation, augmentBatch, augmentDraws } from '../src/data/augment';
import { mlp, MlpOptions } from '../models/mlp';
import { trainLatePhase } from '../src/train/trainer';
import { DEFAULT_TRAIN_CONFIG } from '../job/runPlan';
import { Rng } from '../src/nn/rng';
import { useBackend } from './helpers';

before(async () => {
  await useBackend('wasm');
});

test('crop with zero padding and horizontal flip move every pixel where a host reference puts it', () => {
  const [n, h, w, c] = [5, 5, 6, 2];
  const aug: Augmentation = { crop: 2, flip: true, imageShape: [h, w, c] };
  const values = new Rng(1).normalArray(n * h * w * c);
  const rows = Int32Array.from([4, 9, 0, 17, 3]);
  const draws = augmentDraws(rows, 7, 3, aug);
  assert.ok(draws.flip.some((f) => f) && draws.flip.some((f) => !f), 'the fixture flips some rows and not others');
  const got = tf.tidy(() => augmentBatch(tf.tensor(values, [n, h * w * c]), draws, aug).dataSync());
  for (let i = 0; i < n; i++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let ch = 0; ch < c; ch++) {
          const sx = draws.flip[i] ? w - 1 - x : x; // flip after crop
          const [py, px] = [y + draws.dy[i]! - aug.crop, sx + draws.dx[i]! - aug.crop]; // in the unpadded image
          const want = py < 0 || py >= h || px < 0 || px >= w ? 0 : values[((i * h + py) * w + px) * c + ch]!;
          assert.equal(got[((i * h + y) * w + x) * c + ch], want, `row ${i} pixel ${y},${x},${ch}`);
        }
});

test('draws depend on (seed, epoch, row) only: not on the batch a row sits in', () => {
  const aug: Augmentation = { crop: 4, flip: true, imageShape: [32, 32, 3] };
  const a = augmentDraws(Int32Array.from([3, 7]), 1, 2, aug);
  const b = augmentDraws(Int32Array.from([7, 1, 3]), 1, 2, aug);
  assert.deepEqual([a.dy[0], a.dx[0], a.flip[0]], [b.dy[2], b.dx[2], b.flip[2]]);
  assert.deepEqual([a.dy[1], a.dx[1], a.flip[1]], [b.dy[0], b.dx[0], b.flip[0]]);
  const other = augmentDraws(Int32Array.from([3, 7]), 1, 3, aug);
  assert.notDeepEqual([...a.dy, ...a.dx, ...a.flip], [...other.dy, ...other.dx, ...other.flip], 'another epoch, other draws');
  const all = augmentDraws(
    Int32Array.from({ length: 400 }, (_, i) => i),
    0,
    0,
    aug,
  );
  assert.ok(all.dy.every((d) => d >= 0 && d <= 8) && new Set(all.dy).size === 9, 'offsets cover 0..2p');
});

test('augmented training (resized crop, crop, flip) with ghost batches: 0 or 1 worker train the same weights', async () => {
  const opts: MlpOptions = { inputs: 6, hidden: [8], classes: 3, seed: 4 };
  const rng = new Rng(5);
  const data = { x: rng.normalArray(48 * 6), y: Int32Array.from({ length: 48 }, (_, i) => (i * 7) % 3), featureShape: [6], classes: 3 };
  const cfg = {
    ...DEFAULT_TRAIN_CONFIG,
    epochs: 3,
    t0: 1,
    k: 2,
    batchSize: 24,
    ghostBatches: 2,
    augment: {
      crop: 1,
      flip: true,
      imageShape: [1, 3, 2] as [number, number, number],
      resizedCrop: { scale: [0.3, 1] as [number, number], ratio: [0.5, 2] as [number, number] },
    },
  };
  const runs: Float32Array[][] = [];
  for (const workers of [0, 1]) {
    const model = mlp(opts);
    await trainLatePhase(model, data, cfg, {
      parallel: { workers, recipe: { module: require.resolve('../models/mlp'), exportName: 'mlp', args: [opts] } },
    });
    runs.push([...model.params(), ...model.net.state()].map((p) => p.variable.dataSync().slice() as Float32Array));
    model.dispose();
  }
  let diff = 0;
  runs[0]!.forEach((a, i) => a.forEach((v, j) => (diff = Math.max(diff, Math.abs(v - runs[1]![i]![j]!)))));
  assert.ok(diff < 1e-6, `one worker differs by ${diff}`);
});

test("random resized crop: each row's box resampled bilinearly to the image size, as tf.image.resizeBilinear (half-pixel centres) resizes that box", () => {
  const [h, w, c] = [12, 10, 3];
  const aug: Augmentation = { crop: 0, flip: false, imageShape: [h, w, c], resizedCrop: { scale: [0.2, 0.9], ratio: [0.5, 2] } };
  const rows = Int32Array.from({ length: 6 }, (_, i) => i * 5);
  const draws = augmentDraws(rows, 3, 1, aug);
  const x = tf.randomUniform([rows.length, h, w, c], 0, 1, 'float32', 4);
  const got = augmentBatch(x, draws, aug);
  for (let i = 0; i < rows.length; i++) {
    const [top, left, bh, bw] = Array.from(draws.boxes.subarray(4 * i, 4 * i + 4));
    assert.ok(bh! >= 1 && bw! >= 1 && top! + bh! <= h && left! + bw! <= w, `box ${i} inside the image`);
    assert.ok(Math.abs((bh! * bw!) / (h * w) - 0.55) <= 0.36, `box ${i} area within the scale range`);
    const want = tf.tidy(() => tf.image.resizeBilinear(tf.slice(x, [i, top!, left!, 0], [1, bh!, bw!, c]) as tf.Tensor4D, [h, w], false, true));
    const mine = tf.slice(got, [i, 0, 0, 0], [1, h, w, c]);
    const diff = tf.max(tf.abs(tf.sub(want, mine))).dataSync()[0]!;
    assert.ok(diff < 1e-5, `row ${i}: max abs ${diff}`);
    tf.dispose([want, mine]);
  }
  const full: Augmentation = { ...aug, resizedCrop: { scale: [1, 1], ratio: [w / h, w / h] } };
  const same = augmentBatch(x, augmentDraws(rows, 3, 1, full), full);
  assert.equal(tf.max(tf.abs(tf.sub(same, x))).dataSync()[0], 0, 'the whole image resized to itself is itself');
  tf.dispose([x, got, same]);
});
