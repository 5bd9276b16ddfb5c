/**
 * `latephase compare <config> --seeds 0,1,2 --variants base,late,swa,late+swa,ensemble`: every
 * variant of one config trained with the same seeds and budget, each run a separate process in its
 * own output folder (a finished run is skipped; an interrupted one continues from its progress,
 * because a run of the same config into the same folder resumes), then one table: mean +- std
 * over seeds of accuracy, NLL, ECE, Brier and OOD AUROC for the folded model and the implicit ensemble,
 * and training time, as markdown, JSON and an SVG plot.
 *   base      the config without late-phase weights (plain training, no SWA)
 *   late      the config as given (late phase), no SWA
 *   swa       base with SWA (the config's swa.start, else from t0)
 *   late+swa  late with SWA
 *   ensemble  K independently trained base models, mean softmax (the paper's upper reference)
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { ConfigError } from '../src/errors';
import { resolveConfig } from '../src/config/resolve';
import { JobConfig, JobConfigInput } from '../src/config/schema';
import { dataForModel, JobData, loadJobData } from '../src/config/dataSource';
import { Examples, exampleCount, featureRows, rowRange } from '../src/data/dataset';
import { clearOfZero, pairedDifference, summarize, Summary } from '../src/eval/intervals';
import { auroc, ClassMetrics, classMetrics, entropy } from '../src/eval/metrics';
import { writeFileAtomic } from '../src/io/atomicWrite';
import { onnxDims, toOnnxInput } from '../export/onnx/layout';
import { Manifest } from '../export/bundle/bundle';
import { CONFIG_FILE, MANIFEST_FILE, METRICS_FILE, METRICS_LOG_FILE, MODEL_FILE } from '../export/bundle/layout';
import { JobMetrics } from './finishRun';
import type { TopLevelSpec } from 'vega-lite';
import { svg } from './plots';
import { planRun, RunPlan } from './runPlan';

export const VARIANTS = ['base', 'late', 'swa', 'late+swa', 'ensemble'] as const;
type Variant = (typeof VARIANTS)[number];

interface CompareOptions {
  readonly seeds: readonly number[];
  readonly variants: readonly Variant[];
  /** Runs at once (separate processes). */
  readonly jobs: number;
  readonly out: string;
  /** The `latephase` entry point the runs are started with. */
  readonly cli: string;
  readonly log?: (line: string) => void;
}

export interface Run {
  readonly variant: Variant;
  readonly seed: number;
  readonly dir: string;
  readonly config: JobConfig;
}

export function parseVariants(raw: string): Variant[] {
  const list = raw.split(',').map((v) => v.trim());
  const bad = list.filter((v) => !(VARIANTS as readonly string[]).includes(v));
  if (bad.length || !list.length) throw new ConfigError(`--variants: unknown ${bad.join(', ') || '(empty)'}; choose from ${VARIANTS.join(', ')}`);
  return list as Variant[];
}

/** `{seed}` in model.init's path: each compared seed fine-tunes its own pretrained network (its ensemble members too). */
function initForSeed(model: JobConfig['model'], seed: number): JobConfig['model'] {
  const init = model.init;
  if (init === undefined) return model;
  const at = (from: string): string => from.split('{seed}').join(String(seed));
  return { ...model, init: typeof init === 'string' ? at(init) : { ...init, from: at(init.from) } };
}

/**
 * The config of one variant and seed (plain JSON input; the output folder set). `seed` trains the
 * run; `comparedSeed` (the row's seed, which differs for ensemble members) picks its pretrained start.
 */
function variantInput(
  base: JobConfigInput,
  variant: Exclude<Variant, 'ensemble'>,
  seed: number,
  dir: string,
  workers: number | 'auto',
  comparedSeed = seed,
): JobConfigInput {
  const cfg = resolveConfig(base, 'the compared config');
  const late = variant === 'late' || variant === 'late+swa';
  const swa = variant === 'swa' || variant === 'late+swa' ? { start: cfg.swa?.start ?? Math.min(cfg.latePhase.t0, cfg.epochs - 1) } : undefined;
  const input: Record<string, unknown> = {
    ...cfg,
    name: `${cfg.name}-${variant}-seed${seed}`,
    seed,
    model: initForSeed(cfg.model, comparedSeed),
    latePhase: { ...cfg.latePhase, enabled: late && cfg.latePhase.enabled },
    output: dir,
    workers,
  };
  if (swa) input['swa'] = swa;
  else delete input['swa'];
  return input as JobConfigInput;
}

export function plannedRuns(base: JobConfigInput, opts: CompareOptions): Run[] {
  const workers = opts.jobs > 1 ? 0 : 'auto'; // parallel processes already fill the cores
  const k = resolveConfig(base, 'the compared config').latePhase.k;
  return opts.variants.flatMap((variant) =>
    opts.seeds.flatMap((seed): Run[] => {
      const at = path.join(opts.out, variant.replace('+', '-'), `seed-${seed}`);
      if (variant !== 'ensemble') return [{ variant, seed, dir: at, config: resolveConfig(variantInput(base, variant, seed, at, workers), variant) }];
      // K base models with seeds of their own, disjoint from the compared seeds.
      return Array.from({ length: k }, (_, m) => {
        const dir = path.join(at, `member-${m}`);
        return {
          variant,
          seed,
          dir,
          config: resolveConfig(variantInput(base, 'base', 1000 * (seed + 1) + m, dir, workers, seed), 'ensemble member'),
        };
      });
    }),
  );
}

/** A run is done when its bundle exists with exactly this config. */
export function isFinished(run: Run): boolean {
  const file = path.join(run.dir, CONFIG_FILE);
  if (!fs.existsSync(path.join(run.dir, MANIFEST_FILE)) || !fs.existsSync(file)) return false;
  return fs.readFileSync(file, 'utf8').trim() === JSON.stringify(run.config, null, 2);
}

/** `env`: the child's environment (runAll gives parallel runs one native kernel thread each). */
export function executeRun(run: Run, cli: string, configDir: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const file = path.join(configDir, `${path.relative(path.dirname(configDir), run.dir).replace(/[\\/]/g, '_')}.json`);
  writeFileAtomic(file, `${JSON.stringify(run.config, null, 2)}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'train', file, '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.resume();
    child.on('exit', (code, signal) =>
      code === 0
        ? resolve()
        : reject(new Error(`run ${run.dir} ended with ${signal ?? `exit ${code}`}: ${err.trim().split('\n').slice(-2).join(' ')}`)),
    );
  });
}

/** Run what is not finished, `jobs` at a time; a failed run stops the compare after the others finish. */
async function runAll(runs: readonly Run[], opts: CompareOptions): Promise<void> {
  const log = opts.log ?? console.log;
  const todo = runs.filter((r) => !isFinished(r));
  log(`compare: ${runs.length} runs, ${runs.length - todo.length} finished already, ${todo.length} to run, ${opts.jobs} at a time`);
  const configDir = path.join(opts.out, 'configs');
  const failures: Error[] = [];
  // parallel runs already fill the cores: one native kernel thread each, unless the user chose
  const env = opts.jobs > 1 ? { ...process.env, LATEPHASE_THREADS: process.env['LATEPHASE_THREADS'] ?? '1' } : process.env;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < todo.length) {
      const run = todo[next++]!;
      const t = Date.now();
      try {
        await executeRun(run, opts.cli, configDir, env);
        log(`compare: ${run.variant} seed ${run.seed} -> ${run.dir} (${((Date.now() - t) / 1000).toFixed(0)} s)`);
      } catch (err) {
        failures.push(err as Error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.jobs) }, worker));
  if (failures.length)
    throw new ConfigError(
      `compare: ${failures.length} run(s) failed; rerun to retry them (finished runs are kept):\n  ${failures.map((f) => f.message).join('\n  ')}`,
    );
}

export interface Measured {
  readonly folded?: ClassMetrics;
  readonly ensemble: ClassMetrics;
  readonly oodFolded?: number;
  readonly oodEnsemble?: number;
  readonly seconds: number;
}

const trainingSeconds = (dir: string): number => {
  const lines = fs.readFileSync(path.join(dir, METRICS_LOG_FILE), 'utf8').trim().split('\n');
  return (JSON.parse(lines[lines.length - 1]!) as { seconds?: number }).seconds ?? 0;
};

function measured(dir: string): Measured {
  const m = JSON.parse(fs.readFileSync(path.join(dir, METRICS_FILE), 'utf8')) as JobMetrics;
  return { folded: m.folded, ensemble: m.ensemble, oodFolded: m.ood?.folded, oodEnsemble: m.ood?.ensemble, seconds: trainingSeconds(dir) };
}

/** Softmax outputs of a bundle's model.onnx on `data`, its input and output found by the manifest's roles. */
async function bundleProbabilities(dir: string, data: Examples): Promise<Float32Array> {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST_FILE), 'utf8')) as Manifest;
  const output = manifest.outputs.find((o) => o.role === 'probabilities');
  if (!output) throw new ConfigError(`bundle ${dir} has no probabilities output`);
  const session = await ort.InferenceSession.create(path.join(dir, MODEL_FILE));
  try {
    const n = exampleCount(data);
    const x = new ort.Tensor('float32', toOnnxInput(featureRows(data, rowRange(0, n)), n, data.featureShape), [n, ...onnxDims(data.featureShape)]);
    const out = await session.run({ [manifest.inputs[0]!.name]: x });
    return out[output.name]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

/**
 * A bundle's per-example input shape in the toolkit's terms (an ONNX image input is [C, H, W], ours
 * [H, W, C]), so held-out data loaded from the config is viewed the way training viewed it (a flat
 * MNIST model on .npy images [28, 28, 1], through `dataForModel`'s rules).
 */
function bundleModel(dir: string, classes: number): Parameters<typeof dataForModel>[1] {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST_FILE), 'utf8')) as Manifest;
  const dims = manifest.inputs[0]!.dims.slice(1);
  if (!dims.every((d): d is number => typeof d === 'number')) throw new ConfigError(`bundle ${dir}: input dims [${dims.join(', ')}] are not fixed`);
  const inputShape = dims.length === 3 ? [dims[1]!, dims[2]!, dims[0]!] : dims;
  return { name: `the bundle ${dir}`, inputShape, outputShape: [classes] };
}

/** The deep ensemble of one seed: the mean softmax of its K member bundles. */
export async function deepEnsemble(dirs: readonly string[], plan: RunPlan): Promise<Measured> {
  const loaded = await loadJobData(plan.data);
  const model = bundleModel(dirs[0]!, loaded.train.classes);
  const data = dataForModel(loaded, model);
  // An OOD set's classes are its own: only its shape has to fit.
  const viewed = (ood: JobData): Examples => dataForModel({ ...ood, train: ood.test }, { ...model, outputShape: [ood.test.classes] }).test;
  const ood = plan.evaluation.ood ? viewed(await loadJobData(plan.evaluation.ood)) : undefined;
  const mean = async (set: Examples): Promise<Float32Array> => {
    const all = await Promise.all(dirs.map((d) => bundleProbabilities(d, set)));
    return all[0]!.map((_, i) => all.reduce((s, p) => s + p[i]!, 0) / all.length);
  };
  const probs = await mean(data.test);
  const ensemble = classMetrics(probs, data.test.y, plan.evaluation.bins);
  const score = (p: Float32Array): Float64Array => entropy(p, data.test.classes);
  const oodEnsemble = ood ? auroc(score(probs), score(await mean(ood))) : undefined;
  return { ensemble, ...(oodEnsemble !== undefined && { oodEnsemble }), seconds: dirs.reduce((s, d) => s + trainingSeconds(d), 0) };
}

type Stat = Summary;

/** The metrics a row summarises, by where they come from in a run. */
const METRICS = {
  accuracy: (c: ClassMetrics | undefined) => c?.accuracy,
  nll: (c: ClassMetrics | undefined) => c?.nll,
  ece: (c: ClassMetrics | undefined) => c?.ece,
  brier: (c: ClassMetrics | undefined) => c?.brier,
} as const;

interface MetricSet {
  readonly accuracy: Stat | null;
  readonly nll: Stat | null;
  readonly ece: Stat | null;
  readonly brier: Stat | null;
  readonly oodAuroc: Stat | null;
}

interface CompareRow {
  readonly variant: Variant;
  readonly seeds: number;
  readonly folded: MetricSet;
  readonly ensemble: MetricSet;
  readonly trainingSeconds: Stat | null;
  /** Paired differences to the base variant (same seeds): this variant's metric minus base's; absent for base itself or without one. */
  readonly vsBase?: { readonly folded: MetricSet; readonly ensemble: MetricSet };
}

/** One run's measurement with its seed (the pairing key). */
interface SeedMeasure {
  readonly seed: number;
  readonly m: Measured;
}

export interface CompareTable {
  readonly schema: 'latephase-compare/2';
  readonly config: string;
  readonly seeds: readonly number[];
  readonly rows: readonly CompareRow[];
}

/** A metric by seed (the seeds that have it). */
type BySeed = Map<number, number>;
const bySeed = (ms: readonly SeedMeasure[], f: (m: Measured) => number | undefined): BySeed =>
  new Map(ms.flatMap(({ seed, m }) => (f(m) === undefined ? [] : [[seed, f(m)!] as [number, number]])));

/** Each metric of a row, by seed: folded and ensemble accuracy, NLL, ECE, Brier and OOD AUROC. */
function metricsBySeed(ms: readonly SeedMeasure[]): Record<'folded' | 'ensemble', Record<keyof MetricSet, BySeed>> {
  const of = (which: 'folded' | 'ensemble'): Record<keyof MetricSet, BySeed> => ({
    accuracy: bySeed(ms, (m) => METRICS.accuracy(which === 'folded' ? m.folded : m.ensemble)),
    nll: bySeed(ms, (m) => METRICS.nll(which === 'folded' ? m.folded : m.ensemble)),
    ece: bySeed(ms, (m) => METRICS.ece(which === 'folded' ? m.folded : m.ensemble)),
    brier: bySeed(ms, (m) => METRICS.brier(which === 'folded' ? m.folded : m.ensemble)),
    oodAuroc: bySeed(ms, (m) => (which === 'folded' ? m.oodFolded : m.oodEnsemble)),
  });
  return { folded: of('folded'), ensemble: of('ensemble') };
}

const KEYS = ['accuracy', 'nll', 'ece', 'brier', 'oodAuroc'] as const;
const summarizeSet = (m: Record<keyof MetricSet, BySeed>): MetricSet =>
  Object.fromEntries(KEYS.map((k) => [k, summarize([...m[k].values()])])) as unknown as MetricSet;
const differenceSet = (a: Record<keyof MetricSet, BySeed>, b: Record<keyof MetricSet, BySeed>): MetricSet =>
  Object.fromEntries(KEYS.map((k) => [k, pairedDifference(a[k], b[k])])) as unknown as MetricSet;

function row(variant: Variant, ms: readonly SeedMeasure[], base: readonly SeedMeasure[] | undefined): CompareRow {
  const mine = metricsBySeed(ms);
  // The base variant's own ensemble is the model itself: pair every variant's ensemble with base's folded model.
  const theirs = base && metricsBySeed(base);
  return {
    variant,
    seeds: ms.length,
    folded: summarizeSet(mine.folded),
    ensemble: summarizeSet(mine.ensemble),
    trainingSeconds: summarize(ms.map(({ m }) => m.seconds)),
    ...(theirs &&
      variant !== 'base' && { vsBase: { folded: differenceSet(mine.folded, theirs.folded), ensemble: differenceSet(mine.ensemble, theirs.folded) } }),
  };
}

const fmt = (s: Stat | null, scale = 1, digits = 4): string =>
  s
    ? `${(s.mean * scale).toFixed(digits)} +- ${(s.std * scale).toFixed(digits)}${s.ci95 ? ` [${(s.ci95[0] * scale).toFixed(digits)}, ${(s.ci95[1] * scale).toFixed(digits)}]` : ''}`
    : '-';

/** A paired difference: mean [95% interval], starred where the interval clears zero. */
const fmtDiff = (s: Stat | null, scale = 1, digits = 4): string =>
  s
    ? `${s.mean * scale >= 0 ? '+' : ''}${(s.mean * scale).toFixed(digits)}${s.ci95 ? ` [${(s.ci95[0] * scale).toFixed(digits)}, ${(s.ci95[1] * scale).toFixed(digits)}]` : ''}${clearOfZero(s) ? ' *' : ''}`
    : '-';

export function markdownTable(t: CompareTable): string {
  const header =
    '| variant | folded acc % | folded NLL | folded ECE | folded Brier | folded OOD AUROC | ensemble acc % | ensemble NLL | ensemble ECE | ensemble Brier | ensemble OOD AUROC | training s |';
  const lines = t.rows.map(
    (r) =>
      `| ${r.variant} | ${fmt(r.folded.accuracy, 100, 2)} | ${fmt(r.folded.nll)} | ${fmt(r.folded.ece)} | ${fmt(r.folded.brier)} | ${fmt(r.folded.oodAuroc)} | ${fmt(r.ensemble.accuracy, 100, 2)} | ${fmt(r.ensemble.nll)} | ${fmt(r.ensemble.ece)} | ${fmt(r.ensemble.brier)} | ${fmt(r.ensemble.oodAuroc)} | ${fmt(r.trainingSeconds, 1, 0)} |`,
  );
  const paired = t.rows.filter((r) => r.vsBase);
  const diffHeader =
    '| variant - base | folded acc % | folded NLL | folded ECE | folded Brier | folded OOD AUROC | ensemble acc % | ensemble NLL | ensemble ECE | ensemble Brier | ensemble OOD AUROC |';
  const diffLines = paired.map((r) => {
    const d = r.vsBase!;
    return `| ${r.variant} | ${fmtDiff(d.folded.accuracy, 100, 2)} | ${fmtDiff(d.folded.nll)} | ${fmtDiff(d.folded.ece)} | ${fmtDiff(d.folded.brier)} | ${fmtDiff(d.folded.oodAuroc)} | ${fmtDiff(d.ensemble.accuracy, 100, 2)} | ${fmtDiff(d.ensemble.nll)} | ${fmtDiff(d.ensemble.ece)} | ${fmtDiff(d.ensemble.brier)} | ${fmtDiff(d.ensemble.oodAuroc)} |`;
  });
  return [
    `Mean +- std [95% interval of the mean, Student t] over seeds ${t.seeds.join(', ')} (${t.config}); 'ensemble' is K independently trained base models (mean softmax).`,
    '',
    header,
    `|${'---|'.repeat(12)}`,
    ...lines,
    '',
    ...(paired.length
      ? [
          `Paired differences to base (the same seed: the same data order and start), mean [95% interval]; * where the interval clears zero (a difference the seeds support; the rest are not shown). A variant's ensemble is compared with base's model.`,
          '',
          diffHeader,
          `|${'---|'.repeat(11)}`,
          ...diffLines,
          '',
          plainReading(paired),
          '',
        ]
      : []),
  ].join('\n');
}

/** The plain reading: which paired differences clear zero, and that the rest do not. */
function plainReading(rows: readonly CompareRow[]): string {
  const names: Record<keyof MetricSet, string> = { accuracy: 'accuracy', nll: 'NLL', ece: 'ECE', brier: 'Brier', oodAuroc: 'OOD AUROC' };
  // A variant without an ensemble of its own repeats its model's numbers as its "ensemble": read once.
  const models = (r: CompareRow): Array<'folded' | 'ensemble'> => (HAS_ENSEMBLE.has(r.variant) ? ['folded', 'ensemble'] : ['folded']);
  const shown = rows.flatMap((r) =>
    models(r).flatMap((which) =>
      KEYS.filter((k) => clearOfZero(r.vsBase![which][k])).map(
        (k) =>
          `${r.variant} ${which === 'folded' ? 'folded model' : 'ensemble'} ${names[k]} ${fmtDiff(r.vsBase![which][k], k === 'accuracy' ? 100 : 1, k === 'accuracy' ? 2 : 4)}`,
      ),
    ),
  );
  // Many intervals at 95% each: some clear zero by chance alone, which a reader should weigh.
  const tested = rows.reduce((n, r) => n + models(r).reduce((m, w) => m + KEYS.filter((k) => r.vsBase![w][k]?.ci95).length, 0), 0);
  const chance = `Of the ${tested} differences with an interval, about ${(tested / 20).toFixed(1)} would clear zero by chance alone at 95%: a single star is tentative unless it repeats across metrics, seeds or experiments.`;
  return shown.length
    ? `Differences the seeds support: ${shown.join('; ')}. Every other difference to base has an interval that includes zero: not shown. ${chance}`
    : `No difference to base clears zero at 95%: none is shown by these seeds. ${chance}`;
}

/** Variants whose runs hold an ensemble of their own: K late-phase members, or K separate runs. Elsewhere the "ensemble" is the model itself. */
const HAS_ENSEMBLE: ReadonlySet<Variant> = new Set<Variant>(['late', 'late+swa', 'ensemble']);

/** A statistic as a plotted point with its 95% interval (the mean where there is none), scaled. */
const point = (s: Stat, scale: number): { mean: number; lo: number; hi: number } => ({
  mean: scale * s.mean,
  lo: scale * (s.ci95?.[0] ?? s.mean),
  hi: scale * (s.ci95?.[1] ?? s.mean),
});

/**
 * Two panels: held-out accuracy by variant, and each variant's paired difference to base (the
 * quantity the plain reading judges), both with their 95% intervals; a zero rule on the second.
 */
export async function comparePlot(t: CompareTable): Promise<string> {
  const models = (r: CompareRow): Array<'folded' | 'ensemble'> =>
    (['folded', 'ensemble'] as const).filter((which) => which === 'folded' || HAS_ENSEMBLE.has(r.variant));
  const label = (which: 'folded' | 'ensemble'): string => (which === 'folded' ? 'folded' : 'ensemble (mean softmax)');
  const values = t.rows.flatMap((r) =>
    models(r).flatMap((which) => {
      const s = r[which].accuracy;
      return s ? [{ variant: r.variant, model: label(which), ...point(s, 100) }] : [];
    }),
  );
  const differences = t.rows.flatMap((r) =>
    models(r).flatMap((which) => {
      const s = r.vsBase?.[which].accuracy;
      return s ? [{ variant: r.variant, model: label(which), ...point(s, 100) }] : [];
    }),
  );
  const encoding = {
    x: { field: 'variant', type: 'nominal', sort: null },
    xOffset: { field: 'model' },
    color: { field: 'model', type: 'nominal', title: 'model' },
  } as const;
  const panel = (title: string, data: object[], yTitle: string, zero: boolean): object => ({
    title,
    width: 420,
    height: 200,
    data: { values: data },
    encoding,
    layer: [
      ...(zero
        ? [{ mark: { type: 'rule', strokeDash: [4, 4], color: 'gray' }, encoding: { x: null, xOffset: null, color: null, y: { datum: 0 } } }]
        : []),
      { mark: 'rule', encoding: { y: { field: 'lo', type: 'quantitative', scale: { zero: false }, title: yTitle }, y2: { field: 'hi' } } },
      { mark: { type: 'point', filled: true }, encoding: { y: { field: 'mean', type: 'quantitative' } } },
    ],
  });
  return svg({
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    // The legend below the plot, labels unclipped: at the right it was cut at the SVG's edge.
    config: { legend: { orient: 'bottom', labelLimit: 0, titleLimit: 0 } },
    vconcat: [
      panel('held-out accuracy by variant (mean and 95% interval over seeds)', values, 'accuracy %', false),
      ...(differences.length
        ? [panel('paired difference to base, same seeds (mean and 95% interval); zero dashed', differences, 'accuracy points vs base', true)]
        : []),
    ],
  } as TopLevelSpec);
}

/** Run every unfinished run here (`jobs` at a time), then build the table. */
export async function runCompare(base: JobConfigInput, label: string, opts: CompareOptions): Promise<CompareTable> {
  await runAll(plannedRuns(base, opts), opts);
  return collectCompare(base, label, opts);
}

/** The table from finished runs (`compare --collect`); any unfinished run is an error naming it. */
export async function collectCompare(base: JobConfigInput, label: string, opts: CompareOptions): Promise<CompareTable> {
  const runs = plannedRuns(base, opts);
  const missing = runs.filter((r) => !isFinished(r));
  if (missing.length)
    throw new ConfigError(
      `compare: ${missing.length} of ${runs.length} runs are not finished yet (e.g. ${missing[0]!.dir}); wait for the workers, then collect again`,
    );
  const measures = new Map<Variant, SeedMeasure[]>();
  for (const variant of opts.variants) {
    const mine = runs.filter((r) => r.variant === variant);
    const ms: SeedMeasure[] =
      variant === 'ensemble'
        ? await Promise.all(
            opts.seeds.map(async (seed) => ({
              seed,
              m: await deepEnsemble(
                mine.filter((r) => r.seed === seed).map((r) => r.dir),
                planRun(mine[0]!.config),
              ),
            })),
          )
        : mine.map((r) => ({ seed: r.seed, m: measured(r.dir) }));
    measures.set(variant, ms);
  }
  const rows = opts.variants.map((v) => row(v, measures.get(v)!, measures.get('base')));
  const table: CompareTable = { schema: 'latephase-compare/2', config: label, seeds: opts.seeds, rows };
  writeFileAtomic(path.join(opts.out, 'compare.json'), `${JSON.stringify(table, null, 2)}\n`);
  writeFileAtomic(path.join(opts.out, 'compare.md'), markdownTable(table));
  writeFileAtomic(path.join(opts.out, 'compare.svg'), await comparePlot(table));
  return table;
}
