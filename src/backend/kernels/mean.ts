import * as tf from '@tensorflow/tfjs-core';
import { KernelOverride } from './kernelOverride';
import { leadingReductionKernel } from '../wasmReductions';

export const meanOverride: KernelOverride = {
  kernelName: tf.Mean,
  why: 'means over leading axes (BatchNorm statistics, global average pooling) transpose first in the stock kernel; one average pooling does it without moving data',
  make: (stock) => leadingReductionKernel(stock, tf.Mean, true),
  check: { inputs: [[2, 3, 4, 5]], fn: (x) => tf.mean(x, [1, 2]) },
};
