/**
 * The SGD update of a group of parameters as one wasm kernel call on the native module: for each
 * parameter, new value and new momentum buffer in one pass, bit-identical to src/train/sgd.ts's
 * tfjs ops (about eight kernels per parameter, each a pass and a temporary). Writes new tensors
 * (never in place: a parameter's data may be shared by clones). Registered only where the native
 * kernels load.
 */
import * as tf from '@tensorflow/tfjs-core';
import { wasmBackendOf } from './kernels/kernelOverride';
import { NativeKernelMakers, NativeKernels } from './nativeKernels';

/**
 * inputs {p0, g0, b0?, p1, g1, b1?, ...} (b_i: momentum buffers, all or none), attrs SgdStepAttrs;
 * outputs [p0', b0'?, p1', b1'?, ...].
 */
export const SGD_STEP_KERNEL = 'LatephaseSgdStep';

export interface SgdStepAttrs {
  /** Parameters in the group. */
  readonly count: number;
  readonly lr: number;
  /** 0: no momentum buffers. */
  readonly momentum: number;
  /** Per parameter (0 for one without decay). */
  readonly weightDecays: readonly number[];
  readonly nesterov: boolean;
  readonly gradScale: number;
}

/** The kernel's inputs for parameters `params`, gradients `grads` and buffers `bufs` (empty without momentum). */
export function sgdStepInputs(params: readonly tf.Tensor[], grads: readonly tf.Tensor[], bufs: readonly tf.Tensor[]): tf.NamedTensorMap {
  const inputs: tf.NamedTensorMap = {};
  params.forEach((p, i) => {
    inputs[`p${i}`] = p;
    inputs[`g${i}`] = grads[i]!;
    if (bufs[i]) inputs[`b${i}`] = bufs[i]!;
  });
  return inputs;
}

/** The kernel, by name (registered from nativeKernelTable.ts). */
export const SGD_KERNELS: NativeKernelMakers = { [SGD_STEP_KERNEL]: sgdStepKernel };

function sgdStepKernel(native: NativeKernels): tf.KernelFunc {
  return ({ inputs, attrs, backend: b }) => {
    const backend = wasmBackendOf(b, SGD_STEP_KERNEL);
    const a = attrs as unknown as SgdStepAttrs;
    const withBuffers = a.momentum > 0;
    const input = (name: string): tf.TensorInfo => {
      const t = inputs[name];
      if (!t) throw new Error(`native SGD step: input ${name} missing`);
      return t;
    };
    const outs: tf.TensorInfo[] = [];
    for (let i = 0; i < a.count; i++) {
      const shape = [...input(`p${i}`).shape];
      outs.push(backend.makeOutput(shape, 'float32'));
      if (withBuffers) outs.push(backend.makeOutput(shape, 'float32'));
    }
    // Views after every allocation: allocation may move the heap.
    const view = (t: tf.TensorInfo): Float32Array => backend.typedArrayFromHeap(t) as Float32Array;
    for (let i = 0; i < a.count; i++) {
      const [pOut, bufOut] = withBuffers ? [outs[2 * i]!, outs[2 * i + 1]!] : [outs[i]!, undefined];
      const buf = withBuffers ? view(input(`b${i}`)) : null;
      native.sgdStep(
        view(input(`p${i}`)),
        view(input(`g${i}`)),
        buf,
        view(pOut),
        bufOut ? view(bufOut) : null,
        a.lr,
        a.momentum,
        a.weightDecays[i]!,
        a.nesterov,
        a.gradScale,
      );
    }
    return outs;
  };
}
