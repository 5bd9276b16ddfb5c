/** Shared test helpers: backend set-up, seeded tensors and finite-difference gradient checks. */
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { selectBackend } from '../src/backend/selectBackend';
import { Rng } from '../src/nn/rng';

export async function useBackend(name: 'wasm' | 'cpu'): Promise<void> {
  await selectBackend(name);
}

export function seededTensor(shape: number[], seed: number, scale = 1): tf.Tensor {
  const rng = new Rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(rng.normalArray(size, scale), shape);
}

export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

export function maxAbs(a: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(a)).dataSync()[0]!);
}

/**
 * Directional finite-difference check: for a random direction v over all `vars`,
 * (f(w + eps v) - f(w - eps v)) / 2 eps must match <grad f, v>. float32 has no room for tiny eps,
 * so eps is 1e-2 on smooth test functions and the tolerance is relative.
 */
export function checkGradients(
  f: () => tf.Scalar,
  vars: tf.Variable[],
  seed: number,
  eps = 1e-2,
): { analytic: number; numeric: number; relErr: number } {
  const { grads } = tf.variableGrads(f, vars);
  const rng = new Rng(seed);
  const dirs = vars.map((v) => tf.tensor(rng.normalArray(v.size), v.shape));
  const analytic = tf.tidy(() => tf.addN(vars.map((v, i) => tf.sum(tf.mul(grads[v.name]!, dirs[i]!)))).dataSync()[0]!);
  const originals = vars.map((v) => v.clone());
  const evalAt = (sign: number): number => {
    vars.forEach((v, i) => v.assign(tf.tidy(() => tf.add(originals[i]!, tf.mul(dirs[i]!, sign * eps)))));
    return tf.tidy(() => f().dataSync()[0]!);
  };
  const numeric = (evalAt(1) - evalAt(-1)) / (2 * eps);
  vars.forEach((v, i) => v.assign(originals[i]!));
  tf.dispose([...originals, ...dirs, ...Object.values(grads)]);
  return { analytic, numeric, relErr: Math.abs(analytic - numeric) / Math.max(Math.abs(numeric), 1e-3) };
}

/** The built command line (dist/cli/main.js). */
export const CLI = path.join(__dirname, '..', 'cli', 'main.js');

export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The tiny job as config overrides (`--set`) of the mnist-cnn preset, for `train` and `compare` runs. */
export const TINY_SETS: readonly string[] = [
  'data.trainSize=128',
  'data.testSize=500',
  'epochs=2',
  'latePhase.t0=1',
  'latePhase.k=2',
  'batchSize=32',
  'backend="wasm"',
];

/** `latephase run` on 128 digits (evaluated on 500), 2 epochs, K = 2 from epoch 2, one thread: a complete run in seconds. */
export const TINY: readonly string[] = [
  'run',
  '--epochs',
  '2',
  '--t0',
  '1',
  '--k',
  '2',
  '--train-size',
  '128',
  '--test-size',
  '500',
  '--batch-size',
  '32',
  '--workers',
  '0',
  '--quiet',
  '--backend',
  'wasm',
];

/** Run `latephase <args>` in a child process (two minutes at most unless `timeout` says more). */
export function runCli(args: readonly string[], env: Record<string, string> = {}, timeout = 120_000): CliRun {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** An IDX file of unsigned bytes: the header (dimensions, big-endian) and the data. */
export function idxFile(dims: readonly number[], data: ArrayLike<number>): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(Array.from(data))]);
}

/**
 * The command line in this process (cli/main.ts's `main`), its console output captured: for
 * argument and input errors, which need no process of their own (a spawned CLI costs a second).
 */
export async function runMain(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { main } = await import('../cli/main');
  const [log, error] = [console.log, console.error];
  let [stdout, stderr] = ['', ''];
  console.log = (...a: unknown[]): void => void (stdout += `${a.join(' ')}\n`);
  console.error = (...a: unknown[]): void => void (stderr += `${a.join(' ')}\n`);
  try {
    return { code: await main(args), stdout, stderr };
  } finally {
    [console.log, console.error] = [log, error];
  }
}

/** The first output of `bytes` under onnxruntime for a seeded input of `dims` (batch first). */
export async function ortOutput(bytes: Uint8Array, dims: readonly number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const size = dims.reduce((a, b) => a * b, 1);
    const x = Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.37) + 0.1 * Math.cos(i));
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, [...dims]) });
    return out[session.outputNames[0]!]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

/** The largest absolute difference between two arrays of one length. */
export const largestDifference = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

/** An .npy file of float32 or int32 values (NumPy's format, version 1). */
export function writeNpy(file: string, values: Float32Array | Int32Array, shape: readonly number[]): void {
  let header = `{'descr': '<${values instanceof Float32Array ? 'f4' : 'i4'}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  while ((10 + header.length + 1) % 64) header += ' ';
  const prefix = Buffer.alloc(10);
  prefix.write('\x93NUMPY', 0, 'latin1');
  prefix[6] = 1;
  prefix.writeUInt16LE(header.length + 1, 8);
  fs.writeFileSync(
    file,
    Buffer.concat([prefix, Buffer.from(`${header}\n`, 'latin1'), Buffer.from(values.buffer, values.byteOffset, values.byteLength)]),
  );
}
