import * as tf from '@tensorflow/tfjs-core';
import { asTensor4D, KernelOverride, wasmBackendOf } from './kernelOverride';
import { maxPoolGradientInto, MaxPoolGradAttrs } from '../wasmMaxPoolGradient';

export const maxPoolGradOverride: KernelOverride = {
  kernelName: tf.MaxPoolGrad,
  why: 'the stock kernel is wrong for inputs with more than one channel (it drops gradients; found by the finite-difference test)',
  make:
    () =>
    ({ inputs, backend: b, attrs }) => {
      const backend = wasmBackendOf(b, tf.MaxPoolGrad);
      const x = asTensor4D(inputs['input']!, 'input');
      const dy = asTensor4D(inputs['dy']!, 'dy');
      // Work on views of the wasm heap (no copies); the output is allocated first because an
      // allocation may grow the heap and detach earlier views.
      const out = backend.makeOutput([...x.shape], 'float32');
      const dx = backend.typedArrayFromHeap(out) as Float32Array;
      maxPoolGradientInto(dx, backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(dy), x.shape, attrs as unknown as MaxPoolGradAttrs);
      return out;
    },
  check: { inputs: [[2, 6, 7, 3]], fn: (x) => tf.maxPool(x as tf.Tensor4D, 3, 2, 'same'), piecewise: true },
};
