/**
 * MaxPoolGrad for the wasm backend. tfjs-backend-wasm 4.22's own kernel drops gradients when the
 * input has more than one channel (measured: entries of dx missing against the cpu backend and
 * finite differences), so we replace it. For every window tap (i, j) in row-major order, the tap
 * whose input equals the pooled maximum and that no earlier tap claimed receives dy; the
 * contributions are spread back to input positions by zero-insertion (stride) and an offset pad.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface MaxPoolGradAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'same' | 'valid' | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

export function maxPoolGradient(dy: tf.Tensor4D, x: tf.Tensor4D, y: tf.Tensor4D, attrs: MaxPoolGradAttrs): tf.Tensor4D {
  const info = tf.backend_util.computePool2DInfo(x.shape, attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const { top, bottom, left, right } = info.padInfo;
  const [n, h, w, c] = x.shape;
  const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  const hp = h + top + bottom;
  const wp = w + left + right;
  return tf.tidy(() => {
    const xPad = top || bottom || left || right ? tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]], -Infinity) : x;
    let free: tf.Tensor = tf.onesLike(y);
    const parts: tf.Tensor[] = [];
    for (let i = 0; i < info.filterHeight; i++) {
      for (let j = 0; j < info.filterWidth; j++) {
        const taps = tf.stridedSlice(xPad, [0, i, j, 0], [n, i + sh * (oh - 1) + 1, j + sw * (ow - 1) + 1, c], [1, sh, sw, 1]);
        const hit = tf.mul(tf.cast(tf.equal(taps, y), 'float32'), free);
        free = tf.sub(free, hit);
        const spread = tf.reshape(tf.pad(tf.reshape(tf.mul(dy, hit), [n, oh, 1, ow, 1, c]), [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]), [n, oh * sh, ow * sw, c]);
        const placed = tf.pad(spread, [[0, 0], [i, Math.max(0, hp - i - oh * sh)], [j, Math.max(0, wp - j - ow * sw)], [0, 0]]);
        parts.push(tf.slice(placed, [0, 0, 0, 0], [n, hp, wp, c]));
      }
    }
    return tf.slice(tf.addN(parts), [0, top, left, 0], [n, h, w, c]) as tf.Tensor4D;
  });
}
