/**
 * A convolution, a ReLU and a max pool in one kernel where the backend has it and the geometry
 * fits (a first layer: few input channels; src/backend/nativeConvPool.ts): the same bits as the
 * three unfused, without the full-resolution output. Its gradient is registered with tfjs so that
 * each input's is computed only where the tape needs it: a first layer's data gradient never is.
 * Elsewhere (eval, no kernel, another geometry) the caller composes the unfused operations.
 */
import * as tf from '@tensorflow/tfjs-core';
import { CONV_POOL_FILTER_GRAD_KERNEL, CONV_POOL_FORWARD_KERNEL, ConvPoolAttrs, convPoolGeometries, emptyIndices } from '../nativeConvPool';
import { MAX_POOL_BACKWARD_KERNEL, MaxPoolAttrs } from '../nativeMaxPool';

export interface ConvAttrs {
  readonly strides: number;
  readonly pad: 'valid' | 'same';
}

/**
 * saved: x, filter, indices (inputs: the kernel fills indices), then y. dfilter and dbias come from
 * one native call made when the gradient runs; dx (only when asked) is the pool's gradient, then
 * the convolution's input gradient: the unfused path's kernels. indices has no gradient (it never
 * depends on a variable, so the tape never asks).
 */
tf.registerGradient({
  kernelName: CONV_POOL_FORWARD_KERNEL,
  inputsToSave: ['x', 'filter', 'indices'],
  outputsToSave: [true],
  gradFunc: (dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const dy = dys as tf.Tensor;
    const [x, filter, indices, y] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor, tf.Tensor];
    const a = attrs as unknown as ConvPoolAttrs;
    const weights = tf.engine().runKernel(CONV_POOL_FILTER_GRAD_KERNEL, { x, dy, y, indices }, {
      ...a,
      filterShape: filter.shape,
    } as unknown as tf.NamedAttrMap) as tf.Tensor[];
    return {
      x: () => {
        const inputShape = tf.backend_util.computeConv2DInfo(x.shape, filter.shape, a.strides, 1, a.pad).outShape;
        const dconv = tf.engine().runKernel(MAX_POOL_BACKWARD_KERNEL, { dy, indices, y }, { ...a.pool, inputShape }) as tf.Tensor4D;
        return tf.conv2dTranspose(dconv, filter, x.shape, a.strides, a.pad);
      },
      filter: () => weights[0]!,
      ...(a.bias && { bias: () => weights[1]! }),
    };
  },
});

/**
 * max pool of ReLU(conv(x, filter) + bias) by the fused kernel, or null where it does not run
 * (not training, no such kernel on the backend, a geometry it does not take).
 */
export function convReluMaxPool(
  x: tf.Tensor,
  filter: tf.Tensor,
  bias: tf.Tensor | null,
  conv: ConvAttrs,
  pool: MaxPoolAttrs,
  training: boolean,
): tf.Tensor | null {
  if (!training || x.dtype !== 'float32' || !tf.getKernel(CONV_POOL_FORWARD_KERNEL, tf.getBackend())) return null;
  const attrs: ConvPoolAttrs = { ...conv, pool, bias: bias !== null };
  const g = convPoolGeometries(x.shape, filter.shape, attrs);
  if (!g) return null;
  const indices = emptyIndices([g.pool.n, g.pool.oh, g.pool.ow, g.pool.c]);
  const y = tf
    .engine()
    .runKernel(
      CONV_POOL_FORWARD_KERNEL,
      bias ? { x, filter, bias, indices } : { x, filter, indices },
      attrs as unknown as tf.NamedAttrMap,
    ) as tf.Tensor;
  indices.dispose(); // the tape keeps its own reference for the gradient
  return y;
}
