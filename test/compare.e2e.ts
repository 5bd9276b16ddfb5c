/**
 * `latephase compare`: every variant over two seeds as separate runs (two at a time), the table
 * as markdown, JSON and SVG; a second call finds every run finished and runs nothing; the deep
 * ensemble row is the mean softmax of K base models; bad variants are named.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCli, TINY_SETS, writeNpy } from './helpers';
import { loadMnist } from '../src/data/mnist';
import type { CompareTable } from '../job/compareJob';

const SETS = TINY_SETS;

test('compare: five variants x two seeds, a table in three forms, finished runs skipped', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-compare-'));
  const args = ['compare', 'mnist-cnn', '--seeds', '0,1', '--jobs', '2', '--out', dir, ...SETS.flatMap((s) => ['--set', s])];
  const first = runCli(args, {}, 600_000);
  assert.equal(first.code, 0, first.stdout + first.stderr);
  assert.match(first.stdout, /compare: 12 runs, 0 finished already, 12 to run, 2 at a time/);
  const table = JSON.parse(fs.readFileSync(path.join(dir, 'compare.json'), 'utf8')) as CompareTable;
  assert.deepEqual(
    table.rows.map((r) => [r.variant, r.seeds]),
    [
      ['base', 2],
      ['late', 2],
      ['swa', 2],
      ['late+swa', 2],
      ['ensemble', 2],
    ],
  );
  const base = table.rows[0]!;
  assert.equal(base.folded.accuracy!.mean, base.ensemble.accuracy!.mean, 'a plain model is its own ensemble');
  assert.equal(table.rows[4]!.folded.accuracy, null, 'the deep ensemble has no folded model');
  assert.ok(table.rows.every((r) => r.ensemble.accuracy!.mean > 0.3 && r.trainingSeconds!.mean > 0));
  const md = fs.readFileSync(path.join(dir, 'compare.md'), 'utf8');
  assert.match(md, /\| late\+swa \| \d+\.\d\d \+- \d+\.\d\d \[-?\d+\.\d\d, -?\d+\.\d\d\] \|/, 'mean +- std [95% interval]');
  // paired differences to base (2 seeds: t with 1 degree of freedom), and a plain reading of them
  const lateRow = table.rows[1]!;
  const pairs = [0, 1].map((i) => {
    const seedRun = (variant: string): { folded: { accuracy: number } } =>
      JSON.parse(fs.readFileSync(path.join(dir, variant, `seed-${i}`, 'metrics.json'), 'utf8')) as { folded: { accuracy: number } };
    return seedRun('late').folded.accuracy - seedRun('base').folded.accuracy;
  });
  const meanDiff = (pairs[0]! + pairs[1]!) / 2;
  assert.ok(Math.abs(lateRow.vsBase!.folded.accuracy!.mean - meanDiff) < 1e-12, 'the mean of the per-seed differences');
  const half = (12.706 * Math.abs(pairs[0]! - pairs[1]!)) / Math.sqrt(2) / Math.sqrt(2);
  assert.ok(Math.abs(lateRow.vsBase!.folded.accuracy!.ci95![1] - (meanDiff + half)) < 1e-9, 'the t interval with 1 degree of freedom');
  assert.equal(table.rows[0]!.vsBase, undefined, 'base has no difference to itself');
  assert.match(md, /\| variant - base \| folded acc % \|/);
  assert.match(md, /\| late \| [+-]\d+\.\d\d \[/);
  assert.match(md, /(Differences the seeds support: |No difference to base clears zero at 95%: none is shown by these seeds\.)/);
  assert.match(md, /Of the \d+ differences with an interval, about \d+\.\d would clear zero by chance alone at 95%/, 'the multiplicity caveat');
  const svg = fs.readFileSync(path.join(dir, 'compare.svg'), 'utf8');
  for (const v of ['base', 'late', 'swa', 'late+swa', 'ensemble']) assert.ok(svg.includes(`>${v}<`), `the plot names ${v}`);
  const ensemblePoints = [...svg.matchAll(/aria-label="variant: ([^;]+);[^"]*model: ensemble \(mean softmax\)"/g)].map((m) => m[1]);
  assert.deepEqual([...new Set(ensemblePoints)], ['late', 'late+swa', 'ensemble'], 'an ensemble mark only where a variant has one');
  assert.match(svg, />ensemble \(mean softmax\)</, 'the legend label whole');
  assert.match(svg, /paired difference to base, same seeds/, 'a panel of the paired differences');
  assert.ok(fs.existsSync(path.join(dir, 'ensemble', 'seed-1', 'member-1', 'model.onnx')));
  const late = JSON.parse(fs.readFileSync(path.join(dir, 'late', 'seed-0', 'config.json'), 'utf8')) as {
    latePhase: { enabled: boolean };
    swa?: unknown;
  };
  const plain = JSON.parse(fs.readFileSync(path.join(dir, 'swa', 'seed-0', 'config.json'), 'utf8')) as {
    latePhase: { enabled: boolean };
    swa: { start: number };
  };
  assert.deepEqual([late.latePhase.enabled, late.swa, plain.latePhase.enabled, plain.swa.start], [true, undefined, false, 1]);

  const again = runCli(args, {}, 300_000);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /compare: 12 runs, 12 finished already, 0 to run/);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'compare.json'), 'utf8')), table, 'the same table from the same runs');
  const bad = runCli(['compare', 'mnist-cnn', '--variants', 'late,magic']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--variants: unknown magic; choose from base, late, swa, late\+swa, ensemble/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test("compare's deep ensemble views the data as training did: .npy images [N, 28, 28] for the flat-input MNIST CNN", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-compare-npy-'));
  const digits = loadMnist();
  // every 26th digit (the package's digits come sorted by class)
  const picks = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => (from + 26 * i) % digits.y.length);
  const rows = (at: number[]): Float32Array => Float32Array.from(at.flatMap((r) => Array.from(digits.x.subarray(r * 784, (r + 1) * 784))));
  const labels = (at: number[]): Int32Array => Int32Array.from(at, (r) => digits.y[r]!);
  const [train, test] = [picks(0, 384), picks(7, 200)];
  writeNpy(path.join(dir, 'train_x.npy'), rows(train), [384, 28, 28]);
  writeNpy(path.join(dir, 'train_y.npy'), labels(train), [384]);
  writeNpy(path.join(dir, 'test_x.npy'), rows(test), [200, 28, 28]);
  writeNpy(path.join(dir, 'test_y.npy'), labels(test), [200]);
  const data = {
    source: 'npy',
    train: { x: path.join(dir, 'train_x.npy'), y: path.join(dir, 'train_y.npy') },
    test: { x: path.join(dir, 'test_x.npy'), y: path.join(dir, 'test_y.npy') },
    scale: 1,
    classes: 10,
  };
  const sets = ['epochs=2', 'latePhase.t0=0', 'latePhase.k=2', 'batchSize=32', 'backend="wasm"', `data=${JSON.stringify(data)}`];
  const args = ['compare', 'mnist-cnn', '--seeds', '0', '--variants', 'base,ensemble', '--jobs', '2', '--out', path.join(dir, 'out')];
  const run = runCli([...args, ...sets.flatMap((s) => ['--set', s]), '--set', 'evaluation.ood={"source":"mnist"}'], {}, 300_000);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const table = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'compare.json'), 'utf8')) as CompareTable;
  const ensemble = table.rows.find((r) => r.variant === 'ensemble')!;
  assert.ok(ensemble.ensemble.accuracy!.mean > 0.6, `ensemble accuracy ${ensemble.ensemble.accuracy!.mean}`);
  assert.ok(ensemble.ensemble.oodAuroc!.mean > 0 && ensemble.ensemble.oodAuroc!.mean < 1);
  assert.ok(ensemble.ensemble.brier!.mean > 0 && ensemble.ensemble.brier!.mean < 1, 'the Brier score is in the table');
  assert.match(fs.readFileSync(path.join(dir, 'out', 'compare.md'), 'utf8'), /\| folded ECE \| folded Brier \| folded OOD AUROC \|/);
  fs.rmSync(dir, { recursive: true, force: true });
});
