/**
 * `latephase run`: the main job on the bundled default, i.e. the training job's `mnist-cnn` preset
 * with these flags as overrides. Trains the MNIST CNN with late-phase BatchNorm + head on the
 * `mnist` package's digits (fixed seeded 8,000 / 2,000 split), folds, exports ONNX, verifies
 * against onnxruntime, writes the bundle and prints a summary table.
 */
import { BACKEND_CHOICES } from '../src/backend/selectBackend';
import { ConfigError } from '../src/errors';
import { JOB_SCHEMA, JobConfig } from '../src/config/schema';
import { applyOverride, presetConfig, resolveConfig } from '../src/config/resolve';
import { RunSummary, runTrainJob } from '../job/trainJob';
import { planRun } from '../job/runPlan';
import { FlagTable, FlagValues } from './args';
import { ProgressBar } from './progress';
import { STOP_ON_SIGNAL } from './signals';

export type { RunSummary } from '../job/trainJob';

/** The mnist package's digits: the preset trains on the seeded 8,000 and holds out the rest. */
const TRAIN_COUNT = 8000;
const HELD_OUT_COUNT = 10_000 - TRAIN_COUNT;
/** More epochs than anyone runs on 8,000 digits; a typo such as 1000000000 is refused rather than given an ETA of centuries. */
const MAX_EPOCHS = 10_000;

/** What `run` does without flags: the mnist-cnn preset, resolved by the schema (the one source of defaults). */
const PRESET = resolveConfig(presetConfig('mnist-cnn'), "the 'mnist-cnn' preset");
const PRESET_PLAN = planRun(PRESET);

export const RUN_FLAGS = {
  epochs: { kind: 'int', min: 1, max: MAX_EPOCHS, help: `total epochs (default ${PRESET.epochs})` },
  t0: { kind: 'int', min: 0, help: `epochs of plain training before release (default ${PRESET.latePhase.t0})` },
  k: { kind: 'int', min: 1, max: 1000, help: `late-phase members K (default ${PRESET.latePhase.k})` },
  seed: { kind: 'int', min: 0, help: `seed for initialisation, shuffling and noise (default ${PRESET.seed})` },
  out: { kind: 'string', help: `output folder (default out/${PRESET.name})` },
  backend: { kind: 'string', choices: BACKEND_CHOICES, help: 'tfjs backend (default auto; env LATEPHASE_BACKEND)' },
  'batch-size': { kind: 'int', min: 2, max: TRAIN_COUNT, help: `minibatch size (default ${PRESET.batchSize})` },
  lr: {
    kind: 'number',
    min: 0,
    help: `base learning rate, shared and members; the cosine schedule ends at lr / 50 (default ${PRESET.optimizer.shared.lr})`,
  },
  sigma0: { kind: 'number', min: 0, help: `release noise relative to RMS (default ${PRESET.latePhase.sigma0})` },
  'gamma-theta': { kind: 'string', help: `shared gradient factor: a number or 1/K (default ${PRESET.latePhase.gammaTheta})` },
  fold: {
    kind: 'string',
    choices: ['exact', 'mean'],
    help: `BatchNorm fold: exact output average or parameter mean (default ${PRESET_PLAN.fold['batchNorm']})`,
  },
  'train-size': { kind: 'int', min: 2, max: TRAIN_COUNT, help: `train on the first N of the ${TRAIN_COUNT} training digits (default all)` },
  'test-size': { kind: 'int', min: 1, max: HELD_OUT_COUNT, help: `evaluate on the first N of the ${HELD_OUT_COUNT} held-out digits (default all)` },
  'no-late-phase': { kind: 'boolean', help: 'plain training only (K = 1, recorded as such in the bundle); otherwise t0 must be < epochs' },
  ep: { kind: 'string', choices: ['cpu', 'cuda'], help: 'onnxruntime execution provider for verification (default cpu)' },
  'allow-cpu-fallback': { kind: 'boolean', help: 'with --ep cuda: verify on CPU (reported) if CUDA is missing' },
  workers: {
    kind: 'string',
    help: 'data-parallel gradient worker threads: auto (one per extra core on wasm/cpu, none on native backends) or a count (default auto)',
  },
  quiet: { kind: 'boolean', help: 'no progress bar' },
  ensemble: { kind: 'boolean', help: 'also export the implicit ensemble (ensemble.onnx: probabilities, entropy, mutual_information), verified' },
  restart: {
    kind: 'boolean',
    help: "discard an interrupted run's progress in the output folder and start over (to continue it: latephase train --resume <out>)",
  },
} as const satisfies FlagTable;

/** The run flags as overrides of the mnist-cnn preset (so `run` is that preset of the training job). */
export function overridesFromFlags(flags: FlagValues<typeof RUN_FLAGS>): string[] {
  const sets: string[] = [];
  const set = (field: string, value: unknown): number => sets.push(`${field}=${JSON.stringify(value)}`);
  if (flags['epochs'] !== undefined) set('epochs', flags['epochs']);
  if (flags['t0'] !== undefined) set('latePhase.t0', flags['t0']);
  if (flags['k'] !== undefined) set('latePhase.k', flags['k']);
  if (flags['seed'] !== undefined) set('seed', flags['seed']);
  if (flags['out'] !== undefined) set('output', flags['out']);
  if (flags['backend'] !== undefined) set('backend', flags['backend']);
  if (flags['batch-size'] !== undefined) set('batchSize', flags['batch-size']);
  if (flags['lr'] !== undefined) {
    set('optimizer.shared.lr', flags['lr']);
    set('optimizer.members.lr', flags['lr']);
  }
  if (flags['sigma0'] !== undefined) set('latePhase.sigma0', flags['sigma0']);
  if (flags['gamma-theta'] !== undefined) set('latePhase.gammaTheta', gammaTheta(flags['gamma-theta']));
  if (flags['fold'] !== undefined) set('latePhase.fold.batchNorm', flags['fold']);
  if (flags['train-size'] !== undefined) set('data.trainSize', flags['train-size']);
  if (flags['test-size'] !== undefined) set('data.testSize', flags['test-size']);
  if (flags['ep'] !== undefined) set('verify.ep', flags['ep']);
  if (flags['allow-cpu-fallback']) set('verify.allowCpuFallback', true);
  if (flags['no-late-phase']) set('latePhase.enabled', false);
  if (flags['ensemble']) set('export.ensemble', true);
  if (flags['workers'] !== undefined) set('workers', workersFlag(flags['workers']));
  return sets;
}

function gammaTheta(raw: string): number | '1/K' {
  if (raw === '1/K') return '1/K';
  const n = Number(raw);
  if (!/^\d*\.?\d+(e[-+]?\d+)?$/i.test(raw) || !(n > 0)) throw new ConfigError(`--gamma-theta must be a positive number or '1/K', got '${raw}'`);
  return n;
}

/** `--workers`: auto (the default) or a non-negative decimal integer. */
function workersFlag(raw: string): 'auto' | number {
  if (raw === 'auto') return 'auto';
  if (!/^\d+$/.test(raw)) throw new ConfigError(`--workers must be 'auto' or a non-negative decimal integer, got '${raw}'`);
  return Number(raw);
}

/** Plain training or a late phase, said explicitly: t0 >= epochs without --no-late-phase is a mistake, not a mode. */
function checkLatePhaseFlags(flags: FlagValues<typeof RUN_FLAGS>, cfg: JobConfig): void {
  if (flags['no-late-phase']) {
    for (const f of ['t0', 'k', 'sigma0', 'gamma-theta'] as const)
      if (flags[f] !== undefined) throw new ConfigError(`--${f} has no effect with --no-late-phase`);
    return;
  }
  if (cfg.latePhase.t0 >= cfg.epochs)
    throw new ConfigError(
      `--t0 ${cfg.latePhase.t0} leaves no late phase in ${cfg.epochs} epochs; use a t0 below --epochs, or --no-late-phase for plain training`,
    );
}

/** The job `latephase run` runs: the mnist-cnn preset with the run flags applied, validated. */
export function runConfig(flags: FlagValues<typeof RUN_FLAGS>): JobConfig {
  let input = presetConfig('mnist-cnn');
  for (const assignment of overridesFromFlags(flags)) input = applyOverride(input, assignment);
  // When --epochs alone moves below the preset's t0, t0 follows (the default late phase is the last epochs).
  if (flags['t0'] === undefined && flags['epochs'] !== undefined && !flags['no-late-phase'])
    input = applyOverride(input, `latePhase.t0=${Math.min(PRESET.latePhase.t0, Math.max(flags['epochs'] - 1, 0))}`);
  const probe = JOB_SCHEMA.safeParse(input);
  if (probe.success) checkLatePhaseFlags(flags, probe.data); // the flags' words before the config's
  return resolveConfig(input, "'mnist-cnn' preset with the run flags");
}

/** `latephase run`: the mnist-cnn preset with the run flags applied. */
export async function runMnistJob(flags: FlagValues<typeof RUN_FLAGS>, log: (line: string) => void = console.log): Promise<RunSummary> {
  const cfg = runConfig(flags);
  const bar = flags['quiet'] ? null : new ProgressBar();
  return runTrainJob(cfg, { ...STOP_ON_SIGNAL, log, restart: flags['restart'], onStep: (s) => bar?.update(s) });
}
