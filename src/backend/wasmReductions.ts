/**
 * Sum and Mean for the wasm backend when the reduced axes leave the innermost axis alone (BatchNorm
 * statistics and their gradients over [N, H, W], bias gradients, global average pooling over
 * [H, W]). The stock kernels first transpose the reduced axes innermost, which dominated; one
 * XNNPACK average pooling whose window covers the reduced axes moves nothing (channels stay
 * innermost). A product with a row of ones was slower too (XNNPACK repacks the big operand on
 * every call). Figures: bench/README.md#leading-axes-reductions. Other reductions keep the stock
 * kernels.
 */
import * as tf from '@tensorflow/tfjs-core';
import { toKernelOutput } from './kernels/kernelOverride';

interface ReduceAttrs {
  /** null or undefined: every axis. */
  axis: number | number[] | null | undefined;
  keepDims: boolean;
}

/**
 * [outer, reducedRows, reducedCols, inner] sizes when `axes` is one contiguous block that excludes
 * the last axis (the block's last axis is the columns, the rest its rows); null otherwise.
 */
function leadingBlock(shape: readonly number[], axes: readonly number[]): [number, number, number, number] | null {
  const rank = shape.length;
  const sorted = [...new Set(axes.map((a) => (a < 0 ? a + rank : a)))].sort((a, b) => a - b);
  if (!sorted.length || sorted[sorted.length - 1]! >= rank - 1) return null;
  if (sorted.some((a, i) => i > 0 && a !== sorted[i - 1]! + 1)) return null;
  const size = (from: number, to: number): number => shape.slice(from, to).reduce((p, d) => p * d, 1);
  const [first, last] = [sorted[0]!, sorted[sorted.length - 1]!];
  return [size(0, first), size(first, last), shape[last]!, size(last + 1, rank)];
}

/** Output shape of a reduction over `axes` (kept as 1 with keepDims). */
function reducedShape(shape: readonly number[], axes: readonly number[], keepDims: boolean): number[] {
  const rank = shape.length;
  const reduced = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
  return keepDims ? shape.map((d, i) => (reduced.has(i) ? 1 : d)) : shape.filter((_, i) => !reduced.has(i));
}

/** Sum or mean of x over a leading block, as one average pooling of x viewed as [outer, rows, cols, inner]. */
function reduceLeadingBlock(x: tf.Tensor, attrs: ReduceAttrs, mean: boolean): tf.Tensor | null {
  if (x.dtype !== 'float32' || attrs.axis === null || attrs.axis === undefined) return null;
  const axes = Array.isArray(attrs.axis) ? attrs.axis : [attrs.axis];
  const block = leadingBlock(x.shape, axes);
  if (!block) return null;
  const [outer, rows, cols, inner] = block;
  return tf.tidy(() => {
    const average = tf.avgPool(tf.reshape(x, [outer, rows, cols, inner]) as tf.Tensor4D, [rows, cols], 1, 'valid');
    return tf.reshape(mean ? average : tf.mul(average, rows * cols), reducedShape(x.shape, axes, attrs.keepDims));
  });
}

/** A Sum or Mean kernel that takes the leading-block path where it applies and the stock kernel elsewhere. */
export function leadingReductionKernel(stock: tf.KernelConfig | undefined, name: string, mean: boolean): tf.KernelFunc {
  if (!stock) throw new Error(`tfjs-backend-wasm has no ${name} kernel to wrap`);
  return (args) => {
    const x = args.inputs['x'];
    const fast = x instanceof tf.Tensor ? reduceLeadingBlock(x, args.attrs as unknown as ReduceAttrs, mean) : null;
    return fast ? toKernelOutput(fast, args.backend) : stock.kernelFunc(args);
  };
}
