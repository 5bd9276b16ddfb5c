import * as tf from '@tensorflow/tfjs-core';
import { KernelOverride, required, wasmBackendOf } from './kernelOverride';

interface GatherAttrs {
  axis: number;
  batchDims: number;
}

/** Rows `indices` of x along axis 0 as one copy per row; other gathers (or an index out of range) go to the stock kernel. */
export const gatherV2Override: KernelOverride = {
  kernelName: tf.GatherV2,
  why: "the stock kernel computes every element's source index (3 ms for 64 MNIST rows, 11 ms for 64 CIFAR rows: a minibatch gathered each training step); rows along axis 0 are contiguous, so each is one typed-array copy (bench/README.md#minibatch-gather)",
  make: (stock) => (args) => {
    const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
    const { axis, batchDims } = args.attrs as unknown as GatherAttrs;
    const wasm = wasmBackendOf(args.backend, tf.GatherV2);
    const delegate = (): tf.TensorInfo | tf.TensorInfo[] => required(stock, tf.GatherV2).kernelFunc(args);
    if ((axis + x.shape.length) % Math.max(1, x.shape.length) !== 0 || batchDims !== 0 || x.shape.length === 0 || indices.dtype !== 'int32')
      return delegate();
    const rows = x.shape[0]!;
    const rowLength = x.shape.slice(1).reduce((a, b) => a * b, 1);
    const idx = wasm.typedArrayFromHeap(indices) as Int32Array;
    if (idx.some((i) => i < 0 || i >= rows)) return delegate(); // the stock kernel's own handling
    const picked = Int32Array.from(idx); // the output allocation may grow the heap and detach views
    const out = wasm.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype);
    const src = wasm.typedArrayFromHeap(x);
    const dst = wasm.typedArrayFromHeap(out);
    if (rowLength >= 32) picked.forEach((row, k) => dst.set(src.subarray(row * rowLength, (row + 1) * rowLength), k * rowLength));
    else
      // short rows (an augmentation's pixel gather): a subarray per row would cost more than the copy
      for (let k = 0; k < picked.length; k++)
        for (let e = 0, from = picked[k]! * rowLength, to = k * rowLength; e < rowLength; e++) dst[to + e] = src[from + e]!;
    return out;
  },
  check: {
    // rows of 40 (copied whole) and of 10 (element by element), repeats included
    inputs: [[5, 4, 10]],
    forwardOnly: "gather's gradient (UnsortedSegmentSum) has no wasm kernel in tfjs 4.22; training gathers data, never parameters",
    fn: (x) =>
      tf.concat([
        tf.gather(x, tf.tensor1d([4, 0, 2, 2, 1], 'int32')).flatten(),
        tf.gather(tf.reshape(x, [20, 10]), tf.tensor1d([19, 3, 3, 0], 'int32')).flatten(),
      ]),
  },
};
