/**
 * MaxPoolGrad for the wasm backend. tfjs-backend-wasm 4.22's own kernel drops gradients when the
 * input has more than one channel (measured: entries of dx missing against the cpu backend and
 * finite differences), so we replace it with a direct loop: for every output cell, the first
 * maximum of its window (row-major scan, the cpu backend's rule for ties) receives dy. The loop
 * touches each window once (n*oh*ow*c*k*k steps, ~1M on the MNIST CNN: a few milliseconds), which
 * measured far faster than any composition of wasm ops (strided slices cost ~120 ms per step).
 */
import * as tf from '@tensorflow/tfjs-core';

export interface MaxPoolGradAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'same' | 'valid' | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** Accumulates into `dx` (NHWC, row-major, starting at zero) the gradient of max pooling `x` given the output gradient `dy`. */
export function maxPoolGradientInto(dx: Float32Array, x: ArrayLike<number>, dy: ArrayLike<number>, xShape: readonly [number, number, number, number], attrs: MaxPoolGradAttrs): void {
  const info = tf.backend_util.computePool2DInfo([...xShape] as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const [n, h, w, c] = xShape;
  const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  const { top, left } = info.padInfo;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * sh - top;
      for (let ox = 0; ox < ow; ox++) {
        const x0 = ox * sw - left;
        for (let ch = 0; ch < c; ch++) {
          let best = -Infinity;
          let at = -1;
          for (let i = Math.max(0, -y0); i < fh && y0 + i < h; i++) {
            const row = ((b * h + y0 + i) * w + x0) * c + ch;
            for (let j = Math.max(0, -x0); j < fw && x0 + j < w; j++) {
              const v = x[row + j * c]!;
              if (v > best || at < 0) {
                best = v;
                at = row + j * c;
              }
            }
          }
          if (at >= 0) dx[at]! += dy[((b * oh + oy) * ow + ox) * c + ch]!;
        }
      }
    }
  }
}
