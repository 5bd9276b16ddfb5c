/**
 * `latephase run`: the main job on the bundled default. Trains the MNIST CNN with late-phase
 * BatchNorm + head on the `mnist` package's digits (fixed seeded 8,000 / 2,000 split), folds,
 * exports ONNX, verifies against onnxruntime, writes the bundle and prints a summary table.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { selectBackend, describeBackend, BACKEND_CHOICES } from '../src/backend/selectBackend';
import { loadMnist } from '../src/data/mnist';
import { Dataset, splitDataset, subset } from '../src/data/dataset';
import { buildModel, zooRecipe } from '../models/index';
import { autoWorkers, MIN_SHARD_ROWS } from '../src/train/dataParallel';
import { OutputFolder } from '../src/io/outputFolder';
import { faultPoint } from '../src/io/faultPoints';
import { describeChoice } from '../src/latephase/kindRegistry';
import { BN_AND_HEAD } from '../src/latephase/layerFactory';
import { ConfigError } from '../src/errors';
import { checkTrainConfig, DEFAULT_TRAIN_CONFIG, TrainConfig, trainLatePhase, resolveGammaTheta } from '../src/train/trainer';
import { accuracy } from '../src/eval/accuracy';
import { evaluateMembers } from '../src/eval/ensemble';
import { foldMembers } from '../src/latephase/fold';
import { exportOnnx } from '../export/onnx/exportOnnx';
import { InputSet, verifyExport, VerificationReport } from '../export/verify/verify';
import { chooseProvider, parseProvider } from '../export/verify/executionProvider';
import { writeBundle } from '../export/bundle/bundle';
import { Rng } from '../src/nn/rng';
import { saveCheckpoint } from '../src/train/checkpoint';
import { FlagTable, FlagValues } from './args';
import { ProgressBar } from './progress';

/** The zoo model this job trains. */
const MODEL = 'mnist-cnn';

/** The held-out digits never depend on the training seed. */
export const SPLIT_SEED = 2021;
/** The trained late-phase model (all K members), for re-folding or further work. */
export const CHECKPOINT_FILE = 'latephase.ckpt';
export const TRAIN_COUNT = 8000;
/** More epochs than anyone runs on 8,000 digits; a typo such as 1000000000 is refused rather than given an ETA of centuries. */
export const MAX_EPOCHS = 10_000;

export const RUN_FLAGS = {
  epochs: { kind: 'int', min: 1, max: MAX_EPOCHS, help: `total epochs (default ${DEFAULT_TRAIN_CONFIG.epochs})` },
  t0: { kind: 'int', min: 0, help: `epochs of plain training before release (default ${DEFAULT_TRAIN_CONFIG.t0})` },
  k: { kind: 'int', min: 1, max: 1000, help: `late-phase members K (default ${DEFAULT_TRAIN_CONFIG.k})` },
  seed: { kind: 'int', min: 0, help: 'seed for initialisation, shuffling and noise (default 0)' },
  out: { kind: 'string', help: 'output folder (default out/mnist-cnn)' },
  backend: { kind: 'string', choices: BACKEND_CHOICES, help: 'tfjs backend (default auto; env LATEPHASE_BACKEND)' },
  'batch-size': { kind: 'int', min: 2, max: TRAIN_COUNT, help: `minibatch size (default ${DEFAULT_TRAIN_CONFIG.batchSize})` },
  lr: { kind: 'number', min: 0, help: `base learning rate, shared and members (default ${DEFAULT_TRAIN_CONFIG.shared.lr})` },
  sigma0: { kind: 'number', min: 0, help: 'release noise relative to RMS (default 0)' },
  'gamma-theta': { kind: 'string', help: 'shared gradient factor: a number or 1/K (default 1)' },
  fold: { kind: 'string', choices: ['exact', 'mean'], help: 'BatchNorm fold: exact output average or parameter mean (default exact)' },
  'train-size': { kind: 'int', min: 2, max: TRAIN_COUNT, help: `train on the first N of the ${TRAIN_COUNT} training digits (default all)` },
  'no-late-phase': { kind: 'boolean', help: 'plain training only (K = 1, recorded as such in the bundle); otherwise t0 must be < epochs' },
  ep: { kind: 'string', choices: ['cpu', 'cuda'], help: 'onnxruntime execution provider for verification (default cpu)' },
  'allow-cpu-fallback': { kind: 'boolean', help: 'with --ep cuda: verify on CPU (reported) if CUDA is missing' },
  workers: {
    kind: 'string',
    help: 'data-parallel gradient worker threads: auto (one per extra core on wasm/cpu, none on native backends) or a count (default auto)',
  },
  quiet: { kind: 'boolean', help: 'no progress bar' },
} as const satisfies FlagTable;

export interface RunSummary {
  readonly backend: string;
  /** Data-parallel gradient worker threads besides the main one. */
  readonly workers: number;
  readonly accuracyBeforeLatePhase: number | null;
  readonly memberAccuracies: readonly number[];
  readonly foldedAccuracy: number;
  readonly ensembleAccuracy: number;
  readonly verification: VerificationReport;
  readonly outDir: string;
  readonly seconds: number;
}

function gammaTheta(raw: string | number | boolean | undefined): number | '1/K' {
  if (raw === undefined) return DEFAULT_TRAIN_CONFIG.gammaTheta;
  if (String(raw).toUpperCase() === '1/K') return '1/K';
  return Number(raw); // checkTrainConfig rejects NaN and non-positive values by name
}

export function trainConfigFromFlags(flags: FlagValues<typeof RUN_FLAGS>): TrainConfig {
  const d = DEFAULT_TRAIN_CONFIG;
  const epochs = flags['epochs'] ?? d.epochs;
  const lr = flags['lr'] ?? d.shared.lr;
  return {
    ...d,
    epochs,
    t0: flags['no-late-phase'] ? epochs : (flags['t0'] ?? Math.min(d.t0, Math.max(epochs - 1, 0))),
    k: flags['no-late-phase'] ? 1 : (flags['k'] ?? d.k),
    seed: flags['seed'] ?? d.seed,
    batchSize: flags['batch-size'] ?? d.batchSize,
    sigma0: flags['sigma0'] ?? d.sigma0,
    gammaTheta: gammaTheta(flags['gamma-theta']),
    shared: { ...d.shared, lr },
    member: { ...d.member, lr },
    schedule: { kind: 'cosine', total: epochs, minLr: lr / 50 },
  };
}

/** Plain training or a late phase, said explicitly: t0 >= epochs without --no-late-phase is a mistake, not a mode. */
export function checkLatePhaseFlags(flags: FlagValues<typeof RUN_FLAGS>, cfg: TrainConfig): void {
  if (flags['no-late-phase']) {
    for (const f of ['t0', 'k', 'sigma0', 'gamma-theta'] as const)
      if (flags[f] !== undefined) throw new ConfigError(`--${f} has no effect with --no-late-phase`);
    return;
  }
  if (cfg.t0 >= cfg.epochs)
    throw new ConfigError(
      `--t0 ${cfg.t0} leaves no late phase in ${cfg.epochs} epochs; use a t0 below --epochs, or --no-late-phase for plain training`,
    );
}

/** `--workers`: auto (the default) or a non-negative decimal integer. */
export function workerCount(raw: string | number | boolean | undefined, tfjsBackend: string): number {
  if (raw === undefined || raw === 'auto') return autoWorkers(tfjsBackend);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw))
    throw new ConfigError(`--workers must be 'auto' or a non-negative decimal integer, got '${String(raw)}'`);
  return Number(raw);
}

/** More workers than cores, or than a minibatch has shards, cannot help: capped, and said so. */
export function capWorkers(requested: number, batchSize: number, log: (line: string) => void): number {
  const byCores = Math.max(os.cpus().length - 1, 0);
  const byShards = Math.max(Math.floor(batchSize / MIN_SHARD_ROWS) - 1, 0);
  const capped = Math.min(requested, byCores, byShards);
  if (capped < requested)
    log(
      `gradient workers: ${requested} requested, ${capped} used (${os.cpus().length} cores; a batch of ${batchSize} has at most ${byShards + 1} shards of ${MIN_SHARD_ROWS}+ rows)`,
    );
  return capped;
}

function seededInputs(rows: number, perRow: number, seed: number): InputSet {
  const rng = new Rng(seed);
  const values = new Float32Array(rows * perRow);
  for (let i = 0; i < values.length; i++) values[i] = rng.next();
  return { label: 'seeded uniform [0,1)', values, rows };
}

function realInputs(data: Dataset, rows: number): InputSet {
  const n = Math.min(rows, data.y.length);
  return {
    label: 'held-out MNIST digits',
    values: subset(
      data,
      Array.from({ length: n }, (_, i) => i),
    ).x,
    rows: n,
  };
}

export async function runMnistJob(flags: FlagValues<typeof RUN_FLAGS>, log: (line: string) => void = console.log): Promise<RunSummary> {
  const started = Date.now();
  const cfg = trainConfigFromFlags(flags);
  checkTrainConfig(cfg); // bad values fail before any work
  checkLatePhaseFlags(flags, cfg);
  const late = cfg.t0 < cfg.epochs;
  chooseProvider(parseProvider(flags['ep'] ?? 'cpu'), Boolean(flags['allow-cpu-fallback'])); // fail before training, not after
  const outDir = path.resolve(flags['out'] ?? path.join('out', 'mnist-cnn'));
  const folder = OutputFolder.open(outDir, log); // checked, created and locked before any training
  try {
    return await trainAndBundle(flags, cfg, late, folder, log, started);
  } finally {
    folder.close();
  }
}

async function trainAndBundle(
  flags: FlagValues<typeof RUN_FLAGS>,
  cfg: TrainConfig,
  late: boolean,
  folder: OutputFolder,
  log: (line: string) => void,
  started: number,
): Promise<RunSummary> {
  const foldMode = flags['fold'] ?? 'exact';
  const provider = parseProvider(flags['ep'] ?? 'cpu');
  const allowCpuFallback = Boolean(flags['allow-cpu-fallback']);
  const backend = await selectBackend(flags['backend']);
  log(`backend: ${describeBackend(backend, true)}`);

  const split = splitDataset(loadMnist(), TRAIN_COUNT, SPLIT_SEED);
  const trainSize = flags['train-size'];
  const train = trainSize
    ? subset(
        split.train,
        Array.from({ length: trainSize }, (_, i) => i),
      )
    : split.train;
  if (cfg.batchSize > train.y.length) throw new ConfigError(`--batch-size ${cfg.batchSize} is larger than the ${train.y.length} training digits`);
  const heldOut = split.heldOut;
  log(`data: ${train.y.length} training / ${heldOut.y.length} held-out MNIST digits (mnist package, split seed ${SPLIT_SEED})`);
  log(
    late
      ? `late phase: K=${cfg.k}, T0=${cfg.t0} of ${cfg.epochs} epochs, sigma0=${cfg.sigma0}, gammaTheta=${resolveGammaTheta(cfg.gammaTheta, cfg.k)}, batch ${cfg.batchSize}, seed ${cfg.seed}`
      : `no late phase: plain training for ${cfg.epochs} epochs, batch ${cfg.batchSize}, seed ${cfg.seed}`,
  );

  const workers = capWorkers(workerCount(flags['workers'], backend.tfjsBackend), cfg.batchSize, log);
  log(`gradient workers: ${workers === 0 ? 'none (one thread)' : `${workers} + this thread (BatchNorm statistics per shard)`}`);
  const model = buildModel(MODEL, { seed: cfg.seed });
  let before: number | null = null;
  const bar = flags['quiet'] ? null : new ProgressBar();
  try {
    await trainLatePhase(
      model,
      train,
      cfg,
      {
        onStep: (s) => {
          faultPoint('step');
          bar?.update(s);
        },
        onRelease: (m) => {
          before = accuracy(m, heldOut);
        },
      },
      { workers, recipe: zooRecipe(MODEL, { seed: cfg.seed }) },
    );
    const members = late ? evaluateMembers(model, heldOut) : null;
    const folded = foldMembers(model, { batchNorm: foldMode });
    try {
      const foldedAccuracy = accuracy(folded, heldOut);
      const exported = exportOnnx(folded, {
        provenance: {
          latephase_K: cfg.k,
          latephase_T0_epochs: cfg.t0,
          epochs: cfg.epochs,
          fold_batchnorm: foldMode,
          late_phase_weights: late ? describeChoice(BN_AND_HEAD) : 'none (plain training)',
          backend: backend.choice,
          seed: cfg.seed,
          sigma0: cfg.sigma0,
          gamma_theta: resolveGammaTheta(cfg.gammaTheta, cfg.k),
          heldout_accuracy: foldedAccuracy.toFixed(4),
        },
      });
      const verification = await verifyExport(folded, exported, [seededInputs(64, 784, cfg.seed + 1), realInputs(heldOut, 64)], {
        provider,
        allowCpuFallback,
      });
      const staged = folder.stage();
      try {
        saveCheckpoint(model, path.join(staged, CHECKPOINT_FILE), { seed: cfg.seed, epochs: cfg.epochs, t0: cfg.t0, k: cfg.k });
        writeBundle(staged, folded, exported, verification);
        if (verification.pass) folder.publish(staged);
        else keepFailedBundle(folder.target, staged, log);
      } catch (err) {
        folder.discard(staged);
        throw err;
      }
      return {
        backend: describeBackend(backend),
        workers,
        accuracyBeforeLatePhase: before,
        memberAccuracies: members?.members ?? [],
        foldedAccuracy,
        ensembleAccuracy: members?.ensemble ?? foldedAccuracy,
        verification,
        outDir: folder.target,
        seconds: (Date.now() - started) / 1000,
      };
    } finally {
      folded.dispose();
    }
  } finally {
    model.dispose();
  }
}

/**
 * A bundle whose verification failed never replaces the folder's good one: it is kept beside it,
 * as `<out>.failed-verification/`, for inspection (the CLI then exits 3).
 */
function keepFailedBundle(target: string, staged: string, log: (line: string) => void): void {
  const failed = `${target}.failed-verification`;
  fs.rmSync(failed, { recursive: true, force: true });
  fs.renameSync(staged, failed);
  log(`verification failed: the output folder keeps its previous content; the failed bundle is in ${failed}`);
}

const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;

export function summaryTable(s: RunSummary): string {
  const v = s.verification;
  const fallback = v.provider.fallbackReason ? ` (requested ${v.provider.requested}; fell back: ${v.provider.fallbackReason})` : '';
  const rows: Array<[string, string]> = [
    ['backend', s.backend],
    ['gradient threads', s.workers ? `${s.workers + 1} (data-parallel, BatchNorm statistics per shard)` : '1'],
    ['accuracy before late phase', s.accuracyBeforeLatePhase === null ? 'n/a (no late phase)' : pct(s.accuracyBeforeLatePhase)],
    ...s.memberAccuracies.map((a, k): [string, string] => [`member ${k}`, pct(a)]),
    ['folded model', pct(s.foldedAccuracy)],
    ['implicit ensemble (mean softmax)', pct(s.ensembleAccuracy)],
    [
      'ONNX verification',
      `${v.pass ? 'PASS' : 'FAIL'}: max abs ${v.maxAbs.toExponential(2)}, max rel ${v.maxRel.toExponential(2)} ` +
        `(atol ${v.tolerance.atol}, rtol ${v.tolerance.rtol}; ${v.cases.length} checks on ${v.provider.used}${fallback})`,
    ],
    ['output folder', s.outDir],
    ['wall time', `${s.seconds.toFixed(1)} s`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, val]) => `  ${k.padEnd(width)}  ${val}`).join('\n');
}
