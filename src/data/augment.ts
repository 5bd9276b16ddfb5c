/**
 * Image augmentation for training: a random crop of the image padded by `crop` pixels (zeros) and
 * a random horizontal flip, as in the authors' CIFAR code. The draws are a function of (seed,
 * epoch, row) only, so every thread that computes a ghost batch augments its rows identically and
 * the worker count never changes the result; the pixels move on the training backend (pad, a
 * per-row crop box, a masked reverse), with no per-pixel host work.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../nn/rng';
import { ShapeError } from '../errors';

export interface Augmentation {
  /** Pad by this many pixels and crop back at a random offset (0: no crop). */
  readonly crop: number;
  readonly flip: boolean;
  /** [H, W, C] of the images (flat examples are viewed as this). */
  readonly imageShape: readonly [number, number, number];
}

interface AugmentDraws {
  readonly dy: Int32Array;
  readonly dx: Int32Array;
  readonly flip: Uint8Array;
}

/** The draws for `rows` (training-set indices) in `epoch`: independent of batching and of threads. */
export function augmentDraws(rows: ArrayLike<number>, seed: number, epoch: number, aug: Augmentation): AugmentDraws {
  const n = rows.length;
  const out = { dy: new Int32Array(n), dx: new Int32Array(n), flip: new Uint8Array(n) };
  for (let i = 0; i < n; i++) {
    const rng = new Rng((Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b) ^ Math.imul(rows[i]! + 1, 0xc2b2ae35)) | 0);
    out.dy[i] = Math.floor(rng.next() * (2 * aug.crop + 1));
    out.dx[i] = Math.floor(rng.next() * (2 * aug.crop + 1));
    out.flip[i] = aug.flip && rng.next() < 0.5 ? 1 : 0;
  }
  return out;
}

/** `x` ([n, ...featureShape], n rows) augmented with `draws`; same shape. */
export function augmentBatch(x: tf.Tensor, draws: AugmentDraws, aug: Augmentation): tf.Tensor {
  const [h, w, c] = aug.imageShape;
  const n = x.shape[0]!;
  if (x.size !== n * h * w * c)
    throw new ShapeError(`augmentation: examples of shape [${x.shape.slice(1).join(', ')}] are not [${h}, ${w}, ${c}] images`);
  // One gather per batch, on the backend: each output pixel reads padded[(y + dy) * Wp + (x or
  // its mirror) + dx]. Only n offsets and one index grid per image shape come from the host.
  // (tfjs-backend-wasm 4.22's CropAndResize misplaces boxes; a gather is exact everywhere.)
  const p = aug.crop;
  const [hp, wp] = [h + 2 * p, w + 2 * p];
  const grid = new Int32Array(h * w);
  const mirrored = new Int32Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      grid[y * w + x] = y * wp + x;
      mirrored[y * w + x] = y * wp + (w - 1 - x);
    }
  const offsets = Int32Array.from(draws.dy, (dy, i) => i * hp * wp + dy * wp + draws.dx[i]!); // row i's image in the flat batch
  return tf.tidy(() => {
    const img = tf.reshape(x, [n, h, w, c]);
    const padded =
      p > 0
        ? tf.pad(img, [
            [0, 0],
            [p, p],
            [p, p],
            [0, 0],
          ])
        : img;
    const cells = aug.flip
      ? tf.where(tf.tensor2d(draws.flip, [n, 1], 'bool'), tf.tensor2d(mirrored, [1, h * w], 'int32'), tf.tensor2d(grid, [1, h * w], 'int32'))
      : tf.tensor2d(grid, [1, h * w], 'int32');
    const index = tf.add(cells, tf.tensor2d(offsets, [n, 1], 'int32'));
    const out = tf.gather(tf.reshape(padded, [n * hp * wp, c]), tf.reshape(index, [-1]));
    return tf.reshape(out, x.shape);
  });
}
