/**
 * Evaluation of K members and of the implicit ensemble runs in memory that does not grow with K,
 * and repeated evaluations keep tensor counts and RSS flat.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { mnistCnn } from '../models/mnistCnn';
import { releaseMembers } from '../src/latephase/members';
import { evaluateMembers } from '../src/eval/ensemble';
import { Rng } from '../src/nn/rng';
import { useBackend } from './helpers';

before(async () => {
  await useBackend('wasm');
});

const data = (rows: number): { x: Float32Array; y: Int32Array; featureShape: number[]; classes: number } => ({
  x: new Rng(1).normalArray(rows * 784),
  y: Int32Array.from({ length: rows }, (_, i) => i % 10),
  featureShape: [784],
  classes: 10,
});

async function peakBytes(k: number): Promise<number> {
  const model = mnistCnn({ seed: 1, widths: [8, 16] });
  releaseMembers(model, k, 0.1, 2);
  const d = data(200);
  const info = await tf.profile(() => {
    evaluateMembers(model, d);
  });
  model.dispose();
  return info.peakBytes;
}

test('evaluating K members and their ensemble takes memory independent of K', async () => {
  const [small, large] = [await peakBytes(2), await peakBytes(16)];
  assert.ok(large < small * 1.25, `peak ${small} bytes at K=2, ${large} at K=16`);
});

test('repeated evaluations keep tensor counts and RSS flat', () => {
  const model = mnistCnn({ seed: 1, widths: [8, 16] });
  releaseMembers(model, 8, 0.1, 2);
  const d = data(500);
  for (let i = 0; i < 3; i++) evaluateMembers(model, d); // warm-up: the wasm heap grows to its working size
  const tensors = tf.memory().numTensors;
  // Two windows of 8 evaluations: a leak grows RSS in both, a late garbage collection (a loaded
  // machine) in one at most. One evaluation's host copies are ~20 MB; a per-member leak would add that much per member.
  const grown: number[] = [];
  for (let w = 0; w < 2; w++) {
    const rss = process.memoryUsage().rss;
    for (let i = 0; i < 8; i++) evaluateMembers(model, d);
    grown.push(process.memoryUsage().rss - rss);
  }
  assert.equal(tf.memory().numTensors, tensors);
  assert.ok(
    Math.min(...grown) < 48 * 2 ** 20,
    `RSS grew by ${grown.map((g) => (g / 2 ** 20).toFixed(1)).join(' and ')} MB over two windows of 8 evaluations`,
  );
  model.dispose();
});
