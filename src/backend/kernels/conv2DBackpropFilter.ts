import * as tf from '@tensorflow/tfjs-core';
import { asTensor4D, KernelOverride, requireNHWC, toKernelOutput } from './kernelOverride';
import { conv2dFilterGradient, FilterGradAttrs } from '../wasmConvGradients';

export const conv2DBackpropFilterOverride: KernelOverride = {
  kernelName: tf.Conv2DBackpropFilter,
  why: 'missing in tfjs-backend-wasm 4.22 (the stock conv2d gradient throws); computed as a forward XNNPACK convolution of transposed tensors. The onnxruntime engine replaces it where it loads',
  make:
    () =>
    ({ inputs, backend, attrs }) => {
      const a = attrs as unknown as FilterGradAttrs;
      requireNHWC(a.dataFormat, tf.Conv2DBackpropFilter);
      return toKernelOutput(conv2dFilterGradient(asTensor4D(inputs['x']!, 'x'), asTensor4D(inputs['dy']!, 'dy'), a), backend);
    },
  check: {
    inputs: [
      [2, 7, 6, 3],
      [3, 3, 3, 4],
    ],
    fn: (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'same'),
  },
};
