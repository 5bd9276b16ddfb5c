import * as tf from '@tensorflow/tfjs-core';
import { KernelOverride } from './kernelOverride';
import { leadingReductionKernel } from '../wasmReductions';

export const sumOverride: KernelOverride = {
  kernelName: tf.Sum,
  why: 'sums over leading axes (BatchNorm statistics, bias gradients) transpose first in the stock kernel; one average pooling does it without moving data',
  make: (stock) => leadingReductionKernel(stock, tf.Sum, false),
  check: { inputs: [[2, 3, 4, 5]], fn: (x) => tf.sum(x, [0, 1, 2]) },
};
