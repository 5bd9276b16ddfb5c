/**
 * ReLU and same-shape float32 addition (residual adds, the tape's gradient accumulation) on the
 * native module, split over its threads: the stock wasm kernels run on one thread, which left them
 * serial when the kernel threads carry a step (bench/README.md#native-kernels). Anything else
 * (other dtypes, broadcasting) goes to the stock kernel; without the native module the stock
 * kernels are put back.
 */
import * as tf from '@tensorflow/tfjs-core';
import { required, wasmBackendOf } from './kernels/kernelOverride';
import { NativeKernelMakers, NativeKernels } from './nativeKernels';

type Binary = { a: tf.TensorInfo; b: tf.TensorInfo };

const sameShape = (a: tf.TensorInfo, b: tf.TensorInfo): boolean => a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);

function nativeRelu(n: NativeKernels, stock: tf.KernelConfig): tf.KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype !== 'float32') return stock.kernelFunc(args);
    const wasm = wasmBackendOf(args.backend, tf.Relu);
    const y = wasm.makeOutput([...x.shape], 'float32');
    n.reluForward(wasm.typedArrayFromHeap(x) as Float32Array, wasm.typedArrayFromHeap(y) as Float32Array);
    return y;
  };
}

function nativeAdd(n: NativeKernels, stock: tf.KernelConfig): tf.KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as Binary;
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || !sameShape(a, b)) return stock.kernelFunc(args);
    const wasm = wasmBackendOf(args.backend, tf.Add);
    const out = wasm.makeOutput([...a.shape], 'float32');
    const view = (t: tf.TensorInfo): Float32Array => wasm.typedArrayFromHeap(t) as Float32Array;
    n.add(view(a), view(b), view(out));
    return out;
  };
}

/** Replacements of tfjs's own kernels, by name (registered from nativeKernelTable.ts; the stock kernel is their fallback). */
export const ELEMENTWISE_KERNELS: NativeKernelMakers = {
  [tf.Relu]: (n, stock) => nativeRelu(n, required(stock, tf.Relu)),
  [tf.Add]: (n, stock) => nativeAdd(n, required(stock, tf.Add)),
};
