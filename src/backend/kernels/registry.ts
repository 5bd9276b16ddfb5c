/**
 * The one list of wasm kernel overrides (one file each in this folder, as tfjs-backend-wasm keeps
 * one file per kernel), their registration, and its undoing. Every replacement goes through
 * `replaceKernel`, which remembers the stock kernel the first time, so `restoreStockKernels()`
 * puts tfjs back exactly as it was (the convolution engine's replacements included).
 */
import * as tf from '@tensorflow/tfjs-core';
import { KernelOverride } from './kernelOverride';
import { batchMatMulOverride } from './batchMatMul';
import { identityOverride } from './identity';
import { castOverride } from './cast';
import { sumOverride } from './sum';
import { meanOverride } from './mean';
import { maxPoolGradOverride } from './maxPoolGrad';
import { conv2DBackpropFilterOverride } from './conv2DBackpropFilter';
import { conv2DBackpropInputOverride } from './conv2DBackpropInput';
import { gatherV2Override } from './gatherV2';

export const WASM_KERNEL_OVERRIDES: readonly KernelOverride[] = [
  batchMatMulOverride,
  identityOverride,
  castOverride,
  sumOverride,
  meanOverride,
  maxPoolGradOverride,
  conv2DBackpropFilterOverride,
  conv2DBackpropInputOverride,
  gatherV2Override,
];

/** The stock wasm kernel of each name we replaced (undefined: wasm had none). */
const stockKernels = new Map<string, tf.KernelConfig | undefined>();

/** tfjs-backend-wasm's own kernel for `name` (before any replacement). */
export function stockKernel(name: string): tf.KernelConfig | undefined {
  return stockKernels.has(name) ? stockKernels.get(name) : tf.getKernel(name, 'wasm');
}

/** Register `kernelFunc` for `name` on wasm in place of what is there (the registry warns on plain re-registration). */
export function replaceKernel(name: string, kernelFunc: tf.KernelFunc): void {
  const current = tf.getKernel(name, 'wasm');
  if (!stockKernels.has(name)) stockKernels.set(name, current);
  if (current) tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ ...(stockKernel(name) ?? {}), kernelName: name, backendName: 'wasm', kernelFunc });
}

/** Register every override (idempotent: each is built from the stock kernel, never from an override). */
export function registerWasmKernels(): void {
  for (const o of WASM_KERNEL_OVERRIDES) replaceKernel(o.kernelName, o.make(stockKernel(o.kernelName)));
}

/** Put back tfjs-backend-wasm's own kernels for everything replaced (kernels wasm lacked are removed). */
export function restoreStockKernels(): void {
  for (const [name, stock] of stockKernels) {
    if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
    if (stock) tf.registerKernel(stock);
  }
  stockKernels.clear();
}
