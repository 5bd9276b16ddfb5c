/**
 * Image augmentation for training: a random resized crop (torchvision's RandomResizedCrop: a box of
 * random area and aspect ratio, resampled bilinearly to the image size), a random crop of the image
 * padded by `crop` pixels (zeros) and a random horizontal flip, as in the authors' CIFAR code. The draws are a function of (seed,
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
  /** A box of `scale` (fraction of the area) and `ratio` (width / height) ranges, resized back to the image size; applied first. */
  readonly resizedCrop?: { readonly scale: readonly [number, number]; readonly ratio: readonly [number, number] };
  readonly flip: boolean;
  /** [H, W, C] of the images (flat examples are viewed as this). */
  readonly imageShape: readonly [number, number, number];
}

interface AugmentDraws {
  readonly dy: Int32Array;
  readonly dx: Int32Array;
  readonly flip: Uint8Array;
  /** The resized crop's box per row: top, left, height, width (in pixels); empty without one. */
  readonly boxes: Float64Array;
}

/** The draws for `rows` (training-set indices) in `epoch`: independent of batching and of threads. */
export function augmentDraws(rows: ArrayLike<number>, seed: number, epoch: number, aug: Augmentation): AugmentDraws {
  const n = rows.length;
  const out = { dy: new Int32Array(n), dx: new Int32Array(n), flip: new Uint8Array(n), boxes: new Float64Array(aug.resizedCrop ? 4 * n : 0) };
  for (let i = 0; i < n; i++) {
    const rng = new Rng((Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b) ^ Math.imul(rows[i]! + 1, 0xc2b2ae35)) | 0);
    out.dy[i] = Math.floor(rng.next() * (2 * aug.crop + 1));
    out.dx[i] = Math.floor(rng.next() * (2 * aug.crop + 1));
    out.flip[i] = aug.flip && rng.next() < 0.5 ? 1 : 0;
    if (aug.resizedCrop) out.boxes.set(resizedCropBox(rng, aug.imageShape[0], aug.imageShape[1], aug.resizedCrop), 4 * i);
  }
  return out;
}

/**
 * torchvision's RandomResizedCrop box: up to 10 tries of a random area (scale) and log-uniform
 * aspect ratio that fit the image, else the centre crop at the nearest allowed ratio.
 */
function resizedCropBox(rng: Rng, h: number, w: number, r: NonNullable<Augmentation['resizedCrop']>): [number, number, number, number] {
  const area = h * w;
  const [logLo, logHi] = [Math.log(r.ratio[0]), Math.log(r.ratio[1])];
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * (r.scale[0] + rng.next() * (r.scale[1] - r.scale[0]));
    const ratio = Math.exp(logLo + rng.next() * (logHi - logLo));
    const bw = Math.round(Math.sqrt(target * ratio));
    const bh = Math.round(Math.sqrt(target / ratio));
    if (bw > 0 && bh > 0 && bw <= w && bh <= h) return [Math.floor(rng.next() * (h - bh + 1)), Math.floor(rng.next() * (w - bw + 1)), bh, bw];
  }
  const ratio = Math.min(Math.max(w / h, r.ratio[0]), r.ratio[1]);
  const [bh, bw] = w / h < r.ratio[0] ? [Math.round(w / ratio), w] : w / h > r.ratio[1] ? [h, Math.round(h * ratio)] : [h, w];
  return [Math.floor((h - bh) / 2), Math.floor((w - bw) / 2), bh, bw];
}

/**
 * Each row's box resampled bilinearly to h x w (align-corners off, as torchvision's resize): four
 * gathers from the flat batch with host-computed indices and weights, on the backend.
 */
function resizeBoxes(x: tf.Tensor, boxes: Float64Array, [h, w, c]: readonly [number, number, number]): tf.Tensor {
  const n = x.shape[0]!;
  const cells = n * h * w;
  const idx = [new Int32Array(cells), new Int32Array(cells), new Int32Array(cells), new Int32Array(cells)];
  const wts = [new Float32Array(cells), new Float32Array(cells), new Float32Array(cells), new Float32Array(cells)];
  for (let i = 0; i < n; i++) {
    const [top, left, bh, bw] = [boxes[4 * i]!, boxes[4 * i + 1]!, boxes[4 * i + 2]!, boxes[4 * i + 3]!];
    for (let y = 0; y < h; y++) {
      const sy = Math.min(Math.max(top + ((y + 0.5) * bh) / h - 0.5, top), top + bh - 1);
      const y0 = Math.floor(sy);
      const y1 = Math.min(y0 + 1, top + bh - 1);
      const fy = sy - y0;
      for (let x2 = 0; x2 < w; x2++) {
        const sx = Math.min(Math.max(left + ((x2 + 0.5) * bw) / w - 0.5, left), left + bw - 1);
        const x0 = Math.floor(sx);
        const x1 = Math.min(x0 + 1, left + bw - 1);
        const fx = sx - x0;
        const at = (i * h + y) * w + x2;
        const base = i * h * w;
        [idx[0]![at], idx[1]![at], idx[2]![at], idx[3]![at]] = [base + y0 * w + x0, base + y0 * w + x1, base + y1 * w + x0, base + y1 * w + x1];
        [wts[0]![at], wts[1]![at], wts[2]![at], wts[3]![at]] = [(1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx];
      }
    }
  }
  return tf.tidy(() => {
    const flat = tf.reshape(x, [cells, c]);
    const terms = idx.map((ix, k) => tf.mul(tf.gather(flat, tf.tensor1d(ix, 'int32')), tf.tensor2d(wts[k]!, [cells, 1])));
    return tf.reshape(tf.addN(terms), x.shape);
  });
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
    const img = tf.reshape(aug.resizedCrop ? resizeBoxes(x, draws.boxes, aug.imageShape) : x, [n, h, w, c]);
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
