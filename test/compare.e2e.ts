/**
 * `latephase compare`: every variant over two seeds as separate runs (two at a time), the table
 * as markdown, JSON and SVG; a second call finds every run finished and runs nothing; the deep
 * ensemble row is the mean softmax of K base models, and reads .npy image rows as training views
 * them (in process, on the finished members); bad variants are named.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCli, TINY_SETS, writeNpy } from './helpers';
import { deepEnsemble } from '../job/compareJob';
import type { CompareTable } from '../job/compareJob';
import { planRun } from '../job/runPlan';
import { resolveConfig } from '../src/config/resolve';
import { JobConfigInput } from '../src/config/schema';
import { loadJobData } from '../src/config/dataSource';
import { exampleCount, featureRows, rowRange } from '../src/data/dataset';

const SETS = TINY_SETS;

test('compare: five variants x two seeds, a table in three forms, finished runs skipped', async () => {
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

  await deepEnsembleOnImageRows(path.join(dir, 'ensemble', 'seed-0'));
  assert.match(md, /\| folded ECE \| folded Brier \| folded OOD AUROC \|/, 'the Brier score is in the table');
  assert.ok(table.rows.every((r) => r.ensemble.brier!.mean > 0 && r.ensemble.brier!.mean < 1));

  const again = runCli(args, {}, 300_000);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /compare: 12 runs, 12 finished already, 0 to run/);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'compare.json'), 'utf8')), table, 'the same table from the same runs');
  const bad = runCli(['compare', 'mnist-cnn', '--variants', 'late,magic']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--variants: unknown magic; choose from base, late, swa, late\+swa, ensemble/);
  fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * The deep ensemble of finished member bundles (flat-input MNIST CNNs), evaluated in process on the
 * held-out digits as the config loads them and again from .npy images [N, 28, 28] of the same digits:
 * the images are viewed as training views them, so the metrics agree exactly (they failed with
 * onnxruntime's "Invalid rank" before).
 */
async function deepEnsembleOnImageRows(seedDir: string): Promise<void> {
  const members = fs
    .readdirSync(seedDir)
    .filter((m) => m.startsWith('member-'))
    .map((m) => path.join(seedDir, m));
  const config = JSON.parse(fs.readFileSync(path.join(members[0]!, 'config.json'), 'utf8')) as JobConfigInput;
  const withOod = { ...config, evaluation: { ood: { source: 'mnist' as const } } };
  const flat = await deepEnsemble(members, planRun(resolveConfig(withOod, 'flat rows')));
  const digits = (await loadJobData(planRun(resolveConfig(config, 'digits')).data)).test;
  const n = exampleCount(digits);
  const files = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-compare-npy-'));
  const at = (name: string): string => path.join(files, name);
  writeNpy(at('x.npy'), featureRows(digits, rowRange(0, n)), [n, 28, 28]);
  writeNpy(at('y.npy'), Int32Array.from(digits.y), [n]);
  const npy = { source: 'npy' as const, train: { x: at('x.npy'), y: at('y.npy') }, test: { x: at('x.npy'), y: at('y.npy') }, scale: 1, classes: 10 };
  const images = await deepEnsemble(members, planRun(resolveConfig({ ...withOod, data: npy }, 'image rows')));
  assert.deepEqual(images.ensemble, flat.ensemble, 'the same metrics from image-shaped rows');
  assert.equal(images.oodEnsemble, flat.oodEnsemble);
  assert.ok(flat.oodEnsemble! > 0 && flat.oodEnsemble! < 1 && flat.ensemble.accuracy > 0.3);
  fs.rmSync(files, { recursive: true, force: true });
}
