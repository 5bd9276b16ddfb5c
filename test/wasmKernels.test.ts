/**
 * The wasm backend's kernels against the cpu backend and finite differences. Convolutions run on
 * either engine (onnxruntime's native kernels, or XNNPACK with our gradient kernels): both are
 * checked, whichever the backend picked by default.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { checkGradients, maxAbs, maxAbsDiff, seededTensor, useBackend } from './helpers';
import { useConvolutionEngine } from '../src/backend/convolutionEngine';
import { selectBackend } from '../src/backend/selectBackend';
import { ConfigError } from '../src/errors';

/** The native kernels with onnxruntime (where built; required when LATEPHASE_REQUIRE_NATIVE=1), onnxruntime alone, XNNPACK. */
const ENGINES = ['onnxruntime', 'onnxruntime without native kernels', 'xnnpack'] as const;

/** The wasm backend with convolutions on `engine`. */
async function useWasmWith(engine: (typeof ENGINES)[number]): Promise<void> {
  await useBackend('wasm');
  const withoutNative = engine === 'onnxruntime without native kernels';
  if (withoutNative) process.env['LATEPHASE_NATIVE'] = 'off';
  try {
    const report = useConvolutionEngine(engine === 'xnnpack' ? engine : 'onnxruntime');
    assert.match(report, engine === 'xnnpack' ? /XNNPACK \(forced\)/ : /onnxruntime CPU|native kernels/);
    if (withoutNative) assert.match(report, /native kernels: turned off/);
    else if (engine === 'onnxruntime' && process.env['LATEPHASE_REQUIRE_NATIVE'] === '1') assert.match(report, /on native kernels/);
  } finally {
    delete process.env['LATEPHASE_NATIVE'];
  }
}

interface Case {
  readonly x: [number, number, number, number];
  readonly f: [number, number, number, number];
  readonly stride: number;
  readonly pad: 'same' | 'valid';
}
const CASES: Case[] = [
  { x: [2, 9, 9, 1], f: [3, 3, 1, 4], stride: 1, pad: 'same' },
  { x: [2, 8, 7, 3], f: [3, 3, 3, 5], stride: 1, pad: 'valid' },
  { x: [2, 9, 8, 2], f: [3, 3, 2, 3], stride: 2, pad: 'same' },
  { x: [1, 10, 10, 2], f: [5, 5, 2, 2], stride: 2, pad: 'valid' },
  { x: [3, 6, 6, 4], f: [1, 1, 4, 6], stride: 2, pad: 'same' },
  { x: [2, 7, 8, 2], f: [1, 1, 2, 3], stride: 3, pad: 'valid' }, // phases without taps: zero rows of dx
  { x: [1, 10, 7, 3], f: [3, 2, 3, 2], stride: 3, pad: 'same' }, // uneven phases, even kernel width
  { x: [2, 6, 5, 9], f: [3, 3, 9, 4], stride: 1, pad: 'same' }, // >= 8 input channels: forward on onnxruntime too
  { x: [2, 7, 7, 8], f: [3, 3, 8, 3], stride: 2, pad: 'valid' },
  { x: [2, 7, 6, 5], f: [2, 3, 5, 5], stride: 1, pad: 'valid' }, // stride 1, not widening: dx by flipped filter
  { x: [1, 6, 6, 4], f: [2, 2, 4, 3], stride: 1, pad: 'same' }, // ... with asymmetric 'same' pads
];

function convGrads(c: Case): { dx: Float32Array; dw: Float32Array } {
  return tf.tidy(() => {
    const x = seededTensor(c.x, 1) as tf.Tensor4D;
    const w = seededTensor(c.f, 2) as tf.Tensor4D;
    const r = seededTensor(tf.conv2d(x, w, c.stride, c.pad).shape, 3);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad), r)));
    const [dx, dw] = g([x, w]);
    return { dx: dx!.dataSync() as Float32Array, dw: dw!.dataSync() as Float32Array };
  });
}

function convForward(c: Case): Float32Array {
  return tf.tidy(
    () => tf.conv2d(seededTensor(c.x, 1) as tf.Tensor4D, seededTensor(c.f, 2) as tf.Tensor4D, c.stride, c.pad).dataSync() as Float32Array,
  );
}

before(async () => {
  await useBackend('cpu');
});

for (const engine of ENGINES) {
  test(`wasm conv2d and its gradients equal the cpu backend (convolutions on ${engine})`, async () => {
    await useBackend('cpu');
    const reference = CASES.map(convGrads);
    const forward = CASES.map(convForward);
    await useWasmWith(engine);
    CASES.forEach((c, i) => {
      const got = { ...convGrads(c), y: convForward(c) };
      const want = { ...reference[i]!, y: forward[i]! };
      for (const key of ['y', 'dx', 'dw'] as const) {
        const a = tf.tensor(got[key]);
        const b = tf.tensor(want[key]);
        const err = maxAbsDiff(a, b) / Math.max(maxAbs(b), 1);
        assert.ok(err < 1e-5, `case ${i} ${key}: relative error ${err}`);
        tf.dispose([a, b]);
      }
    });
  });

  test(`wasm conv2d filter and input gradients match finite differences (convolutions on ${engine})`, async () => {
    await useWasmWith(engine);
    for (const [i, c] of CASES.entries()) {
      const x = tf.variable(seededTensor(c.x, 10 + i, 0.5));
      const w = tf.variable(seededTensor(c.f, 20 + i, 0.5));
      const r = seededTensor(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.stride, c.pad).shape, 30 + i);
      // Bilinear in (x, w): quadratic along any direction, so central differences are exact up to rounding.
      const f = (): tf.Scalar => tf.sum(tf.mul(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.stride, c.pad), r)) as tf.Scalar;
      const res = checkGradients(f, [x, w], 40 + i, 1e-2);
      assert.ok(res.relErr < 2e-3, `case ${i}: analytic ${res.analytic} vs numeric ${res.numeric}`);
      tf.dispose([x, w, r]);
    }
  });

  test(`gradient kernels do not leak tensors (convolutions on ${engine})`, async () => {
    await useWasmWith(engine);
    const c = CASES[2]!;
    convGrads(c);
    const count = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) convGrads(c);
    assert.equal(tf.memory().numTensors, count);
  });
}

test('convolution engine: an unknown name is a ConfigError; the default is restored', async () => {
  await useBackend('wasm');
  assert.throws(
    () => useConvolutionEngine('mkl'),
    (e: Error) => e instanceof ConfigError && /unknown convolution engine 'mkl'/.test(e.message),
  );
  assert.match(useConvolutionEngine('auto'), /onnxruntime CPU|native kernels|XNNPACK \(onnxruntime unavailable/);
  // Through the environment, a bad value stops backend selection instead of skipping wasm for cpu.
  process.env['LATEPHASE_CONV'] = 'mkl';
  try {
    await assert.rejects(selectBackend(), (e: Error) => e instanceof ConfigError && /LATEPHASE_CONV/.test(e.message));
  } finally {
    delete process.env['LATEPHASE_CONV'];
  }
});

test('dilated, explicitly padded and strided-same forward convolutions equal the cpu backend on both engines', async () => {
  const run = (): Float32Array[] =>
    tf.tidy(() => {
      const x = seededTensor([2, 9, 8, 10], 90) as tf.Tensor4D;
      const w = seededTensor([3, 2, 10, 4], 91) as tf.Tensor4D;
      // 'same' whose total padding would be negative (3x3, stride 4, 16 divisible by 4): tfjs pads
      // 0; tfjs-backend-wasm's XNNPACK flag padded it wrongly (few channels run there)
      const few = seededTensor([2, 16, 16, 3], 92) as tf.Tensor4D;
      const fewW = seededTensor([3, 3, 3, 4], 93) as tf.Tensor4D;
      return [
        tf.conv2d(few, fewW, 4, 'same'),
        tf.conv2d(x, w, 1, 'same', 'NHWC', [2, 2]),
        tf.conv2d(x, w, 1, 'valid', 'NHWC', [2, 3]),
        tf.conv2d(x, w, 2, [
          [0, 0],
          [2, 1],
          [0, 3],
          [0, 0],
        ]),
      ].map((t) => t.dataSync() as Float32Array);
    });
  await useBackend('cpu');
  const reference = run();
  for (const engine of ENGINES) {
    await useWasmWith(engine);
    run().forEach((got, i) => {
      const worst = got.reduce((m, v, j) => Math.max(m, Math.abs(v - reference[i]![j]!)), 0);
      assert.ok(worst < 1e-4, `${engine} case ${i}: max difference ${worst}`);
    });
  }
});

test('convolutions of empty batches give empty results on both engines', async () => {
  for (const engine of ENGINES) {
    await useWasmWith(engine);
    const y = tf.tidy(() => tf.conv2d(tf.zeros([0, 5, 5, 9]) as tf.Tensor4D, tf.ones([3, 3, 9, 4]) as tf.Tensor4D, 1, 'same'));
    assert.deepEqual(y.shape, [0, 5, 5, 4]);
    y.dispose();
  }
});

const POOLS: Array<{ x: [number, number, number, number]; size: number; stride: number; pad: 'same' | 'valid'; ties?: boolean }> = [
  { x: [2, 6, 6, 3], size: 2, stride: 2, pad: 'valid' }, // the multi-channel case the stock wasm kernel gets wrong
  { x: [2, 7, 5, 4], size: 3, stride: 2, pad: 'same' },
  { x: [1, 5, 5, 2], size: 3, stride: 1, pad: 'same' },
  { x: [2, 6, 6, 3], size: 2, stride: 2, pad: 'valid', ties: true }, // rounded values: the first maximum must win
];

function poolGrad(p: (typeof POOLS)[number]): Float32Array {
  return tf.tidy(() => {
    const x = p.ties ? tf.round(seededTensor(p.x, 50)) : seededTensor(p.x, 50);
    const r = seededTensor(tf.maxPool(x as tf.Tensor4D, p.size, p.stride, p.pad).shape, 51);
    return tf
      .grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, p.size, p.stride, p.pad), r)))(x)
      .dataSync() as Float32Array;
  });
}

test('wasm max-pool gradient equals the cpu backend, multi-channel included', async () => {
  await useBackend('cpu');
  const reference = POOLS.map(poolGrad);
  await useBackend('wasm');
  POOLS.forEach((p, i) => {
    const got = poolGrad(p);
    const worst = got.reduce((m, v, j) => Math.max(m, Math.abs(v - reference[i]![j]!)), 0);
    assert.ok(worst < 1e-6, `pool case ${i}: max difference ${worst}`);
  });
});

test('wasm transposed matmuls equal the cpu backend (2-D and batched)', async () => {
  const cases: Array<[number[], number[], boolean, boolean]> = [
    [[5, 7], [7, 3], false, false],
    [[7, 5], [7, 3], true, false],
    [[5, 7], [3, 7], false, true],
    [[7, 5], [3, 7], true, true],
    [[2, 7, 5], [2, 3, 7], true, true],
  ];
  const run = (): Float32Array[] =>
    cases.map(([sa, sb, ta, tb], i) =>
      tf.tidy(() => tf.matMul(seededTensor(sa, 60 + i), seededTensor(sb, 70 + i), ta, tb).dataSync() as Float32Array),
    );
  await useBackend('cpu');
  const reference = run();
  await useBackend('wasm');
  run().forEach((got, i) => {
    const worst = got.reduce((m, v, j) => Math.max(m, Math.abs(v - reference[i]![j]!)), 0);
    assert.ok(worst < 1e-5, `matmul case ${i}: max difference ${worst}`);
  });
});

test('wasm sums and means over leading axes equal the cpu backend', async () => {
  const cases: Array<[number[], number | number[], boolean]> = [
    [[4, 5, 6, 7], [0, 1, 2], false], // BatchNorm statistics
    [[4, 5, 6, 7], [0, 1, 2], true],
    [[4, 5, 6, 7], [1, 2], false], // global average pooling
    [[4, 5, 6, 7], [-3, -2], true],
    [[9, 7], 0, false], // bias gradient of a dense layer
    [[3, 4, 5], [0, 2], false], // not one block, and the last axis: stock kernels
    [[3, 4, 5], [2], true],
    [[3, 4, 5], null as unknown as number[], false], // every axis (tfjs passes axis null)
  ];
  const run = (): Float32Array[] =>
    cases.flatMap(([shape, axis, keep], i) =>
      tf.tidy(() => {
        const x = seededTensor(shape, 80 + i);
        return [tf.sum(x, axis, keep), tf.mean(x, axis, keep)].map((t) => t.dataSync() as Float32Array);
      }),
    );
  await useBackend('cpu');
  const reference = run();
  await useBackend('wasm');
  const count = tf.memory().numTensors;
  run().forEach((got, i) => {
    assert.equal(got.length, reference[i]!.length);
    const worst = got.reduce((m, v, j) => Math.max(m, Math.abs(v - reference[i]![j]!)), 0);
    assert.ok(worst < 1e-5, `reduction case ${i >> 1} (${i % 2 ? 'mean' : 'sum'}): max difference ${worst}`);
  });
  assert.equal(tf.memory().numTensors, count);
});

test('wasm Identity and same-dtype Cast share data safely: a copy outlives its source, memory is freed after both', async () => {
  await useBackend('wasm');
  const before = tf.memory().numBytes;
  const x = tf.tensor([1, 2, 3, 4]);
  const y = tf.clone(x); // the Identity kernel
  const z = tf.cast(y, 'float32');
  const ints = tf.tidy(() => Array.from(tf.cast(tf.tensor([1.7, -2.2]), 'int32').dataSync())); // a real conversion still converts
  assert.deepEqual(ints, [1, -2]);
  x.dispose();
  assert.deepEqual(Array.from(z.dataSync()), [1, 2, 3, 4]);
  z.dispose();
  assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3, 4]);
  const v = tf.variable(y);
  const next = tf.tensor([5, 6, 7, 8]);
  v.assign(next); // a variable's assign swaps data; the clone it came from is untouched
  assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3, 4]);
  tf.dispose([y, v, next]);
  assert.equal(tf.memory().numBytes, before);
});
