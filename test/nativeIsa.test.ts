/**
 * The prebuilt native kernels, one binary per x86-64 level (v2: SSE4.2, v3: AVX2 + FMA, v4:
 * AVX-512), chosen at load by the CPU's flags: the level detection from /proc/cpuinfo flag lists,
 * and, for every level this CPU runs, the same training run in a child process forced to that
 * level (LATEPHASE_NATIVE_ISA). The kernels use fixed 16-float vectors and the same fused
 * multiply-adds on v3 and v4, so those two train the same bits; v2 has no FMA, so it rounds
 * differently: within float tolerance. Needs the prebuilt binaries (`node native/build.js
 * --prebuild`, which `npm pack` and so .ci/run make); skipped without them unless
 * LATEPHASE_REQUIRE_NATIVE=1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

interface BuildScript {
  supportedLevels(flags?: string[]): string[];
  prebuiltFile(level: string): string;
  LEVEL_ORDER: string[];
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const build = require(path.join(__dirname, '..', '..', 'native', 'build.js')) as BuildScript;
const levels = build.supportedLevels();
const missing = levels.filter((l) => !fs.existsSync(build.prebuiltFile(l)));
const skip =
  process.arch !== 'x64'
    ? 'prebuilt binaries are x64 only'
    : missing.length && process.env['LATEPHASE_REQUIRE_NATIVE'] !== '1'
      ? `no prebuilt ${missing.join(', ')} binaries (node native/build.js --prebuild)`
      : false;

test('x86-64 levels from the CPU flags: each level needs all of its flags and the ones below', { skip: process.arch !== 'x64' && 'x64 only' }, () => {
  const v2 = ['cx16', 'lahf_lm', 'popcnt', 'sse4_1', 'sse4_2', 'ssse3'];
  const v3 = [...v2, 'avx', 'avx2', 'bmi1', 'bmi2', 'f16c', 'fma', 'movbe'];
  const v4 = [...v3, 'avx512f', 'avx512bw', 'avx512cd', 'avx512dq', 'avx512vl'];
  assert.deepEqual(build.supportedLevels(['sse2', 'sse3']), [], 'a baseline x86-64 CPU (no SSE4.2)');
  assert.deepEqual(build.supportedLevels(v2), ['v2'], 'Nehalem');
  assert.deepEqual(build.supportedLevels(v3), ['v2', 'v3'], 'Haswell');
  assert.deepEqual(build.supportedLevels(v4), ['v2', 'v3', 'v4'], 'Skylake-X');
  assert.deepEqual(build.supportedLevels([...v3.filter((f) => f !== 'sse4_2'), 'avx512f']), [], 'a level is not skipped over');
});

/** In a child forced to `level`: mnist-cnn trained 2 epochs (late phase from epoch 2) on 192 seeded rows; every tensor's bytes. */
function trainAt(level: string): { source: string; values: Float32Array } {
  const dist = path.join(__dirname, '..');
  const script = `
const tf = require('@tensorflow/tfjs-core');
const { selectBackend } = require(${JSON.stringify(path.join(dist, 'src/backend/selectBackend'))});
const { nativeModuleSource } = require(${JSON.stringify(path.join(dist, 'src/backend/nativeKernels'))});
const { buildModel } = require(${JSON.stringify(path.join(dist, 'models/index'))});
const { trainLatePhase } = require(${JSON.stringify(path.join(dist, 'src/train/trainer'))});
const { DEFAULT_TRAIN_CONFIG } = require(${JSON.stringify(path.join(dist, 'job/runPlan'))});
const { Rng } = require(${JSON.stringify(path.join(dist, 'src/nn/rng'))});
(async () => {
  await selectBackend('wasm');
  const rng = new Rng(7);
  const n = 192;
  const data = { x: Float32Array.from({ length: n * 784 }, () => rng.next()), y: Int32Array.from({ length: n }, (_, i) => i % 10), featureShape: [784], classes: 10 };
  const model = buildModel('mnist-cnn', { seed: 3 });
  await trainLatePhase(model, data, { ...DEFAULT_TRAIN_CONFIG, epochs: 2, t0: 1, k: 2, batchSize: 64 });
  const values = [...model.params(), ...model.net.state()].flatMap((p) => Array.from(p.variable.dataSync()));
  process.stdout.write(JSON.stringify({ source: nativeModuleSource(), values: Buffer.from(Float32Array.from(values).buffer).toString('base64') }));
})();`;
  const r = spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    env: { ...process.env, LATEPHASE_NATIVE_ISA: level, LATEPHASE_BACKEND: 'wasm' },
    cwd: path.join(dist, '..'),
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { source: string; values: string };
  const bytes = Buffer.from(out.values, 'base64');
  return { source: out.source, values: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4) };
}

test('the loader reads the level from CPUID through the baseline binary: it agrees with /proc/cpuinfo here', { skip }, () => {
  const dist = path.join(__dirname, '..');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { nativeCpuLevels } = require(path.join(dist, 'src/backend/nativeKernels')) as { nativeCpuLevels(): string[] };
  assert.deepEqual(nativeCpuLevels(), levels);
});

test('every level this CPU runs trains: v3 and v4 the same bits, v2 (no FMA) within float tolerance', { skip }, () => {
  const runs = new Map(levels.map((level) => [level, trainAt(level)]));
  for (const [level, run] of runs) assert.equal(run.source, `prebuilt x86-64-${level}, forced`);
  const [v2, v3, v4] = [runs.get('v2'), runs.get('v3'), runs.get('v4')];
  if (v3 && v4) assert.ok(Buffer.from(v3.values.buffer).equals(Buffer.from(v4.values.buffer)), 'v3 and v4 differ');
  if (v2 && v3) {
    let worst = 0;
    v2.values.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - v3.values[i]!) / (1 + Math.abs(v3.values[i]!)))));
    assert.ok(worst < 1e-4, `v2 and v3 differ by ${worst}`);
  }
});
