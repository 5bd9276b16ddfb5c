/**
 * `workers: auto` by measurement (job/parallelLayout.ts): both layouts timed on a fresh copy of the
 * model, the faster kept and remembered in the cache (a second call measures nothing), and
 * LATEPHASE_LAYOUT=workers|kernels skipping the measurement (anything else a ConfigError).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chooseParallelLayout } from '../job/parallelLayout';
import { DEFAULT_TRAIN_CONFIG } from '../job/runPlan';
import { Rng } from '../src/nn/rng';
import { kernelThreads, useKernelThreads } from '../src/backend/kernelThreads';
import { useBackend } from './helpers';

before(async () => {
  await useBackend('wasm');
});

const recipe = { module: require.resolve('../models/mlp'), exportName: 'mlp', args: [{ inputs: 6, hidden: [8], classes: 3, seed: 4 }] };
const rng = new Rng(5);
const data = { x: rng.normalArray(192 * 6), y: Int32Array.from({ length: 192 }, (_, i) => i % 3), featureShape: [6], classes: 3 };
const signature = ['fc1.weight [6, 8]'];
const train = { ...DEFAULT_TRAIN_CONFIG, epochs: 1, t0: 1, k: 1, batchSize: 32, ghostBatches: 2 };

test('measured once, then remembered; the kernel threads follow the layout chosen', async () => {
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-layout-'));
  const saved = process.env['XDG_CACHE_HOME'];
  process.env['XDG_CACHE_HOME'] = cache;
  try {
    const first = await chooseParallelLayout(recipe, signature, data, train, 1, 2);
    assert.match(first.how, /^(workers|kernel threads) \(auto, measured: [\d.]+ ms a step with 1 worker, [\d.]+ ms on 2 kernel threads\)$/);
    assert.equal(kernelThreads(), first.workers > 0 ? 1 : 2);
    const second = await chooseParallelLayout(recipe, signature, data, train, 1, 2);
    assert.equal(second.how, first.how.replace('measured', 'remembered'));
    assert.equal(second.workers, first.workers);
    assert.ok(fs.existsSync(path.join(cache, 'latephase', 'layouts.json')));
  } finally {
    if (saved === undefined) delete process.env['XDG_CACHE_HOME'];
    else process.env['XDG_CACHE_HOME'] = saved;
    useKernelThreads(1);
  }
});

test('LATEPHASE_LAYOUT forces a layout without measuring; an unknown value is a ConfigError', async () => {
  try {
    process.env['LATEPHASE_LAYOUT'] = 'kernels';
    assert.deepEqual(await chooseParallelLayout(recipe, signature, data, train, 1, 2), { workers: 0, how: 'kernel threads (LATEPHASE_LAYOUT)' });
    process.env['LATEPHASE_LAYOUT'] = 'workers';
    assert.deepEqual(await chooseParallelLayout(recipe, signature, data, train, 1, 2), { workers: 1, how: 'workers (LATEPHASE_LAYOUT)' });
    process.env['LATEPHASE_LAYOUT'] = 'fastest';
    await assert.rejects(
      chooseParallelLayout(recipe, signature, data, train, 1, 2),
      /LATEPHASE_LAYOUT must be measure, workers or kernels, got 'fastest'/,
    );
  } finally {
    delete process.env['LATEPHASE_LAYOUT'];
    useKernelThreads(1);
  }
});
