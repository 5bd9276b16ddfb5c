import * as tf from '@tensorflow/tfjs-core';
import { asTensor4D, KernelOverride, requireNHWC, toKernelOutput } from './kernelOverride';
import { conv2dInputGradient, InputGradAttrs } from '../wasmConvGradients';

export const conv2DBackpropInputOverride: KernelOverride = {
  kernelName: tf.Conv2DBackpropInput,
  why: 'the stock kernel is a naive loop several times slower than a forward convolution; computed as forward XNNPACK convolutions, one per output phase. The onnxruntime engine replaces it where it loads',
  make:
    () =>
    ({ inputs, backend, attrs }) => {
      const a = attrs as unknown as InputGradAttrs;
      requireNHWC(a.dataFormat, tf.Conv2DBackpropInput);
      return toKernelOutput(conv2dInputGradient(asTensor4D(inputs['dy']!, 'dy'), asTensor4D(inputs['filter']!, 'filter'), a), backend);
    },
  check: {
    inputs: [
      [2, 8, 7, 2],
      [3, 2, 2, 3],
    ],
    fn: (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 3, 'valid'),
  },
};
