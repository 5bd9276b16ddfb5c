/**
 * The native convolution kernels (native/kernels.c) against onnxruntime's over seeded random
 * geometries (strides, dilations, asymmetric pads, channel counts off the register tiles' row and
 * 16/32-wide column blocks), and training with them against training without them: the weights
 * after several steps agree up to float summation order. Skipped where the module is not built,
 * unless LATEPHASE_REQUIRE_NATIVE=1 (CI builds it).
 */
import { test } from 'node:test';
import * as fs from 'fs';
import * as path from 'path';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { nativeKernels, nativeModuleSource } from '../src/backend/nativeKernels';
import { OrtConvolution } from '../src/backend/ortConvolution';
import { nativeKernelsInUse, useConvolutionEngine } from '../src/backend/convolutionEngine';
import { NATIVE_ENTRY_POINTS, NATIVE_WASM_KERNELS, NativeEntry } from '../src/backend/nativeKernelTable';
import { stockKernel } from '../src/backend/kernels/registry';
import { selectBackend } from '../src/backend/selectBackend';
import { ConfigError } from '../src/errors';
import { availableCores, defaultKernelThreads, kernelThreads, useKernelThreads } from '../src/backend/kernelThreads';
import { Rng } from '../src/nn/rng';
import { wideResNet } from '../models/index';
import { Model } from '../src/nn/model';
import { benchCnn } from '../bench/benchModels';
import { EVAL, TRAIN } from '../src/nn/layer';
import { softmaxCrossEntropy } from '../src/nn/loss';
import { lossAndGrads } from '../src/train/gradients';
import { Sgd, SgdConfig } from '../src/train/sgd';
import { SGD_STEP_KERNEL } from '../src/backend/nativeSgd';
import { RELU_BACKWARD_KERNEL } from '../src/backend/nativeRelu';
import { ReLU } from '../src/nn/activation';
import { largestDifference, seededTensor, useBackend } from './helpers';
import { BatchNorm } from '../src/nn/batchNorm';
import { Sequential } from '../src/nn/sequential';
import { BATCH_NORM_FORWARD_KERNEL } from '../src/backend/nativeBatchNorm';
import { MAX_POOL_BACKWARD_KERNEL, MAX_POOL_FORWARD_KERNEL } from '../src/backend/nativeMaxPool';
import { GlobalAvgPool, MaxPool } from '../src/nn/pooling';
import { Conv2d } from '../src/nn/conv2d';
import { CONV_POOL_FILTER_GRAD_KERNEL, CONV_POOL_FORWARD_KERNEL } from '../src/backend/nativeConvPool';
import { valueAndGradients } from '../src/train/backward';
import { LatePhaseBatchNorm } from '../src/latephase/kinds/batchNorm';
import { releaseMembers, selectMember } from '../src/latephase/members';
import { GLOBAL_AVG_POOL_BACKWARD_KERNEL, GLOBAL_AVG_POOL_FORWARD_KERNEL } from '../src/backend/nativeGlobalAvgPool';
import { SOFTMAX_CROSS_ENTROPY_KERNEL } from '../src/backend/nativeSoftmaxCrossEntropy';

const native = nativeKernels();
const skip = native instanceof Error && process.env['LATEPHASE_REQUIRE_NATIVE'] !== '1' ? `native kernels unavailable: ${native.message}` : false;
/** The package's prebuilt binaries (made by `node native/build.js --prebuild`, which `npm pack` runs), when present. */
const prebuiltDir = path.join(__dirname, '..', '..', 'prebuilds', `${process.platform}-${process.arch}`);

/** `step` on the cpu backend, then on wasm under tf.profile: both results and the kernels wasm ran. */
async function cpuThenWasm<T>(step: () => T): Promise<{ want: T; got: T; kernels: Set<string> }> {
  await useBackend('cpu');
  const want = step();
  await useBackend('wasm');
  let got: T | undefined;
  const profile = await tf.profile(() => {
    got = step();
  });
  return { want, got: got!, kernels: new Set(profile.kernels.map((k) => k.name)) };
}

test('native forward, input and filter gradients equal onnxruntime over 40 random geometries', { skip }, () => {
  if (native instanceof Error) throw native;
  const ort = OrtConvolution.create(1);
  if (ort instanceof Error) throw ort;
  const rng = new Rng(7);
  const pick = (lo: number, hi: number): number => lo + Math.floor(rng.next() * (hi - lo + 1));
  const check = (what: string, got: Float32Array, want: Float32Array): void => {
    const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 1);
    const worst = got.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i]!)), 0) / scale;
    assert.ok(worst < 1e-5, `${what}: relative error ${worst}`);
  };
  let stridedInputGradients = 0;
  for (let t = 0; t < 40; t++) {
    const [kh, kw] = [pick(1, 4), pick(1, 4)];
    const strides: [number, number] = t % 3 === 0 ? [1, 1] : [pick(1, 3), pick(1, 3)];
    const dilations: [number, number] = t % 4 === 3 ? [pick(1, 3), pick(1, 3)] : [1, 1];
    const pads: [number, number, number, number] = [pick(0, kh - 1), pick(0, kw - 1), pick(0, kh - 1), pick(0, kw - 1)];
    const [n, h, w, c, o] = [pick(1, 3), pick(kh * dilations[0], 11), pick(kw * dilations[1], 11), pick(1, 40), pick(1, 70)];
    const size = (len: number, k: number, s: number, d: number, p0: number, p1: number): number =>
      Math.floor((len + p0 + p1 - d * (k - 1) - 1) / s) + 1;
    const [oh, ow] = [size(h, kh, strides[0], dilations[0], pads[0], pads[2]), size(w, kw, strides[1], dilations[1], pads[1], pads[3])];
    const what = `geometry ${t} ${JSON.stringify({ n, h, w, c, o, kh, kw, strides, dilations, pads })}`;
    const geometry = { n, h, w, c, oh, ow, o, kh, kw, strides, dilations, padTopLeft: [pads[0], pads[1]] as const };
    const g = { strides, dilations, pads };
    const x = { values: rng.normalArray(n * h * w * c), shape: [n, h, w, c] as const };
    const filter = { values: rng.normalArray(kh * kw * c * o), shape: [kh, kw, c, o] as const };
    const dy = { values: rng.normalArray(n * oh * ow * o), shape: [n, oh, ow, o] as const };
    const run = (size: number, fill: (out: Float32Array) => void): Float32Array => {
      const out = new Float32Array(size).fill(NaN);
      fill(out);
      return out;
    };
    const y = run(dy.values.length, (out) => native.conv2d(x.values, filter.values, out, geometry));
    check(
      `${what} forward`,
      y,
      run(y.length, (out) => ort.conv2d(x, filter, g, { values: out, shape: dy.shape })),
    );
    const dw = run(filter.values.length, (out) => native.filterGradient(x.values, dy.values, out, geometry));
    check(
      `${what} filter gradient`,
      dw,
      run(dw.length, (out) => ort.filterGradient(x, dy, g, { values: out, shape: filter.shape })),
    );
    const want = run(x.values.length, (out) => ort.inputGradient(dy, filter, g, { values: out, shape: x.shape }));
    check(
      `${what} input gradient`,
      run(want.length, (out) => native.inputGradient(dy.values, filter.values, out, geometry)),
      want,
    );
    if (strides[0] * strides[1] > 1) stridedInputGradients++;
  }
  assert.ok(stridedInputGradients >= 10, `only ${stridedInputGradients} strided input gradients compared`);
  ort.dispose();
});

test(
  'native Winograd F(2x2, 3x3) convolutions (3x3, stride 1, channels in 16s) and few-channel filter gradients over several pixel chunks equal onnxruntime: odd sizes, every pad',
  { skip },
  () => {
    if (native instanceof Error) throw native;
    const ort = OrtConvolution.create(1);
    if (ort instanceof Error) throw ort;
    const rng = new Rng(17);
    // [n, h, w, c, o, pads top, left, bottom, right]: odd and even output sizes (edge tiles clipped),
    // pads 0 to 2 on each side, more tiles than one block, channels 16 to 80
    const cases: Array<[number, number, number, number, number, number, number, number, number]> = [
      [2, 9, 7, 16, 32, 1, 1, 1, 1],
      [3, 8, 11, 32, 16, 0, 0, 0, 0],
      [1, 10, 6, 48, 64, 2, 1, 0, 2],
      [2, 5, 5, 16, 48, 0, 2, 2, 0],
      [4, 17, 13, 32, 80, 1, 1, 1, 1],
      [1, 3, 4, 64, 16, 1, 0, 1, 2],
      // 3 channels (27 window rows, read straight from x): 3,480 pixels in two chunks, 20 outputs (16 + 4)
      [4, 30, 29, 3, 20, 1, 1, 1, 1],
    ];
    for (const [n, h, w, c, o, pt, pl, pb, pr] of cases) {
      const [oh, ow] = [h + pt + pb - 2, w + pl + pr - 2];
      const geometry = { n, h, w, c, oh, ow, o, kh: 3, kw: 3, strides: [1, 1], dilations: [1, 1], padTopLeft: [pt, pl] } as const;
      const g = {
        strides: [1, 1] as [number, number],
        dilations: [1, 1] as [number, number],
        pads: [pt, pl, pb, pr] as [number, number, number, number],
      };
      const x = { values: rng.normalArray(n * h * w * c), shape: [n, h, w, c] as const };
      const filter = { values: rng.normalArray(9 * c * o), shape: [3, 3, c, o] as const };
      const dy = { values: rng.normalArray(n * oh * ow * o), shape: [n, oh, ow, o] as const };
      const what = `[${n}, ${h}, ${w}, ${c}] -> ${o}, pads ${[pt, pl, pb, pr]}`;
      const pairs: Array<[string, Float32Array, (out: Float32Array) => void, (out: Float32Array) => void]> = [
        [
          'forward',
          new Float32Array(dy.values.length),
          (out) => native.conv2d(x.values, filter.values, out, geometry),
          (out) => ort.conv2d(x, filter, g, { values: out, shape: dy.shape }),
        ],
        [
          'input gradient',
          new Float32Array(x.values.length),
          (out) => native.inputGradient(dy.values, filter.values, out, geometry),
          (out) => ort.inputGradient(dy, filter, g, { values: out, shape: x.shape }),
        ],
        [
          'filter gradient',
          new Float32Array(filter.values.length),
          (out) => native.filterGradient(x.values, dy.values, out, geometry),
          (out) => ort.filterGradient(x, dy, g, { values: out, shape: filter.shape }),
        ],
      ];
      for (const [name, got, mine, theirs] of pairs) {
        const want = new Float32Array(got.length);
        mine(got.fill(NaN));
        theirs(want);
        const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 1);
        const worst = got.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i]!)), 0) / scale;
        assert.ok(worst < 1e-5, `${what} ${name}: relative error ${worst}`);
      }
    }
    ort.dispose();
  },
);

test('native kernels refuse arrays that do not match the geometry', { skip }, () => {
  if (native instanceof Error) throw native;
  const g = { n: 1, h: 4, w: 4, c: 2, oh: 4, ow: 4, o: 3, kh: 3, kw: 3, strides: [1, 1], dilations: [1, 1], padTopLeft: [1, 1] } as const;
  const ok = (): void => native.filterGradient(new Float32Array(32), new Float32Array(48), new Float32Array(54), g);
  ok();
  assert.throws(() => native.filterGradient(new Float32Array(31), new Float32Array(48), new Float32Array(54), g), /do not match the geometry/);
  assert.throws(
    () => native.filterGradient(new Float32Array(32), new Float32Array(48), new Float32Array(54), { ...g, strides: [0, 1] }),
    /must be positive/,
  );
  assert.throws(() => native.conv2d(new Float32Array(32), new Float32Array(54), new Float32Array(47), g), /conv2d: array lengths/);
  const pool = { ...g, o: 2, kh: 2, kw: 2 };
  assert.throws(
    () => native.maxPoolForward(new Float32Array(32), new Float32Array(32), new Int32Array(32), { ...pool, strides: [1, 0] }, false),
    /maxPoolForward: sizes, strides and dilations must be positive/,
  );
});

/** A small WRN (strided convolutions, BatchNorm, residual adds) and the bench CNN (max pooling). */
const TRAINED: Array<{ make: () => Model; input: number[]; classes: number }> = [
  {
    make: () => wideResNet({ depth: 10, widen: 2, inputShape: [12, 12, 3], classes: 5, seed: 4, normalize: null }),
    input: [8, 12, 12, 3],
    classes: 5,
  },
  { make: () => benchCnn(), input: [8, 28, 28, 1], classes: 10 },
];

/** Weights of each TRAINED model after `steps` SGD steps on wasm, with the kernels as they are registered now. */
function trainedWeights(steps: number): Float32Array[] {
  return TRAINED.flatMap((t) => trainedModel(t.make(), t.input, t.classes, steps));
}

function trainedModel(model: Model, input: number[], classes: number, steps: number): Float32Array[] {
  const params = model.params();
  const sgd = new Sgd({ lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
  const x = seededTensor(input, 3);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 0, 1, 2], 'int32'), classes);
  for (let s = 0; s < steps; s++) {
    const { loss, grads } = lossAndGrads(model, x, y, params);
    sgd.step(params, grads, 0.05);
    tf.dispose([loss, ...grads]);
  }
  const weights = params.map((p) => p.variable.dataSync() as Float32Array);
  assert.ok(Number.isFinite(tf.tidy(() => softmaxCrossEntropy(model.forward(x, TRAIN), y).dataSync()[0]!)));
  tf.dispose([x, y]);
  sgd.dispose();
  model.dispose();
  return weights;
}

test('training on the native kernels: weights after 5 steps equal the onnxruntime path up to summation order', { skip }, async () => {
  await useBackend('wasm');
  assert.match(useConvolutionEngine('onnxruntime'), /on native kernels/);
  const fast = trainedWeights(5);
  process.env['LATEPHASE_NATIVE'] = 'off';
  try {
    assert.match(useConvolutionEngine('onnxruntime'), /native kernels: turned off/);
    const plain = trainedWeights(5);
    fast.forEach((w, i) => {
      const scale = plain[i]!.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-3);
      const worst = w.reduce((m, v, j) => Math.max(m, Math.abs(v - plain[i]![j]!)), 0) / scale;
      assert.ok(worst < 1e-4, `parameter ${i}: relative difference ${worst}`);
    });
  } finally {
    delete process.env['LATEPHASE_NATIVE'];
    useConvolutionEngine('onnxruntime');
  }
});

/** Train-mode BatchNorm output, gradients and running statistics for the seeded input, on the active backend. */
function batchNormStep(shape: number[]): Float32Array[] {
  const bn = new BatchNorm('bn', shape[shape.length - 1]!);
  const x = seededTensor(shape, 11, 3);
  const r = seededTensor(shape, 12);
  const gamma = seededTensor([bn.channels], 13);
  bn.gamma.variable.assign(gamma);
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(bn.forward(x, TRAIN), r)) as tf.Scalar, [bn.gamma.variable, bn.beta.variable]);
  const dx = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(bn.forward(xx, TRAIN), r)))(x);
  const out = [value, grads[bn.gamma.variable.name]!, grads[bn.beta.variable.name]!, dx, bn.runningMean, bn.runningVar].map(
    (t) => t.dataSync() as Float32Array,
  );
  tf.dispose([x, r, gamma, value, dx, ...Object.values(grads)]);
  bn.dispose();
  return out;
}

test('native BatchNorm kernels equal the tfjs-op BatchNorm on the cpu backend (output, gradients, running statistics)', { skip }, async () => {
  for (const shape of [
    [6, 5, 7, 13],
    [40, 3],
    [2, 33, 31, 64],
  ]) {
    const { want, got, kernels } = await cpuThenWasm(() => batchNormStep(shape));
    assert.ok(kernels.has(BATCH_NORM_FORWARD_KERNEL), 'the native kernels ran');
    got.forEach((g, i) => {
      const scale = want[i]!.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-3);
      const worst = g.reduce((m, v, j) => Math.max(m, Math.abs(v - want[i]![j]!)), 0) / scale;
      assert.ok(worst < 2e-5, `[${shape}] output ${i}: relative difference ${worst}`);
    });
  }
});

/**
 * Sequential [BatchNorm, ReLU] in train mode (with `fused` the ReLU runs inside BatchNorm's kernels,
 * else the two layers run on their own): output, gradients of x, gamma and beta, running statistics.
 */
function batchNormReluStep(shape: number[], fused: boolean): Float32Array[] {
  const bn = new BatchNorm('bn', shape[shape.length - 1]!);
  const relu = new ReLU('relu');
  const net = new Sequential('net', [bn, relu]);
  const forward = (x: tf.Tensor): tf.Tensor => (fused ? net.forward(x, TRAIN) : relu.forward(bn.forward(x, TRAIN), TRAIN));
  const x = seededTensor(shape, 31, 2);
  const r = seededTensor(shape, 32);
  bn.gamma.variable.assign(seededTensor([bn.channels], 33));
  bn.beta.variable.assign(seededTensor([bn.channels], 34));
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(forward(x), r)) as tf.Scalar, [bn.gamma.variable, bn.beta.variable]);
  const dx = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(forward(xx), r)))(x);
  const y = tf.tidy(() => forward(x));
  const out = [y, value, grads[bn.gamma.variable.name]!, grads[bn.beta.variable.name]!, dx, bn.runningMean, bn.runningVar].map(
    (t) => t.dataSync() as Float32Array,
  );
  tf.dispose([x, r, y, value, dx, ...Object.values(grads)]);
  bn.dispose();
  return out;
}

test(
  'BatchNorm -> ReLU fused in train mode: the same bits as the two layers on their own (output, every gradient, running statistics)',
  { skip },
  async () => {
    await useBackend('wasm');
    for (const shape of [
      [6, 5, 7, 13],
      [2, 33, 31, 64],
    ]) {
      const separate = batchNormReluStep(shape, false);
      let fused: Float32Array[] = [];
      const profile = await tf.profile(() => {
        fused = batchNormReluStep(shape, true);
      });
      const ran = new Set(profile.kernels.map((k) => k.name));
      assert.ok(!ran.has('Relu') && !ran.has(RELU_BACKWARD_KERNEL), 'no separate ReLU kernel ran');
      assert.ok(fused[0]!.some((v) => v === 0) && fused[0]!.some((v) => v > 0), 'the ReLU clipped part of the output');
      fused.forEach((f, i) => assert.deepEqual(bits(f), bits(separate[i]!), `[${shape}] output ${i}`));
    }
    // eval mode, and a backend without the fused kernels: BatchNorm then ReLU, the same values as the two layers
    const bn = new BatchNorm('bn', 3);
    const x = seededTensor([4, 5, 3], 35, 2);
    for (const backend of ['cpu', 'wasm'] as const) {
      await useBackend(backend);
      for (const training of [true, false]) {
        const separate = tf.tidy(() => tf.relu(bn.forward(x, { training })).arraySync());
        const together = tf.tidy(() => bn.forwardThenRelu(x, { training }).arraySync());
        assert.deepEqual(together, separate, `${backend}, training: ${training}`);
      }
    }
    x.dispose();
    bn.dispose();
    await useBackend('wasm');
  },
);

/** A layer's train-mode output and the gradient of sum(output * r) with respect to x, as host arrays; x and r are disposed. */
function outputAndInputGradient(layer: { forward(x: tf.Tensor, ctx: typeof TRAIN): tf.Tensor }, x: tf.Tensor, r: tf.Tensor): Float32Array[] {
  const y = layer.forward(x, TRAIN);
  const dx = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(layer.forward(xx, TRAIN), r)))(x);
  const out = [y.dataSync() as Float32Array, dx.dataSync() as Float32Array];
  tf.dispose([x, r, y, dx]);
  return out;
}

/** Train-mode MaxPool output and input gradient on the active backend (ties: a quarter of the inputs share one value). */
function maxPoolStep(shape: [number, number, number, number], size: number, stride: number, pad: 'same' | 'valid'): Float32Array[] {
  const pool = new MaxPool('pool', size, stride, pad);
  const x = tf.tidy(() => {
    const raw = seededTensor(shape, 21);
    return tf.where(tf.less(seededTensor(shape, 22), -0.7), tf.onesLike(raw), raw);
  });
  return outputAndInputGradient(pool, x, seededTensor([shape[0], ...pool.outputShape(shape.slice(1))], 23));
}

test('native max pooling with recorded indices equals the cpu backend (output and gradient, ties, same and valid)', { skip }, async () => {
  const cases: Array<[[number, number, number, number], number, number, 'same' | 'valid']> = [
    [[2, 8, 8, 5], 2, 2, 'valid'],
    [[3, 7, 9, 4], 3, 2, 'same'],
    [[1, 6, 5, 33], 2, 1, 'same'],
    [[2, 9, 9, 3], 3, 3, 'valid'],
    // channels in 16s: windows inside x take the register path, edge windows the general one
    [[2, 8, 8, 32], 2, 2, 'valid'],
    [[3, 7, 9, 16], 3, 2, 'same'],
  ];
  for (const [shape, size, stride, pad] of cases) {
    const { want, got, kernels } = await cpuThenWasm(() => maxPoolStep(shape, size, stride, pad));
    assert.ok(kernels.has(MAX_POOL_FORWARD_KERNEL) && kernels.has(MAX_POOL_BACKWARD_KERNEL), `the native kernels ran: ${[...kernels].join(', ')}`);
    const what = `[${shape}] k${size} s${stride} ${pad}`;
    assert.deepEqual(got[0], want[0], `${what}: pooled values differ`);
    // Overlapping windows add into the same cell in another order: equal up to rounding.
    const worst = largestDifference(got[1]!, want[1]!);
    assert.ok(worst < 1e-6, `${what}: gradient differs by ${worst}`);
  }
});

test(
  'ReLU then max pooling runs as one native call (the ReLU on the pooled output) and equals the two on the cpu backend bit for bit (negatives, zeros, ties)',
  { skip },
  async () => {
    const cases: Array<[[number, number, number, number], number, number, 'same' | 'valid']> = [
      [[2, 9, 7, 5], 2, 2, 'valid'], // windows tile x, a row and a column left over
      [[3, 7, 9, 4], 3, 2, 'same'], // overlapping windows: the scatter
      [[2, 8, 8, 33], 2, 2, 'same'],
      [[2, 9, 7, 32], 2, 2, 'valid'], // channels in 16s: the register path
      [[2, 7, 8, 16], 3, 2, 'same'], // and edge windows beside it
    ];
    for (const [shape, size, stride, pad] of cases) {
      const step = (): Float32Array[] => {
        const net = new Sequential('s', [new ReLU('r'), new MaxPool('p', size, stride, pad)]);
        // negatives (whole windows of them), exact zeros and ties
        const x = tf.tidy(() => {
          const raw = tf.sub(seededTensor(shape, 71), 0.8);
          const tied = tf.where(tf.less(seededTensor(shape, 72), -0.8), tf.onesLike(raw), raw);
          return tf.where(tf.greater(seededTensor(shape, 73), 1.2), tf.zerosLike(raw), tied);
        });
        return outputAndInputGradient(net, x, seededTensor([shape[0], ...net.outputShape(shape.slice(1))], 74));
      };
      const { want, got, kernels } = await cpuThenWasm(step);
      const what = `[${shape}] k${size} s${stride} ${pad}`;
      assert.ok(kernels.has(MAX_POOL_FORWARD_KERNEL) && kernels.has(MAX_POOL_BACKWARD_KERNEL), `${what}: the native kernels ran`);
      assert.ok(!kernels.has(tf.Relu) && !kernels.has(RELU_BACKWARD_KERNEL), `${what}: no separate ReLU ran: ${[...kernels].join(', ')}`);
      const plusZero = (a: Float32Array): Float32Array => a.map((v) => v + 0);
      assert.deepEqual(plusZero(got[0]!), plusZero(want[0]!), `${what}: pooled values differ`);
      const worst = largestDifference(got[1]!, want[1]!);
      assert.ok(worst < 1e-6, `${what}: gradient differs by ${worst}`);
    }
  },
);

/** Train-mode output and gradients (of sum(output * r): filter, bias if any, then x where `withX`) of conv -> ReLU -> pool, fused by Sequential or layer by layer; and the kernels run. */
async function convReluPoolStep(
  shape: [number, number, number, number],
  kernelSize: number,
  outChannels: number,
  opts: { stride: number; padding: 'same' | 'valid'; bias: boolean },
  fused: boolean,
  withX: boolean,
): Promise<{ out: Float32Array[]; kernels: Set<string> }> {
  const conv = new Conv2d('c', shape[3], outChannels, { kernelSize, stride: opts.stride, padding: opts.padding, bias: opts.bias, rng: new Rng(5) });
  const [relu, pool] = [new ReLU('r'), new MaxPool('p', 2)];
  const net = new Sequential('s', [conv, relu, pool]);
  // negatives (whole windows of them), exact zeros and ties
  const x = tf.tidy(() => {
    const raw = tf.sub(seededTensor(shape, 81), 0.3);
    return tf.where(tf.greater(seededTensor(shape, 82), 1.2), tf.zerosLike(raw), raw);
  });
  const r = seededTensor([shape[0], ...net.outputShape(shape.slice(1))], 83);
  const forward = (): tf.Tensor => (fused ? net.forward(x, TRAIN) : pool.forward(relu.forward(conv.forward(x, TRAIN), TRAIN), TRAIN));
  const xs = [...conv.params().map((p) => p.variable), ...(withX ? [x] : [])];
  let out: Float32Array[] = [];
  const profile = await tf.profile(() => {
    const y = forward();
    const { value, grads } = valueAndGradients(() => tf.sum(tf.mul(forward(), r)), xs);
    out = [y, ...grads].map((t) => t.dataSync() as Float32Array);
    tf.dispose([y, value, ...grads]);
  });
  tf.dispose([x, r]);
  net.dispose();
  return { out, kernels: new Set(profile.kernels.map((k) => k.name)) };
}

test(
  "a first layer's conv, ReLU and 2x2 max pool run as one native kernel: output, filter and data gradients equal the unfused native kernels bit for bit, the bias gradient up to summation order",
  { skip },
  async () => {
    await useBackend('wasm');
    const cases: Array<[[number, number, number, number], number, number, { stride: number; padding: 'same' | 'valid'; bias: boolean }]> = [
      [[3, 28, 28, 1], 3, 32, { stride: 1, padding: 'same', bias: false }], // the bench CNN's first layer
      [[2, 29, 27, 3], 3, 48, { stride: 1, padding: 'same', bias: true }], // a row and a column left over; 16 channels past the 32s
      [[2, 20, 21, 1], 5, 32, { stride: 1, padding: 'valid', bias: true }],
      [[2, 30, 29, 2], 3, 16, { stride: 2, padding: 'same', bias: false }],
    ];
    for (const [shape, k, o, opts] of cases) {
      const what = `[${shape}] k${k} o${o} s${opts.stride} ${opts.padding}${opts.bias ? ' bias' : ''}`;
      for (const withX of [false, true]) {
        const unfused = await convReluPoolStep(shape, k, o, opts, false, withX);
        const fused = await convReluPoolStep(shape, k, o, opts, true, withX);
        assert.ok(fused.kernels.has(CONV_POOL_FORWARD_KERNEL) && fused.kernels.has(CONV_POOL_FILTER_GRAD_KERNEL), `${what}: the fused kernels ran`);
        assert.ok(!fused.kernels.has('Conv2D') && !fused.kernels.has('Conv2DBackpropFilter'), `${what}: no unfused convolution ran`);
        // a first layer's data gradient is never computed; asked for, it takes the unfused kernels
        assert.equal(fused.kernels.has('Conv2DBackpropInput'), withX, `${what}: the data gradient ran exactly when asked (${withX})`);
        const [y, dw, ...rest] = fused.out;
        const [wantY, wantDw, ...wantRest] = unfused.out;
        assert.deepEqual(y, wantY, `${what}: pooled values differ`);
        assert.deepEqual(dw, wantDw, `${what}: filter gradients differ`);
        if (opts.bias) {
          // sums of a few hundred terms of size ~1 in another order (ours in double): relative 1e-6
          const [db, wantDb] = [rest.shift()!, wantRest.shift()!];
          const scale = wantDb.reduce((m, v) => Math.max(m, Math.abs(v)), 1);
          const worst = largestDifference(db, wantDb);
          assert.ok(worst < 1e-6 * scale * 10, `${what}: bias gradient differs by ${worst} (largest ${scale})`);
        }
        if (withX) assert.deepEqual(rest[0], wantRest[0], `${what}: data gradients differ`);
      }
    }
  },
);

test(
  'the fused conv, ReLU and pool is skipped where it does not apply (eval mode, 8 output channels, overlapping pool windows)',
  { skip },
  async () => {
    await useBackend('wasm');
    for (const [o, poolSize, ctx, what] of [
      [32, 2, EVAL, 'eval'],
      [8, 2, TRAIN, '8 channels'],
      [32, 3, TRAIN, '3x3 pool, stride 2'],
    ] as const) {
      const layers = [new Conv2d('c', 1, o, { kernelSize: 3, bias: false, rng: new Rng(1) }), new ReLU('r'), new MaxPool('p', poolSize, 2)];
      const net = new Sequential('s', layers);
      const x = seededTensor([2, 12, 12, 1], 3);
      const profile = await tf.profile(() => tf.dispose(net.forward(x, ctx)));
      const kernels = new Set(profile.kernels.map((k) => k.name));
      assert.ok(!kernels.has(CONV_POOL_FORWARD_KERNEL) && kernels.has('Conv2D'), `${what}: the unfused kernels ran: ${[...kernels].join(', ')}`);
      tf.dispose(x);
      net.dispose();
    }
  },
);

test(
  "BatchNorm, ReLU and a global average pool: the pool's gradient reaches the native BatchNorm backward one row per image (never written out), the same bits as the separate layers",
  { skip },
  async () => {
    await useBackend('wasm');
    for (const shape of [
      [3, 7, 6, 48],
      [2, 5, 5, 20],
    ] as Array<[number, number, number, number]>) {
      const c = shape[3];
      const run = async (fused: boolean): Promise<{ out: Float32Array[]; kernels: Set<string> }> => {
        const [bn, relu, gap] = [new BatchNorm('bn', c), new ReLU('r'), new GlobalAvgPool('g')];
        const net = new Sequential('s', [bn, relu, gap]);
        const x = tf.tidy(() => tf.add(seededTensor(shape, 91), 0.2));
        const r = seededTensor([shape[0], c], 92);
        const forward = (): tf.Tensor => (fused ? net.forward(x, TRAIN) : gap.forward(bn.forwardThenRelu(x, TRAIN), TRAIN));
        let out: Float32Array[] = [];
        const profile = await tf.profile(() => {
          const { value, grads } = valueAndGradients(() => tf.sum(tf.mul(forward(), r)), [x, ...bn.params().map((p) => p.variable)]);
          out = [value, ...grads].map((t) => t.dataSync() as Float32Array);
          tf.dispose([value, ...grads]);
        });
        tf.dispose([x, r]);
        net.dispose();
        return { out, kernels: new Set(profile.kernels.map((k) => k.name)) };
      };
      const [separate, fused] = [await run(false), await run(true)];
      assert.ok(separate.kernels.has(GLOBAL_AVG_POOL_BACKWARD_KERNEL), 'the separate pool writes its gradient out');
      assert.ok(
        !fused.kernels.has(GLOBAL_AVG_POOL_BACKWARD_KERNEL) && fused.kernels.has(BATCH_NORM_FORWARD_KERNEL),
        `fused: ${[...fused.kernels].join(', ')}`,
      );
      ['loss', 'dx', 'dgamma', 'dbeta'].forEach((what, i) => assert.deepEqual(fused.out[i], separate.out[i], `[${shape}] ${what} differs`));
    }
  },
);

test('a late-phase BatchNorm takes a following ReLU and global average pool along: the same values as the layers one by one (a member in training, the average in eval)', async () => {
  await useBackend('wasm');
  const [bn, relu, gap] = [new LatePhaseBatchNorm('bn', 20), new ReLU('r'), new GlobalAvgPool('g')];
  const model = new Model('m', new Sequential('s', [bn, relu, gap]), [5, 6, 20]);
  releaseMembers(model, 3, 0.5, 7);
  const x = tf.tidy(() => tf.add(seededTensor([2, 5, 6, 20], 95), 0.3));
  const values = (fused: boolean, ctx: typeof TRAIN): Float32Array => {
    const out = tf.tidy(() => (fused ? model.forward(x, ctx) : gap.forward(bn.forwardThenRelu(x, ctx), ctx)));
    const data = out.dataSync() as Float32Array;
    out.dispose();
    return data;
  };
  for (const [member, ctx] of [
    [1, TRAIN],
    [1, EVAL],
    ['average', EVAL],
  ] as const) {
    selectMember(model, member);
    assert.deepEqual(values(true, ctx), values(false, ctx), `member ${member}, training ${ctx.training}`);
  }
  x.dispose();
  model.dispose();
});

test(
  'native softmax cross-entropy equals log-softmax cross-entropy on the cpu backend: loss and gradient (one-hot and soft targets, rows of rank 3)',
  { skip },
  async () => {
    const cases: Array<[number[], 'onehot' | 'soft']> = [
      [[33, 10], 'onehot'],
      [[7, 5, 4], 'onehot'],
      [[6, 13], 'soft'],
    ];
    for (const [shape, kind] of cases) {
      const step = (): Float32Array[] => {
        const logits = tf.tidy(() => tf.mul(seededTensor(shape, 81), 4));
        const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
        const classes = shape[shape.length - 1]!;
        const targets = tf.tidy(() =>
          kind === 'onehot'
            ? tf.reshape(
                tf.oneHot(
                  tf.tensor1d(
                    Array.from({ length: rows }, (_, i) => (i * 7) % classes),
                    'int32',
                  ),
                  classes,
                ),
                shape,
              )
            : tf.abs(seededTensor(shape, 82)),
        );
        const loss = softmaxCrossEntropy(logits, targets);
        const dz = tf.grad((z: tf.Tensor) => softmaxCrossEntropy(z, targets))(logits);
        const out = [loss.dataSync() as Float32Array, dz.dataSync() as Float32Array];
        tf.dispose([logits, targets, loss, dz]);
        return out;
      };
      const { want, got, kernels } = await cpuThenWasm(step);
      assert.ok(kernels.has(SOFTMAX_CROSS_ENTROPY_KERNEL), 'the native kernel ran');
      const what = `[${shape}] ${kind}`;
      assert.ok(Math.abs(got[0]![0]! - want[0]![0]!) <= 1e-6 * Math.abs(want[0]![0]!), `${what}: loss ${got[0]![0]} vs ${want[0]![0]}`);
      const worst = largestDifference(got[1]!, want[1]!);
      assert.ok(worst < 1e-6, `${what}: gradient differs by ${worst}`);
    }
  },
);

test(
  'native global average pooling in training equals tfjs Mean and its gradient on the cpu backend to float rounding; inference keeps tfjs Mean',
  { skip },
  async () => {
    const pool = new GlobalAvgPool('gap');
    const step = (): Float32Array[] =>
      outputAndInputGradient(
        pool,
        tf.tidy(() => tf.add(tf.mul(seededTensor([3, 9, 11, 37], 91), 50), 100)),
        seededTensor([3, 37], 92),
      );
    const { want, got, kernels } = await cpuThenWasm(step);
    assert.ok(kernels.has(GLOBAL_AVG_POOL_FORWARD_KERNEL) && kernels.has(GLOBAL_AVG_POOL_BACKWARD_KERNEL), 'the native kernels ran');
    const worst = got[0]!.reduce((m, v, j) => Math.max(m, Math.abs(v - want[0]![j]!) / Math.abs(want[0]![j]!)), 0);
    assert.ok(worst < 2e-7, `means differ by ${worst} (relative)`);
    assert.deepEqual(got[1], want[1], 'the gradient is dy / pixels everywhere, exactly');
    await useBackend('wasm');
    const inference = await tf.profile(() => tf.dispose(pool.forward(tf.ones([1, 3, 3, 2]), EVAL)));
    assert.ok(!inference.kernels.some((k) => k.name === GLOBAL_AVG_POOL_FORWARD_KERNEL), 'inference ran tfjs Mean');
  },
);

test('native SGD step: bit-identical to the tfjs-op update over 3 steps for every option', { skip }, async () => {
  await useBackend('wasm');
  const configs: Array<[SgdConfig, number]> = [
    [{ lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 }, 1],
    [{ lr: 0.1, momentum: 0.9, nesterov: false, weightDecay: 1e-3 }, 0.25],
    [{ lr: 0.02, momentum: 0, nesterov: false, weightDecay: 0 }, 1],
  ];
  const run = (cfg: SgdConfig, scale: number): Float32Array[] => {
    // one parameter smaller than a vector tail, one split into several tasks (65,536 elements each)
    const shapes = [
      [37, 5],
      [300, 500],
    ];
    const params = [true, false].map((decay, i) => ({ name: `p${i}`, variable: tf.variable(seededTensor(shapes[i]!, 30 + i)), decay }));
    const sgd = new Sgd(cfg);
    for (let s = 0; s < 3; s++) {
      const grads = params.map((_, i) => seededTensor(shapes[i]!, 40 + 10 * s + i));
      sgd.step(params, grads, cfg.lr, scale);
      tf.dispose(grads);
    }
    const out = [...params.map((p) => p.variable), ...sgd.momentum(params).map((m) => m.tensor)].map((t) => t.dataSync() as Float32Array);
    sgd.dispose();
    params.forEach((p) => p.variable.dispose());
    return out;
  };
  for (const [cfg, scale] of configs) {
    assert.ok(tf.getKernel(SGD_STEP_KERNEL, 'wasm'));
    const fused = run(cfg, scale);
    process.env['LATEPHASE_NATIVE'] = 'off';
    try {
      useConvolutionEngine('onnxruntime');
      assert.equal(tf.getKernel(SGD_STEP_KERNEL, 'wasm'), undefined);
      const plain = run(cfg, scale);
      assert.equal(fused.length, plain.length);
      fused.forEach((f, i) =>
        assert.deepEqual(
          new Uint32Array(f.buffer, f.byteOffset, f.length),
          new Uint32Array(plain[i]!.buffer, plain[i]!.byteOffset, plain[i]!.length),
          `${JSON.stringify(cfg)} x${scale}: tensor ${i}`,
        ),
      );
    } finally {
      delete process.env['LATEPHASE_NATIVE'];
      useConvolutionEngine('onnxruntime');
    }
  }
});

test('native ReLU gradient equals the cpu backend (zeros, negatives and ties at 0 included)', { skip }, async () => {
  const step = (): Float32Array[] => {
    const relu = new ReLU('r');
    const x = tf.tidy(() =>
      tf.where(tf.less(seededTensor([3, 5, 7], 51), -0.5), tf.zerosLike(seededTensor([3, 5, 7], 52)), seededTensor([3, 5, 7], 52)),
    );
    const r = seededTensor([3, 5, 7], 53);
    const dx = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(relu.forward(xx, TRAIN), r)))(x);
    const out = [relu.forward(x, TRAIN).dataSync() as Float32Array, dx.dataSync() as Float32Array];
    tf.dispose([x, r, dx]);
    return out;
  };
  const { want, got, kernels } = await cpuThenWasm(step);
  assert.ok(kernels.has(RELU_BACKWARD_KERNEL), 'the native kernel ran');
  // tfjs's dy * step(x) gives -0 where dy < 0 is masked, the kernel +0: equal as numbers.
  const plusZero = (a: Float32Array): Float32Array => a.map((v) => v + 0);
  got.forEach((g, i) => assert.deepEqual(plusZero(g), plusZero(want[i]!)));
});

/** Every entry point's check from the table (seeded inputs sized to split into several tasks), on the pool's current thread count. */
function everyKernelOnce(): Float32Array[] {
  if (native instanceof Error) throw native;
  const rng = new Rng(61);
  const random = (length: number, scale = 1): Float32Array => rng.normalArray(length, scale);
  return Object.values(NATIVE_ENTRY_POINTS).flatMap((entry) => entry.check(native, random));
}

test('the native kernel table covers every entry point the module exports, and every wasm kernel it registers', { skip }, () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const build = require(path.join(__dirname, '..', '..', 'native', 'build.js')) as { MODULE_FILE: string };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const exported = Object.entries(require(build.MODULE_FILE) as Record<string, unknown>)
    .filter(([, v]) => typeof v === 'function')
    .map(([k]) => k)
    .sort();
  assert.deepEqual(
    exported,
    [...Object.keys(NATIVE_ENTRY_POINTS), 'setThreads', 'cpuLevel'].sort(),
    'a C entry point without a table row (or a row without one)',
  );
  const carried = new Set(NATIVE_WASM_KERNELS.flatMap((k) => k.entries));
  const convolutions = ['conv2d', 'inputGradient', 'filterGradient']; // convolutionEngine.ts registers these
  assert.deepEqual(
    Object.keys(NATIVE_ENTRY_POINTS).filter((e) => !carried.has(e as NativeEntry) && !convolutions.includes(e)),
    [],
    'an entry point no kernel calls',
  );
  for (const [name, entry] of Object.entries(NATIVE_ENTRY_POINTS)) assert.ok(entry.reason.length > 20, `${name}: a reason`);
});

test('the native kernels run exactly when the report says so: XNNPACK forced, onnxruntime failing to start, native convolutions without onnxruntime', async () => {
  await useBackend('wasm');
  const registered = (): boolean =>
    NATIVE_WASM_KERNELS.filter((k) => k.kernelName.startsWith('Latephase')).every((k) => tf.getKernel(k.kernelName, 'wasm'));
  const none = (): boolean =>
    NATIVE_WASM_KERNELS.filter((k) => k.kernelName.startsWith('Latephase')).every((k) => !tf.getKernel(k.kernelName, 'wasm'));
  const failing = (): Error => new Error('onnxruntime-node failed to load (test)');
  try {
    assert.match(useConvolutionEngine('xnnpack'), /XNNPACK \(forced\)/);
    assert.ok(none() && !nativeKernelsInUse(), 'forced XNNPACK: no native kernel registered');
    if (native instanceof Error) {
      assert.match(useConvolutionEngine('auto', undefined, failing), /XNNPACK \(onnxruntime unavailable: .*; native kernels: /);
      assert.ok(none() && !nativeKernelsInUse());
    } else {
      // the native convolutions need no onnxruntime: a failing one changes nothing
      assert.match(useConvolutionEngine('auto', 1, failing), /on native kernels \(1 thread; built here, -march=native\)/);
      assert.ok(registered() && nativeKernelsInUse(), 'native: every native kernel registered');
      process.env['LATEPHASE_NATIVE'] = 'off';
      try {
        assert.match(useConvolutionEngine('auto', undefined, failing), /XNNPACK \(onnxruntime unavailable: .*native kernels: turned off/);
        assert.ok(none() && !nativeKernelsInUse(), 'no native module: none of its kernels stays registered');
      } finally {
        delete process.env['LATEPHASE_NATIVE'];
      }
    }
  } finally {
    nativeKernels(true);
    useConvolutionEngine();
  }
});

const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

test('native kernels give the same bits on 1, 2 and 3 threads (every kernel, inputs split into several tasks)', { skip }, () => {
  if (native instanceof Error) throw native;
  const before = kernelThreads();
  try {
    assert.equal(useKernelThreads(1), 1);
    const one = everyKernelOnce();
    for (const threads of [2, 3]) {
      assert.equal(useKernelThreads(threads), threads);
      everyKernelOnce().forEach((got, i) => assert.deepEqual(bits(got), bits(one[i]!), `${threads} threads: output ${i}`));
    }
  } finally {
    useKernelThreads(before);
  }
  assert.throws(() => (native as unknown as { setThreads(n: unknown): number }).setThreads(0), /setThreads: expected a thread count >= 1/);
});

test('training with the native kernels on 2 threads: the same weights, bit for bit, as on 1', { skip }, async () => {
  await useBackend('wasm');
  const before = kernelThreads();
  try {
    assert.match(useConvolutionEngine('onnxruntime', 1), /on native kernels \(1 thread; built here, -march=native\)/);
    const one = trainedWeights(5);
    assert.match(useConvolutionEngine('onnxruntime', 2), /on native kernels \(2 threads; built here, -march=native\)/);
    trainedWeights(5).forEach((w, i) => assert.deepEqual(bits(w), bits(one[i]!), `parameter ${i}`));
  } finally {
    useKernelThreads(before);
  }
});

test('LATEPHASE_THREADS: a count from 1 to 64, else a named error (also from backend selection); unset: every core', async () => {
  assert.equal(defaultKernelThreads('3'), 3);
  assert.equal(defaultKernelThreads(undefined), availableCores());
  assert.equal(defaultKernelThreads(' '), availableCores());
  for (const bad of ['0', '-2', '1.5', 'many', '65'])
    assert.throws(() => defaultKernelThreads(bad), /LATEPHASE_THREADS must be a whole number from 1 to 64/);
  // through the environment, a bad value stops backend selection instead of skipping wasm for cpu
  process.env['LATEPHASE_THREADS'] = 'many';
  try {
    await assert.rejects(selectBackend(), (e: Error) => e instanceof ConfigError && /LATEPHASE_THREADS/.test(e.message));
  } finally {
    delete process.env['LATEPHASE_THREADS'];
  }
});

test('native ReLU and addition equal the cpu backend exactly (NaN kept, broadcasting and int32 left to the stock kernels)', { skip }, async () => {
  const step = (): Float32Array[] => {
    const x = tf.tidy(() => tf.concat([seededTensor([1000], 71), tf.tensor1d([NaN, -0, 0, Infinity, -Infinity])]));
    const y = seededTensor([1005], 72);
    const outs = [
      tf.relu(x),
      tf.add(x, y),
      tf.add(seededTensor([4, 3], 73), seededTensor([3], 74)), // broadcast: the stock kernel
      tf.cast(tf.add(tf.tensor1d([1, 2, 3], 'int32'), tf.tensor1d([4, 5, 6], 'int32')), 'float32'),
    ];
    const values = outs.map((t) => t.dataSync() as Float32Array);
    tf.dispose([x, y, ...outs]);
    return values;
  };
  const { want, got, kernels } = await cpuThenWasm(step);
  assert.ok(kernels.has(tf.Relu) && kernels.has(tf.Add));
  for (const name of [tf.Relu, tf.Add])
    assert.notEqual(tf.getKernel(name, 'wasm')?.kernelFunc, stockKernel(name)?.kernelFunc, `${name}: the native kernel is registered`);
  assert.ok(Number.isNaN(got[0]![1000]!), 'ReLU keeps a NaN');
  // -0 vs +0 aside (equal as numbers), every value as the cpu backend computes it
  got.forEach((g, i) =>
    assert.deepEqual(
      Array.from(g, (v) => v + 0),
      Array.from(want[i]!, (v) => v + 0),
      `output ${i}`,
    ),
  );
});

test('the native module is refused, with the reason, when built for another CPU or turned off; the backend falls back', { skip }, async () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const info = (require(path.join(__dirname, '..', '..', 'native', 'build.js')) as { INFO_FILE: string }).INFO_FILE;
  const original = fs.readFileSync(info, 'utf8');
  try {
    fs.writeFileSync(info, JSON.stringify({ ...JSON.parse(original), cpuKey: 'another-cpu' }));
    const other = nativeKernels(true);
    if (fs.existsSync(prebuiltDir)) {
      // a local build for another CPU gives way to the prebuilt binary of this CPU's best level
      assert.ok(!(other instanceof Error), String(other));
      assert.match(String(nativeModuleSource()), /^prebuilt x86-64-v[234]$/);
    } else {
      assert.ok(
        other instanceof Error && /the local build is for another CPU; no prebuilt binary for .*npx latephase build-native/.test(other.message),
        String(other),
      );
      await useBackend('wasm');
      assert.match(useConvolutionEngine('onnxruntime'), /onnxruntime CPU \(1 thread; native kernels: not built: the local build is for another CPU/);
    }
  } finally {
    fs.writeFileSync(info, original);
  }
  process.env['LATEPHASE_NATIVE'] = 'off';
  try {
    assert.match(String(nativeKernels(true)), /turned off by LATEPHASE_NATIVE/);
  } finally {
    delete process.env['LATEPHASE_NATIVE'];
  }
  process.env['LATEPHASE_NATIVE_ISA'] = 'v9';
  try {
    assert.match(String(nativeKernels(true)), /LATEPHASE_NATIVE_ISA=v9 is not a level \(v2, v3, v4\)/);
  } finally {
    delete process.env['LATEPHASE_NATIVE_ISA'];
  }
  assert.ok(!(nativeKernels(true) instanceof Error));
  assert.equal(nativeModuleSource(), 'built here, -march=native');
  assert.match(useConvolutionEngine('onnxruntime'), /on native kernels/);
});
