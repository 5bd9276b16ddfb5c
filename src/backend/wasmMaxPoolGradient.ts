/**
 * MaxPoolGrad for the wasm backend. tfjs-backend-wasm 4.22's own kernel drops gradients when the
 * input has more than one channel (entries of dx missing against the cpu backend and
 * finite differences), so we replace it with a direct loop: for every output cell, the first
 * maximum of its window (row-major scan, the cpu backend's rule for ties) receives dy. A direct loop
 * over heap views is far faster than any composition of wasm ops (bench/README.md#max-pool-gradient).
 */
import * as tf from '@tensorflow/tfjs-core';

export interface MaxPoolGradAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'same' | 'valid' | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * Writes into `dx` (NHWC, row-major; every element is set) the gradient of max pooling `x` given the
 * output gradient `dy`.
 */
export function maxPoolGradientInto(
  dx: Float32Array,
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  xShape: readonly [number, number, number, number],
  attrs: MaxPoolGradAttrs,
): void {
  const info = tf.backend_util.computePool2DInfo(
    [...xShape] as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const [, h, w] = xShape;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  const tiles2x2 = fh === 2 && fw === 2 && sh === 2 && sw === 2 && info.padInfo.top === 0 && info.padInfo.left === 0 && h % 2 === 0 && w % 2 === 0;
  if (tiles2x2) {
    tiledPairGradient(dx, x, dy, xShape);
  } else {
    dx.fill(0);
    scanGradient(dx, x, dy, xShape, info);
  }
}

/**
 * The common 2x2, stride-2 pooling whose windows tile x: each window's four cells are written once
 * (dy at the first maximum, zero elsewhere), with no zero-fill pass and no scattered adds; faster than the general scan
 * (bench/README.md#max-pool-gradient).
 */
function tiledPairGradient(
  dx: Float32Array,
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  [n, h, w, c]: readonly [number, number, number, number],
): void {
  const rowStride = w * c;
  let out = 0;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < h / 2; oy++) {
      const row = (b * h + 2 * oy) * rowStride;
      for (let ox = 0; ox < w / 2; ox++) {
        const base = row + 2 * ox * c;
        for (let ch = 0; ch < c; ch++, out++) {
          const p = base + ch;
          const q = p + c;
          const r = p + rowStride;
          const t = r + c;
          // Strictly greater: the first maximum in row-major order wins ties, as in scanGradient.
          // (Plain statements: destructuring assignments here were slower; bench/README.md#max-pool-gradient.)
          let k = 0;
          let m = x[p]!;
          if (x[q]! > m) {
            m = x[q]!;
            k = 1;
          }
          if (x[r]! > m) {
            m = x[r]!;
            k = 2;
          }
          if (x[t]! > m) k = 3;
          const g = dy[out]!;
          dx[p] = k === 0 ? g : 0;
          dx[q] = k === 1 ? g : 0;
          dx[r] = k === 2 ? g : 0;
          dx[t] = k === 3 ? g : 0;
        }
      }
    }
  }
}

/**
 * Any pooling geometry: adds dy into the first maximum of each window (dx starts at zero).
 * Channels are the innermost loop (contiguous in NHWC), with the running maxima of one output
 * cell's channels kept in small arrays: faster than a window scan per channel (bench/README.md#max-pool-gradient).
 */
function scanGradient(
  dx: Float32Array,
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  [n, h, w, c]: readonly [number, number, number, number],
  info: tf.backend_util.Conv2DInfo,
): void {
  const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  const { top, left } = info.padInfo;
  const best = new Float32Array(c);
  const at = new Int32Array(c);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * sh - top;
      const i0 = Math.max(0, -y0);
      const i1 = Math.min(fh, h - y0);
      for (let ox = 0; ox < ow; ox++) {
        const x0 = ox * sw - left;
        const j0 = Math.max(0, -x0);
        const j1 = Math.min(fw, w - x0);
        if (i0 >= i1 || j0 >= j1) continue; // a window entirely in the padding feeds nothing
        // The first cell seeds the maxima, so a window of NaN or -Infinity still has a winner.
        const first = ((b * h + y0 + i0) * w + x0 + j0) * c;
        for (let ch = 0; ch < c; ch++) {
          best[ch] = x[first + ch]!;
          at[ch] = first + ch;
        }
        for (let i = i0; i < i1; i++) {
          for (let j = i === i0 ? j0 + 1 : j0; j < j1; j++) {
            const cell = ((b * h + y0 + i) * w + x0 + j) * c;
            for (let ch = 0; ch < c; ch++) {
              const v = x[cell + ch]!;
              // Strictly greater: the first maximum in row-major order wins ties (the cpu backend's rule).
              if (v > best[ch]!) {
                best[ch] = v;
                at[ch] = cell + ch;
              }
            }
          }
        }
        const out = ((b * oh + oy) * ow + ox) * c;
        for (let ch = 0; ch < c; ch++) dx[at[ch]!]! += dy[out + ch]!;
      }
    }
  }
}
