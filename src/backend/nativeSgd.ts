/**
 * The SGD update of one parameter as one wasm kernel on the native module: new parameter and new
 * momentum buffer in one pass, bit-identical to src/train/sgd.ts's tfjs ops (about eight kernels,
 * each a pass and a temporary). Writes new tensors (never in place: a parameter's data may be
 * shared by clones). Registered only where the native kernels load.
 */
import * as tf from '@tensorflow/tfjs-core';
import { isWasmBackend } from './kernels/kernelOverride';
import { NativeKernels } from './nativeKernels';

/** inputs {p, grad, buf?}, attrs {lr, momentum, weightDecay, nesterov, gradScale}; outputs [p', buf'] ([p'] without buf). */
export const SGD_STEP_KERNEL = 'LatephaseSgdStep';

export interface SgdStepAttrs {
  readonly lr: number;
  readonly momentum: number;
  /** 0 for a parameter without decay. */
  readonly weightDecay: number;
  readonly nesterov: boolean;
  readonly gradScale: number;
}

export function useNativeSgd(native: NativeKernels | Error): void {
  if (tf.getKernel(SGD_STEP_KERNEL, 'wasm')) tf.unregisterKernel(SGD_STEP_KERNEL, 'wasm');
  if (native instanceof Error) return;
  tf.registerKernel({
    kernelName: SGD_STEP_KERNEL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs, backend }) => {
      if (!isWasmBackend(backend)) throw new Error('native SGD step runs on the wasm backend only');
      const { p, grad, buf } = inputs as { p: tf.TensorInfo; grad: tf.TensorInfo; buf?: tf.TensorInfo };
      const a = attrs as unknown as SgdStepAttrs;
      const outs = buf
        ? [backend.makeOutput([...p.shape], 'float32'), backend.makeOutput([...p.shape], 'float32')]
        : [backend.makeOutput([...p.shape], 'float32')];
      const view = (t: tf.TensorInfo | undefined): Float32Array | null => (t ? (backend.typedArrayFromHeap(t) as Float32Array) : null);
      native.sgdStep(view(p)!, view(grad)!, view(buf), view(outs[0])!, view(outs[1]), a.lr, a.momentum, a.weightDecay, a.nesterov, a.gradScale);
      return outs;
    },
  });
}
