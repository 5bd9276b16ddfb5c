import * as tf from '@tensorflow/tfjs-core';
import { KernelOverride, required, shareData } from './kernelOverride';

export const castOverride: KernelOverride = {
  kernelName: tf.Cast,
  why: "a cast to the dtype a tensor already has (tfjs's ReLU and BatchNorm gradients cast float32 to float32) copies in the stock kernel; it shares data here",
  make(stock) {
    const cast = required(stock, tf.Cast).kernelFunc;
    return (args) => {
      const x = args.inputs['x']!;
      return x.dtype === (args.attrs as unknown as { dtype: tf.DataType }).dtype ? shareData(x, args.backend) : cast(args);
    };
  },
  // Both paths: a same-dtype cast (shared data) and a bool-to-float cast (the stock kernel).
  check: { inputs: [[3, 4]], fn: (x) => tf.mul(tf.cast(x, 'float32'), tf.add(x, tf.cast(tf.onesLike(x), 'bool'))) },
};
