/**
 * One replaced or added wasm kernel: what it replaces and why, how it is built from the stock
 * kernel, and a computation that runs through it, which the kernel tests check against the cpu
 * backend and finite differences (so an override cannot be added without its check).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

interface KernelCheck {
  /** Shapes of the seeded normal inputs. */
  readonly inputs: readonly (readonly number[])[];
  /** A computation whose forward or gradient runs through the kernel. */
  readonly fn: (...xs: tf.Tensor[]) => tf.Tensor;
  /** Piecewise-linear computations need a tiny finite-difference step. */
  readonly piecewise?: boolean;
  /** Why only the forward values are checked (the kernel's gradient has no wasm kernel, and training never takes it). */
  readonly forwardOnly?: string;
}

export interface KernelOverride {
  readonly kernelName: string;
  /** Why tfjs-backend-wasm 4.22's kernel is replaced (or added); figures in bench/README.md. */
  readonly why: string;
  /** The kernel, given the stock one it may delegate to (undefined where wasm has none). */
  make(stock: tf.KernelConfig | undefined): tf.KernelFunc;
  readonly check: KernelCheck;
}

function isWasmBackend(backend: unknown): backend is BackendWasm {
  return backend instanceof tf.KernelBackend && typeof (backend as Partial<BackendWasm>).typedArrayFromHeap === 'function';
}

/** The backend a wasm kernel was called with, or an error naming the kernel. */
export function wasmBackendOf(backend: unknown, kernel: string): BackendWasm {
  if (!isWasmBackend(backend)) throw new Error(`${kernel}: registered for the wasm backend only`);
  return backend;
}

/** Kernels receive the engine's Tensor objects; this narrows the KernelFunc's loose input type. */
export function asTensor4D(info: tf.TensorInfo, what: string): tf.Tensor4D {
  if (!(info instanceof tf.Tensor) || info.rank !== 4) throw new Error(`wasm kernel: ${what} must be a rank-4 tensor`);
  return info as tf.Tensor4D;
}

/** Hand a tensor made by nested ops to the engine as a kernel output (ref count 1, owned by the caller). */
export function toKernelOutput(t: tf.Tensor, backend: unknown): tf.TensorInfo {
  if (!(backend instanceof tf.KernelBackend)) throw new Error('wasm kernel called without a backend');
  backend.incRef(t.dataId);
  const info = { dataId: t.dataId, shape: t.shape, dtype: t.dtype };
  t.dispose();
  return info;
}

/** A kernel output that shares `x`'s data (one more reference) instead of copying it. */
export function shareData(x: tf.TensorInfo, backend: unknown): tf.TensorInfo {
  if (!(backend instanceof tf.KernelBackend)) throw new Error('wasm kernel called without a backend');
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

export function requireNHWC(dataFormat: string, kernel: string): void {
  if (dataFormat !== 'NHWC') throw new Error(`${kernel} on wasm supports NHWC only, got ${dataFormat}`);
}

/** The stock kernel, or an error naming it where wasm has none. */
export function required(stock: tf.KernelConfig | undefined, name: string): tf.KernelConfig {
  if (!stock) throw new Error(`tfjs-backend-wasm has no ${name} kernel to wrap`);
  return stock;
}
