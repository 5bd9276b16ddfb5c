/**
 * The convolution gradients as forward convolutions, for the wasm backend's XNNPACK engine
 * (registered by kernels/conv2DBackpropFilter.ts and kernels/conv2DBackpropInput.ts).
 *
 * tfjs-backend-wasm 4.22 has no `Conv2DBackpropFilter` kernel, so the stock `tf.conv2d` gradient
 * throws there; its `Conv2DBackpropInput` is a naive loop much slower than a forward convolution.
 * Both gradients are convolutions in disguise, so we register kernels that run them as forward
 * `Conv2D` calls, which the wasm backend executes through XNNPACK:
 *
 * - filter gradient: dW[i,j,c,o] = sum_{n,y,x} xPad[n, y*s+i, x*s+j, c] * dy[n,y,x,o], i.e. a
 *   convolution of x^T ([c, H, W, n]) with dy^T ([oh, ow, n, o]) at dilation s (faster
 *   than im2col + matmul or the wasm Conv3D filter gradient on the MNIST CNN's shapes);
 * - input gradient: forward convolutions of (padded) dy with the filter flipped in space and its
 *   channel axes swapped, one per output phase for strides (see conv2dInputGradient).
 *
 * Nested ops inside a kernel are not recorded on the gradient tape (tfjs only records at kernel
 * depth 0), so these kernels are safe to call from backprop.
 */
import * as tf from '@tensorflow/tfjs-core';

type Conv2DPad = 'same' | 'valid' | number | ExplicitPadding;
type ExplicitPadding = [[number, number], [number, number], [number, number], [number, number]];

/** Attributes tfjs passes to both convolution gradient kernels. */
export interface ConvGradAttrs {
  strides: [number, number] | number;
  pad: Conv2DPad;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}
export interface FilterGradAttrs extends ConvGradAttrs {
  filterShape: [number, number, number, number];
}
export interface InputGradAttrs extends ConvGradAttrs {
  inputShape: [number, number, number, number];
}

export function conv2dFilterGradient(x: tf.Tensor4D, dy: tf.Tensor4D, attrs: FilterGradAttrs): tf.Tensor4D {
  const info = tf.backend_util.computeConv2DInfo(
    x.shape,
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const { top, bottom, left, right } = info.padInfo;
  const [fh, fw, ci, co] = attrs.filterShape;
  return tf.tidy(() => {
    const xPad =
      top || bottom || left || right
        ? tf.pad(x, [
            [0, 0],
            [top, bottom],
            [left, right],
            [0, 0],
          ])
        : x;
    const xT = tf.transpose(xPad, [3, 1, 2, 0]);
    const dyT = tf.transpose(dy, [1, 2, 0, 3]);
    const full = tf.conv2d(xT, dyT, 1, 'valid', 'NHWC', [info.strideHeight, info.strideWidth]);
    const taps = full.shape[1] === fh && full.shape[2] === fw ? full : tf.slice(full, [0, 0, 0, 0], [ci, fh, fw, co]);
    return tf.transpose(taps, [1, 2, 0, 3]);
  });
}

/** Which filter taps and dy rows feed one output phase of a strided input gradient, along one axis. */
interface PhaseAxis {
  /** Output positions a, a + s, a + 2s, ... in [0, size). */
  readonly count: number;
  /** Filter taps first, first + s, ... (taps = how many). */
  readonly first: number;
  readonly taps: number;
  /** dy rows to add before (negative: to drop) so that a 'valid' correlation lines up. */
  readonly padBefore: number;
  readonly padAfter: number;
}

function phaseAxis(a: number, s: number, k: number, pad: number, size: number, dySize: number): PhaseAxis {
  const count = Math.ceil((size - a) / s);
  const first = (a + pad) % s;
  const taps = first < k ? Math.ceil((k - first) / s) : 0;
  const lead = Math.floor((a + pad) / s); // dy row that the last of those taps meets at position a
  const padBefore = taps - 1 - lead;
  return { count, first, taps, padBefore, padAfter: count + taps - 1 - dySize - padBefore };
}

/**
 * The filter taps of one phase, flipped in space and with channel axes swapped
 * ([kh, kw, in, out] -> [th, tw, out, in]), built in one host pass (filters are small; the wasm
 * Reverse kernel cost more than the convolution it fed on WRN shapes).
 */
function phaseFilter(
  src: Float32Array | Int32Array | Uint8Array,
  shape: readonly number[],
  s: readonly [number, number],
  rows: PhaseAxis,
  cols: PhaseAxis,
): tf.Tensor4D {
  const [, kw, ci, co] = shape as [number, number, number, number];
  const out = new Float32Array(rows.taps * cols.taps * ci * co);
  for (let m = 0; m < rows.taps; m++) {
    const i = rows.first + s[0] * (rows.taps - 1 - m);
    for (let q = 0; q < cols.taps; q++) {
      const j = cols.first + s[1] * (cols.taps - 1 - q);
      for (let c = 0; c < ci; c++) for (let o = 0; o < co; o++) out[((m * cols.taps + q) * co + o) * ci + c] = src[((i * kw + j) * ci + c) * co + o]!;
    }
  }
  return tf.tensor4d(out, [rows.taps, cols.taps, co, ci]);
}

/** dy padded (or cropped, for negative amounts) in rows and columns. */
function padOrCrop(dy: tf.Tensor4D, rows: PhaseAxis, cols: PhaseAxis): tf.Tensor4D {
  const [n, h, w, c] = dy.shape;
  const cut = (v: number): number => Math.max(0, -v);
  let t = dy;
  if (Math.min(rows.padBefore, rows.padAfter, cols.padBefore, cols.padAfter) < 0) {
    t = tf.slice(
      dy,
      [0, cut(rows.padBefore), cut(cols.padBefore), 0],
      [n, h - cut(rows.padBefore) - cut(rows.padAfter), w - cut(cols.padBefore) - cut(cols.padAfter), c],
    );
  }
  const pads: Array<[number, number]> = [
    [0, 0],
    [Math.max(0, rows.padBefore), Math.max(0, rows.padAfter)],
    [Math.max(0, cols.padBefore), Math.max(0, cols.padAfter)],
    [0, 0],
  ];
  return pads.some(([a, b]) => a || b) ? tf.pad(t, pads) : t;
}

/**
 * dx as forward convolutions, one per output phase: for stride s, the input rows a, a + s, ...
 * receive only the filter taps congruent to (a + pad) mod s, so each of the s x s phases is a
 * stride-1 'valid' convolution of (padded) dy with those taps flipped, and the phases interleave
 * into dx. Total work equals the forward convolution's; the zero-insertion form it replaced did
 * s^2 times that, and the stock wasm kernel is slower still (bench/README.md#xnnpack-convolution-gradients). Stride 1 is the single-phase case.
 */
export function conv2dInputGradient(dy: tf.Tensor4D, filter: tf.Tensor4D, attrs: InputGradAttrs): tf.Tensor4D {
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const s: [number, number] = [info.strideHeight, info.strideWidth];
  const [n, h, w, ci] = attrs.inputShape;
  const src = filter.dataSync();
  return tf.tidy(() => {
    const rowsAt = (a: number): PhaseAxis => phaseAxis(a, s[0], info.filterHeight, info.padInfo.top, h, info.outHeight);
    const colsAt = (b: number): PhaseAxis => phaseAxis(b, s[1], info.filterWidth, info.padInfo.left, w, info.outWidth);
    const phase = (a: number, b: number): tf.Tensor4D => {
      const [rows, cols] = [rowsAt(a), colsAt(b)];
      // Every phase is brought to the largest phase's size so that they interleave by reshaping.
      const full: [number, number, number, number] = [n, Math.ceil(h / s[0]), Math.ceil(w / s[1]), ci];
      if (!rows.taps || !cols.taps || !rows.count || !cols.count) return tf.zeros(full);
      const part = tf.conv2d(padOrCrop(dy, rows, cols), phaseFilter(src, filter.shape, s, rows, cols), 1, 'valid');
      const short = [full[1] - rows.count, full[2] - cols.count];
      return short[0] || short[1]
        ? tf.pad(part, [
            [0, 0],
            [0, short[0]!],
            [0, short[1]!],
            [0, 0],
          ])
        : part;
    };
    if (s[0] === 1 && s[1] === 1) return phase(0, 0);
    // Interleave columns within each row phase, then rows, by stacking on inner axes (a rank-6
    // transpose doing the same was far slower: bench/README.md#xnnpack-convolution-gradients); then crop.
    const [ph, pw] = [Math.ceil(h / s[0]), Math.ceil(w / s[1])];
    const rowPhases: tf.Tensor[] = [];
    for (let a = 0; a < s[0]; a++) {
      const cols = Array.from({ length: s[1] }, (_, b) => phase(a, b));
      rowPhases.push(tf.reshape(tf.stack(cols, 3), [n, ph, pw * s[1], ci]));
    }
    const woven = tf.reshape(tf.stack(rowPhases, 2), [n, ph * s[0], pw * s[1], ci]) as tf.Tensor4D;
    return woven.shape[1] === h && woven.shape[2] === w ? woven : tf.slice(woven, [0, 0, 0, 0], [n, h, w, ci]);
  });
}
