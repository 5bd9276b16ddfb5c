/**
 * Every wasm kernel override in the one list (src/backend/kernels/registry.ts), through its own
 * check: forward values and gradients against the cpu backend, and the gradient against finite
 * differences on wasm (forward only, exactly, where a check says why). Registration can be undone and redone.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { registerWasmKernels, restoreStockKernels, WASM_KERNEL_OVERRIDES } from '../src/backend/kernels/registry';
import { KernelOverride } from '../src/backend/kernels/kernelOverride';
import { useConvolutionEngine } from '../src/backend/convolutionEngine';
import { checkGradients, seededTensor, useBackend } from './helpers';

before(async () => {
  await useBackend('cpu');
});

interface Run {
  readonly y: Float32Array;
  readonly grads: Float32Array[];
}

/** Forward and the gradients of sum(fn(...) * r) on the current backend. */
function run(o: KernelOverride): Run {
  return tf.tidy(() => {
    const xs = o.check.inputs.map((shape, i) => seededTensor([...shape], 10 + i));
    const y = o.check.fn(...xs);
    const r = seededTensor(y.shape, 20);
    const grads = o.check.forwardOnly ? [] : tf.grads((...args: tf.Tensor[]) => tf.sum(tf.mul(o.check.fn(...args), r)))(xs);
    return { y: y.dataSync() as Float32Array, grads: grads.map((g) => g.dataSync() as Float32Array) };
  });
}

function relErr(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 1e-6;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / scale;
}

for (const o of WASM_KERNEL_OVERRIDES) {
  test(`wasm kernel override ${o.kernelName}: cpu backend and finite differences agree`, async () => {
    await useBackend('cpu');
    const reference = run(o);
    await useBackend('wasm');
    useConvolutionEngine('xnnpack'); // the table's own convolution gradients, not onnxruntime's
    const got = run(o);
    assert.equal(got.y.length, reference.y.length);
    assert.ok(relErr(got.y, reference.y) < 1e-5, `${o.kernelName} forward: ${relErr(got.y, reference.y)}`);
    got.grads.forEach((g, i) => assert.ok(relErr(g, reference.grads[i]!) < 1e-4, `${o.kernelName} gradient ${i}: ${relErr(g, reference.grads[i]!)}`));
    if (o.check.forwardOnly) {
      assert.deepEqual(got.y, reference.y, `${o.kernelName}: a copy must be exact`);
      useConvolutionEngine();
      return;
    }
    const vars = o.check.inputs.map((shape, i) => tf.variable(seededTensor([...shape], 10 + i)));
    const r = tf.tidy(() => seededTensor(o.check.fn(...vars).shape, 20));
    const fd = checkGradients(() => tf.sum(tf.mul(o.check.fn(...vars), r)) as tf.Scalar, vars, 30, o.check.piecewise ? 1e-4 : 1e-2);
    assert.ok(fd.relErr < (o.check.piecewise ? 1e-2 : 2e-3), `${o.kernelName}: analytic ${fd.analytic} vs numeric ${fd.numeric}`);
    tf.dispose([...vars, r]);
    useConvolutionEngine();
  });
}

test('the overrides are one per kernel, and registration can be undone and redone', async () => {
  const names = WASM_KERNEL_OVERRIDES.map((o) => o.kernelName);
  assert.equal(new Set(names).size, names.length);
  await useBackend('wasm');
  const ours = new Map(names.map((n) => [n, tf.getKernel(n, 'wasm')?.kernelFunc]));
  restoreStockKernels();
  for (const name of names) {
    const now = tf.getKernel(name, 'wasm');
    assert.notEqual(now?.kernelFunc, ours.get(name), `${name} is still our override`);
  }
  assert.equal(tf.getKernel(tf.Conv2DBackpropFilter, 'wasm'), undefined, 'wasm 4.22 has no filter gradient of its own');
  registerWasmKernels();
  useConvolutionEngine();
  for (const name of names) assert.ok(tf.getKernel(name, 'wasm'), `${name} registered again`);
  const x = seededTensor([2, 5, 5, 3], 1) as tf.Tensor4D;
  const w = seededTensor([3, 3, 3, 2], 2) as tf.Tensor4D;
  const g = tf.grad((f: tf.Tensor) => tf.sum(tf.conv2d(x, f as tf.Tensor4D, 1, 'same')))(w);
  assert.deepEqual(g.shape, [3, 3, 3, 2]);
  tf.dispose([x, w, g]);
});
