/**
 * The training job: a validated JobConfig (src/config) in, a bundle out. Checks the output folder
 * and takes its lock before any work; loads the data the config names; builds the model from the
 * zoo; trains with Algorithm 1; evaluates every member, the implicit ensemble and the folded model;
 * exports ONNX, verifies it against onnxruntime, and publishes the bundle (model, manifest,
 * verification report, checkpoint, resolved config) as one transaction. While it trains, progress
 * checkpoints go to the output folder's work folder (every N minibatches, each epoch end, on a stop
 * request), so a killed or stopped run continues with `resume` and ends with the same weights. `latephase train` and
 * `latephase run` (the mnist-cnn preset) both run it.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { selectBackend, describeBackend } from '../src/backend/selectBackend';
import { Dataset, exampleCount, subset } from '../src/data/dataset';
import { zooRecipe } from '../models/index';
import { buildFromRecipe, ModelRecipe } from '../src/nn/modelRecipe';
import { autoWorkers } from '../src/train/dataParallel';
import { defaultGhostBatches, shardSizes } from '../src/train/gradients';
import { OutputFolder } from '../src/io/outputFolder';
import { faultPoint } from '../src/io/faultPoints';
import { describeChoice } from '../src/latephase/kindRegistry';
import { ConfigError, DataError, TrainingError, TrainingInterrupted } from '../src/errors';
import * as tf from '@tensorflow/tfjs-core';
import { describePosition, TrainSnapshot } from '../src/train/trainingState';
import { TrainConfig, trainLatePhase, resolveGammaTheta, StepInfo } from '../src/train/trainer';
import { learningRate } from '../src/train/schedule';
import { Augmentation } from '../src/data/augment';
import { MetricsLog, METRICS_LOG_FILE } from './metricsLog';
import { writePlots } from './plots';
import { accuracy } from '../src/eval/accuracy';
import { auroc, ClassMetrics, classMetrics, entropy, memberProbabilities, probabilities, ReliabilityBin, reliabilityBins } from '../src/eval/metrics';
import { Model } from '../src/nn/model';
import { foldMember, foldMembers } from '../src/latephase/fold';
import { exportOnnx, OnnxExport, OUTPUT_ROLE_MEANINGS, withMetadata } from '../export/onnx/exportOnnx';
import { goldenFromReference, InputSet, verifyExport, VerificationReport } from '../export/verify/verify';
import { chooseProvider } from '../export/verify/executionProvider';
import { BundleEvaluation, BundleExtras, writeBundle } from '../export/bundle/bundle';
import { exportEnsemble } from '../export/onnx/exportEnsemble';
import { ensembleInvariants, verifyEnsembleExport } from '../export/verify/verifyEnsemble';
import { memberCount } from '../src/latephase/members';
import { modelCard, ModelCardInfo } from '../export/bundle/modelCard';
import { tritonModelName } from '../export/bundle/triton';
import { ONNX_IMAGE_LAYOUT, isImageShape } from '../export/onnx/layout';
import { writeFileAtomic } from '../src/io/atomicWrite';
import { Rng } from '../src/nn/rng';
import { loadCheckpoint, readCheckpointHeader, saveCheckpoint } from '../src/train/checkpoint';
import { configDifferences } from '../src/config/resolve';
import { JobConfig } from '../src/config/schema';
import { JobData, loadJobData } from '../src/config/dataSource';

/** The trained late-phase model (all K members), for re-folding or further work. */
export const CHECKPOINT_FILE = 'latephase.ckpt';
/** An unfinished run's progress checkpoint, in the output folder's work folder. */
export const PROGRESS_FILE = 'progress.ckpt';
/** The resolved config the run used (every default filled in). */
export const CONFIG_FILE = 'config.json';

/** What evaluation found on the held-out data (and the OOD set, when the config names one). */
export interface JobMetrics {
  readonly folded: ClassMetrics;
  /** The implicit ensemble: the mean of the members' softmax outputs. */
  readonly ensemble: ClassMetrics;
  readonly members: readonly ClassMetrics[];
  /** Reliability diagram points (the ECE's bins). */
  readonly reliability: { readonly folded: readonly ReliabilityBin[]; readonly ensemble: readonly ReliabilityBin[] };
  /** AUROC of the predictive entropy, OOD examples against held-out ones. */
  readonly ood?: { readonly set: string; readonly folded: number; readonly ensemble: number };
}

export const METRICS_FILE = 'metrics.json';

export interface RunSummary {
  readonly backend: string;
  /** Data-parallel gradient worker threads besides the main one. */
  readonly workers: number;
  readonly accuracyBeforeLatePhase: number | null;
  readonly memberAccuracies: readonly number[];
  readonly foldedAccuracy: number;
  readonly ensembleAccuracy: number;
  readonly metrics: JobMetrics;
  readonly verification: VerificationReport;
  /** The implicit-ensemble export's verification (invariants included), when it was exported. */
  readonly ensembleVerification?: VerificationReport;
  readonly outDir: string;
  readonly seconds: number;
}

export interface JobOptions {
  readonly log?: (line: string) => void;
  /** Continue the interrupted run whose progress the output folder's work folder holds. */
  readonly resume?: boolean;
  /** Discard an interrupted run's progress and start over (without it, such progress is an error). */
  readonly restart?: boolean;
  /** Polled after every minibatch: true writes a progress checkpoint and stops with TrainingInterrupted (Ctrl-C, TERM). */
  readonly stopRequested?: () => boolean;
  /** Told when training starts and when it is over (the rest: evaluation, export, bundle). */
  readonly onPhase?: (phase: 'training' | 'finishing') => void;
  /** Called after every training step (the CLI's progress bar). */
  readonly onStep?: (info: StepInfo) => void;
}

/** Algorithm 1's settings from the job config (plain training: t0 = epochs, K = 1). */
export function trainConfigOf(cfg: JobConfig): TrainConfig {
  const late = cfg.latePhase.enabled;
  const s = cfg.schedule;
  return {
    epochs: cfg.epochs,
    t0: late ? cfg.latePhase.t0 : cfg.epochs,
    k: late ? cfg.latePhase.k : 1,
    sigma0: cfg.latePhase.sigma0,
    gammaTheta: cfg.latePhase.gammaTheta,
    batchSize: cfg.batchSize,
    seed: cfg.seed,
    shared: cfg.optimizer.shared,
    member: cfg.optimizer.members,
    schedule: s.kind === 'cosine' ? { kind: 'cosine', total: s.total ?? cfg.epochs, minLr: s.minLr } : s,
    lossCheckEvery: cfg.lossCheckEvery,
    ghostBatches: cfg.ghostBatches ?? defaultGhostBatches(cfg.batchSize),
    ...(cfg.swa && { swa: cfg.swa }),
  };
}

/** How the config's model is built, here and in every gradient worker: a zoo entry, or the user's module. */
export function recipeOf(cfg: JobConfig, dataClasses: number): ModelRecipe {
  const seqLen = cfg.data.source === 'text' ? { seqLen: cfg.data.seqLen } : {};
  const options = { seed: cfg.seed, latePhase: cfg.latePhase.kinds, classes: cfg.model.classes ?? dataClasses, ...seqLen };
  if ('zoo' in cfg.model) return zooRecipe(cfg.model.zoo, options);
  return { module: path.resolve(cfg.model.module), exportName: cfg.model.export, args: [...cfg.model.args, options] };
}

/** `workers`: 'auto' follows the backend (one per extra core on wasm/cpu, none on native ones). */
export function workerCount(raw: 'auto' | number, tfjsBackend: string): number {
  return raw === 'auto' ? autoWorkers(tfjsBackend) : raw;
}

/**
 * Workers only execute ghost batches: more workers than cores, or than the minibatch has ghost
 * batches besides this thread's, cannot help: capped, and said so. (The count never changes the
 * result: the ghost-batch count fixes the math.)
 */
export function capWorkers(requested: number, train: TrainConfig, log: (line: string) => void): number {
  const byCores = Math.max(os.cpus().length - 1, 0);
  const ghost = train.ghostBatches ?? defaultGhostBatches(train.batchSize);
  const byShards = Math.max(shardSizes(train.batchSize, ghost).length - 1, 0);
  const capped = Math.min(requested, byCores, byShards);
  if (capped < requested)
    log(`gradient workers: ${requested} requested, ${capped} used (${os.cpus().length} cores; ${byShards + 1} ghost batch(es) per minibatch)`);
  return capped;
}

function seededInputs(rows: number, perRow: number, seed: number): InputSet {
  const rng = new Rng(seed);
  const values = new Float32Array(rows * perRow);
  for (let i = 0; i < values.length; i++) values[i] = rng.next();
  return { label: 'seeded uniform [0,1)', values, rows };
}

function realInputs(data: Dataset, rows: number, label: string): InputSet {
  const n = Math.min(rows, exampleCount(data));
  return {
    label,
    values: subset(
      data,
      Array.from({ length: n }, (_, i) => i),
    ).x,
    rows: n,
  };
}

/** Run the job `cfg` describes; the bundle lands in `cfg.output` (default `out/<name>`). */
export async function runTrainJob(cfg: JobConfig, opts: JobOptions = {}): Promise<RunSummary> {
  const log = opts.log ?? console.log;
  const started = Date.now();
  chooseProvider(cfg.verify.ep, cfg.verify.allowCpuFallback); // fail before training, not after
  const folder = OutputFolder.open(path.resolve(cfg.output ?? path.join('out', cfg.name)), log); // checked, created and locked first
  try {
    return await trainAndBundle(cfg, folder, opts, log, started);
  } finally {
    folder.close();
  }
}

/** The config's augmentation for this data (image shape from the data or the config); undefined when off. */
export function augmentationOf(cfg: JobConfig, featureShape: readonly number[]): Augmentation | undefined {
  const a = cfg.augment;
  if (!a || (a.crop === 0 && !a.flip)) return undefined;
  const shape = a.imageShape ?? (featureShape.length === 3 ? (featureShape as [number, number, number]) : undefined);
  if (!shape) throw new ConfigError(`augment: the examples are flat [${featureShape.join(', ')}]; give augment.imageShape, e.g. [28, 28, 1]`);
  if (shape[0] * shape[1] * shape[2] !== featureShape.reduce((x, y) => x * y, 1))
    throw new ConfigError(`augment.imageShape [${shape.join(', ')}] does not hold the examples' [${featureShape.join(', ')}]`);
  return { crop: a.crop, flip: a.flip, imageShape: shape };
}

/**
 * How this run starts: fresh, or from the progress an interrupted run left in the work folder.
 * Progress of the same config is continued (a resumed run ends with the weights an uninterrupted
 * one would have, so starting over would only cost time); of a different config it is an error
 * naming the differences, unless `restart` discards it.
 */
function openRun(folder: OutputFolder, cfg: JobConfig, opts: JobOptions, log: (line: string) => void): boolean {
  const progress = path.join(folder.workDir, PROGRESS_FILE);
  if (fs.existsSync(progress) && opts.restart) {
    log(`output folder: discarded the interrupted run's progress in ${folder.workDir} (--restart)`);
    folder.clearWork();
  }
  if (fs.existsSync(progress)) {
    const { meta, position } = readProgressHeader(progress);
    const at = position ? describePosition(position) : 'its last checkpoint';
    const differences = resumeDifferences(meta['config'], cfg, progress);
    if (differences.length && opts.resume)
      throw new ConfigError(
        `cannot resume: the config differs from the interrupted run's (${differences.join('; ')}); only output and workers may change`,
      );
    if (differences.length)
      throw new ConfigError(
        `output folder '${folder.target}' holds an interrupted run (stopped at ${at}) with another config (${differences.join('; ')}); ` +
          `continue it with: latephase train --resume ${folder.target}   or start over with --restart (discards its progress)`,
      );
    if (!opts.resume) log(`output folder: continuing the interrupted run of the same config from ${at} (--restart starts over)`);
    for (const f of fs.readdirSync(folder.workDir)) if (f.endsWith('.tmp')) fs.rmSync(path.join(folder.workDir, f), { force: true });
    return true;
  }
  if (opts.resume) throw new ConfigError(`nothing to resume in '${folder.target}': no interrupted run's progress (${progress} does not exist)`);
  if (fs.existsSync(folder.workDir)) log('output folder: removed the work folder of a run killed before its first checkpoint');
  folder.clearWork();
  fs.mkdirSync(folder.workDir, { recursive: true });
  return false;
}

/** A progress checkpoint's header; one that cannot be read says how to start over (the file is left as it is). */
function readProgressHeader(file: string): ReturnType<typeof readCheckpointHeader> {
  try {
    return readCheckpointHeader(file);
  } catch (err) {
    if (err instanceof DataError) throw new DataError(`${err.message}; to start over, run again with --restart (discards it)`, { cause: err });
    throw err;
  }
}

/** Where the config stored in a progress checkpoint and this run's differ (workers and output may: they do not change the math). */
function resumeDifferences(stored: string | number | undefined, cfg: JobConfig, file: string): string[] {
  if (typeof stored !== 'string') throw new DataError(`progress checkpoint '${file}' holds no config`);
  return configDifferences(JSON.parse(stored) as unknown, cfg, RESUME_MAY_DIFFER);
}

/** Config fields a resumed run may change: where it writes and how many threads execute the ghost batches. */
export const RESUME_MAY_DIFFER: readonly string[] = ['output', 'workers'];

async function trainAndBundle(
  cfg: JobConfig,
  folder: OutputFolder,
  opts: JobOptions,
  log: (line: string) => void,
  started: number,
): Promise<RunSummary> {
  const resuming = openRun(folder, cfg, opts, log);
  const progressFile = path.join(folder.workDir, PROGRESS_FILE);
  let train = trainConfigOf(cfg);
  const late = cfg.latePhase.enabled;
  const backend = await selectBackend(cfg.backend);
  log(`backend: ${describeBackend(backend, true)}`);
  const data = loadJobData(cfg.data);
  if (train.batchSize > exampleCount(data.train))
    throw new ConfigError(`batchSize ${train.batchSize} is larger than the ${exampleCount(data.train)} training examples`);
  log(`data: ${data.description}`);
  const augment = augmentationOf(cfg, data.train.featureShape);
  if (augment) {
    train = { ...train, augment };
    log(
      `augmentation: ${augment.crop ? `random crop (padding ${augment.crop})` : 'no crop'}, ${augment.flip ? 'horizontal flip' : 'no flip'}, drawn per (seed, epoch, row)`,
    );
  }
  log(
    late
      ? `late phase: K=${train.k}, T0=${train.t0} of ${train.epochs} epochs, sigma0=${train.sigma0}, gammaTheta=${resolveGammaTheta(train.gammaTheta, train.k)}, batch ${train.batchSize}, seed ${train.seed}`
      : `no late phase: plain training for ${train.epochs} epochs, batch ${train.batchSize}, seed ${train.seed}`,
  );
  if (train.swa) log(`SWA: epoch ends from epoch ${train.swa.start + 1} on averaged, then BatchNorm statistics recomputed per member`);
  const workers = capWorkers(workerCount(cfg.workers, backend.tfjsBackend), train, log);
  log(`ghost batches: ${train.ghostBatches} per minibatch; gradient workers: ${workers === 0 ? 'none (one thread)' : `${workers} + this thread`}`);
  const recipe = recipeOf(cfg, data.train.classes);
  const model = buildFromRecipe(recipe);
  const test = data.test;
  let before: number | null = null;
  let staged: string | null = null;
  try {
    let resume: TrainSnapshot | undefined;
    let keepLines: number | undefined;
    if (resuming) {
      const info = loadCheckpoint(model, progressFile);
      if (!info.training) throw new DataError(`progress checkpoint '${progressFile}' holds no training state`);
      resume = info.training;
      keepLines = Number(info.meta['metricsLines'] ?? 0);
      if (typeof info.meta['accuracyBeforeLatePhase'] === 'number') before = info.meta['accuracyBeforeLatePhase'];
      const p = resume.position;
      log(`resuming from ${progressFile}: ${describePosition(p)} (${p.minibatches} minibatches done)`);
    }
    // The metrics log grows in the work folder (it survives a kill, so a resumed run continues it)
    // and moves into the bundle when the run completes.
    const metricsLog = new MetricsLog(path.join(folder.workDir, METRICS_LOG_FILE), test, cfg.evaluation.bins, keepLines);
    log(`metrics log: ${metricsLog.file} (moves into the output folder when the run completes)`);
    try {
      opts.onPhase?.('training');
      await trainLatePhase(
        model,
        data.train,
        train,
        {
          onStep: (s) => {
            faultPoint('step');
            metricsLog.step(s, learningRate(train.shared.lr, train.schedule, s.epoch, train.epochs));
            opts.onStep?.(s);
          },
          onEpochEnd: (e) => metricsLog.epoch(e, model),
          onRelease: (m) => {
            before = accuracy(m, test);
          },
          onCheckpoint: (snapshot) =>
            saveCheckpoint(
              model,
              progressFile,
              {
                job: cfg.name,
                config: JSON.stringify(cfg),
                metricsLines: metricsLog.lines,
                ...(before !== null && { accuracyBeforeLatePhase: before }),
              },
              snapshot,
              'checkpoint',
            ),
        },
        { workers, recipe },
        { resume, checkpointEvery: cfg.checkpoint.everySteps, stopRequested: opts.stopRequested },
      );
    } finally {
      opts.onPhase?.('finishing');
      if (resume) tf.dispose(resume.tensors.map((t) => t.tensor));
    }
    const fold = { batchNorm: 'exact', ...cfg.latePhase.fold };
    const folded = foldMembers(model, fold);
    try {
      const metrics = evaluate(cfg, model, folded, test, log);
      const foldedAccuracy = metrics.folded.accuracy;
      const unverified = exportOnnx(folded, {
        foldBatchNorm: cfg.export.foldBatchNorm,
        provenance: {
          job: cfg.name,
          latephase_K: train.k,
          latephase_T0_epochs: train.t0,
          epochs: train.epochs,
          ...Object.fromEntries(Object.entries(fold).map(([k, v]) => [`fold_${k}`, v])),
          late_phase_weights: late ? describeChoice(cfg.latePhase.kinds) : 'none (plain training)',
          swa: train.swa ? `epoch ends from epoch ${train.swa.start + 1}, BatchNorm recomputed per member` : 'none',
          backend: backend.choice,
          seed: train.seed,
          sigma0: train.sigma0,
          gamma_theta: resolveGammaTheta(train.gammaTheta, train.k),
          heldout_accuracy: foldedAccuracy.toFixed(4),
        },
      });
      if (unverified.batchNormFold)
        log(
          `BatchNorm folding pass: ${unverified.batchNormFold.folded} folded into Conv/Gemm, ${unverified.batchNormFold.kept.length} kept (not after a Conv/Gemm)`,
        );
      const perRow = unverified.input.dims.slice(1).reduce<number>((a, d) => a * Number(d), 1);
      const verification = await verifyExport(
        folded,
        unverified,
        [seededInputs(64, perRow, train.seed + 1), realInputs(test, 64, 'held-out examples')],
        {
          provider: cfg.verify.ep,
          allowCpuFallback: cfg.verify.allowCpuFallback,
        },
      );
      const exported = withMetadata(unverified, {
        'latephase.verification': `${verification.pass ? 'PASS' : 'FAIL'} against tfjs on onnxruntime ${verification.provider.used}: max abs ${verification.maxAbs.toExponential(2)}, max rel ${verification.maxRel.toExponential(2)} (atol ${verification.tolerance.atol}, rtol ${verification.tolerance.rtol}; ${verification.cases.length} checks)`,
      });
      const ensemble = cfg.export.ensemble && late ? await exportAndVerifyEnsemble(cfg, model, test, train.seed, log) : undefined;
      // (A failure here is caught below: the staged version is discarded, the folder untouched.)
      staged = folder.stage();
      saveCheckpoint(model, path.join(staged, CHECKPOINT_FILE), {
        job: cfg.name,
        seed: train.seed,
        epochs: train.epochs,
        t0: train.t0,
        k: train.k,
        config: JSON.stringify(cfg),
      });
      writeFileAtomic(path.join(staged, CONFIG_FILE), `${JSON.stringify(cfg, null, 2)}\n`);
      writeFileAtomic(path.join(staged, METRICS_FILE), `${JSON.stringify(metrics, null, 2)}\n`);
      writeFileAtomic(path.join(staged, METRICS_LOG_FILE), fs.readFileSync(metricsLog.file));
      await writePlots(staged, metricsLog.records(), { foldedAccuracy, reliability: metrics.reliability });
      const tritonName = tritonModelName(cfg.name);
      const evaluation = bundleEvaluation(metrics);
      writeBundle(staged, folded, exported, verification, {
        evaluation,
        golden: [1, 7].map((rows, n) =>
          goldenFromReference(folded, exported, test.x, Math.min(rows, exampleCount(test)), `held-out examples, batch ${rows} (set ${n})`),
        ),
        card: modelCard(cardInfo(cfg, data, folded, exported, evaluation, verification, tritonName)),
        triton: { name: tritonName, ...(data.labels && { labels: data.labels }) },
        ...(ensemble && { ensemble }),
      });
      if (verification.pass && (ensemble?.report.pass ?? true)) folder.publish(staged);
      else keepFailedBundle(folder.target, staged, log);
      folder.clearWork(); // the run is complete: nothing left to resume
      return {
        backend: describeBackend(backend),
        workers,
        accuracyBeforeLatePhase: before,
        memberAccuracies: metrics.members.map((m) => m.accuracy),
        foldedAccuracy,
        ensembleAccuracy: metrics.ensemble.accuracy,
        metrics,
        verification,
        ...(ensemble && { ensembleVerification: ensemble.report }),
        outDir: folder.target,
        seconds: (Date.now() - started) / 1000,
      };
    } finally {
      folded.dispose();
    }
  } catch (err) {
    if (staged) folder.discard(staged);
    throw explainStop(err, folder, progressFile);
  } finally {
    model.dispose();
  }
}

/** The implicit ensemble (all K members in one graph), verified against the tfjs ensemble, with its invariants. */
async function exportAndVerifyEnsemble(
  cfg: JobConfig,
  model: Model,
  test: Dataset,
  seed: number,
  log: (line: string) => void,
): Promise<NonNullable<BundleExtras['ensemble']>> {
  const members = Array.from({ length: memberCount(model) }, (_, k) => foldMember(model, k));
  try {
    const exported = exportEnsemble(members, { memberProbabilities: cfg.export.memberProbabilities, provenance: { job: cfg.name, seed } });
    const perRow = model.inputShape.reduce((a, b) => a * b, 1);
    const sets = [seededInputs(64, perRow, seed + 2), realInputs(test, 64, 'held-out examples')];
    const report = await verifyEnsembleExport(model, exported, sets, { provider: cfg.verify.ep, allowCpuFallback: cfg.verify.allowCpuFallback });
    const invariants = await ensembleInvariants(exported, model.inputShape, realInputs(test, 256, 'held-out examples'));
    log(
      `implicit ensemble export: ${members.length} members, ${exported.sharedInitializers} shared tensors stored once; verification ${report.pass ? 'PASS' : 'FAIL'} (max abs ${report.maxAbs.toExponential(2)}); invariants ${invariants.pass ? 'hold' : 'VIOLATED'}`,
    );
    return { exported, report: { ...report, pass: report.pass && invariants.pass }, invariants: { ...invariants } };
  } finally {
    members.forEach((m) => m.dispose());
  }
}

/** The model card's facts, from the config, the data and the export. */
function cardInfo(
  cfg: JobConfig,
  data: JobData,
  folded: Model,
  exported: OnnxExport,
  evaluation: BundleEvaluation,
  verification: VerificationReport,
  tritonName: string,
): ModelCardInfo {
  const model = 'zoo' in cfg.model ? `the ${cfg.model.zoo} model` : `the model built by ${cfg.model.module} (${cfg.model.export})`;
  const late = cfg.latePhase;
  const opt = (o: JobConfig['optimizer']['shared']): string =>
    `lr ${o.lr}, momentum ${o.momentum}${o.nesterov ? ' (Nesterov)' : ''}, weight decay ${o.weightDecay}`;
  return {
    name: cfg.name,
    summary: `${model[0]!.toUpperCase()}${model.slice(1)} (${folded
      .params()
      .reduce((n, p) => n + p.variable.size, 0)
      .toLocaleString('en-US')} parameters), predicting ${exampleCount(data.test) ? data.test.classes : '?'} classes.`,
    latePhase: late.enabled ? `${describeChoice(late.kinds)}, K = ${late.k} from epoch ${late.t0 + 1}` : 'none: plain training',
    trainingData: data.description,
    recipe: [
      `${cfg.epochs} epochs, batch ${cfg.batchSize} (${cfg.ghostBatches ?? defaultGhostBatches(cfg.batchSize)} ghost batch(es)), seed ${cfg.seed}`,
      `SGD, shared weights: ${opt(cfg.optimizer.shared)}; late-phase members: ${opt(cfg.optimizer.members)}; gamma_theta ${late.gammaTheta}`,
      `schedule: ${JSON.stringify(cfg.schedule)}`,
      cfg.swa ? `SWA over the ends of epochs ${cfg.swa.start + 1}-${cfg.epochs}, BatchNorm statistics recomputed per member` : 'no SWA',
      cfg.augment ? `augmentation: crop ${cfg.augment.crop}, flip ${cfg.augment.flip}` : 'no augmentation',
      `fold: ${JSON.stringify({ batchNorm: 'exact', ...late.fold })}`,
    ],
    evaluation,
    evaluationData: `the held-out part of ${data.description}`,
    input: {
      name: exported.input.name,
      dims: exported.input.dims,
      layout: isImageShape(folded.inputShape) ? `${ONNX_IMAGE_LAYOUT} (channels first)` : (folded.meta.inputLayout ?? 'flat'),
      preprocessing: folded.meta.preprocessing ?? 'none (normalisation is inside the graph)',
    },
    outputs: exported.outputs.map((o) => ({ name: o.name, dims: o.dims, meaning: OUTPUT_ROLE_MEANINGS[o.role] })),
    ...(data.labels && { labels: data.labels }),
    verification: `${verification.pass ? 'PASS' : 'FAIL'} against the tfjs model on ${verification.provider.used}, max abs ${verification.maxAbs.toExponential(2)} (atol ${verification.tolerance.atol}, rtol ${verification.tolerance.rtol})`,
    tritonName,
  };
}

/** The manifest's summary of the evaluation (metrics.json has everything). */
function bundleEvaluation(m: JobMetrics): BundleEvaluation {
  return { folded: m.folded, ensemble: m.ensemble, members: m.members, ...(m.ood && { ood: m.ood }), file: METRICS_FILE };
}

/** A stopped or diverged run says where its progress is and how to continue. */
function explainStop(err: unknown, folder: OutputFolder, progressFile: string): unknown {
  const position = fs.existsSync(progressFile) ? readCheckpointHeader(progressFile).position : undefined;
  const at = position ? describePosition(position) : 'the start';
  if (err instanceof TrainingInterrupted)
    return new TrainingInterrupted(
      `${err.message}; progress saved at ${at} in ${progressFile}; the output folder keeps its previous content. Continue with: latephase train --resume ${folder.target}`,
      { cause: err },
    );
  if (err instanceof TrainingError && position)
    return new TrainingError(`${err.message}. The last good checkpoint (${at}) is kept: ${progressFile}`, { cause: err });
  return err;
}

/** Folded model, every member and the implicit ensemble on the held-out data; OOD AUROC when configured. */
function evaluate(cfg: JobConfig, model: Model, folded: Model, test: Dataset, log: (line: string) => void): JobMetrics {
  const bins = cfg.evaluation.bins;
  const foldedProbs = probabilities(folded, test);
  const { members, ensemble } = memberProbabilities(model, test);
  const result = {
    folded: classMetrics(foldedProbs, test.y, bins),
    ensemble: classMetrics(ensemble, test.y, bins),
    members: cfg.latePhase.enabled ? members.map((p) => classMetrics(p, test.y, bins)) : [],
    reliability: { folded: reliabilityBins(foldedProbs, test.y, bins), ensemble: reliabilityBins(ensemble, test.y, bins) },
  };
  if (!cfg.evaluation.ood) return result;
  const ood = loadJobData(cfg.evaluation.ood);
  if (ood.test.featureShape.join() !== test.featureShape.join())
    throw new ConfigError(
      `evaluation.ood: its examples have shape [${ood.test.featureShape.join(', ')}], the model takes [${test.featureShape.join(', ')}]`,
    );
  log(`OOD set: ${ood.description} (test part, ${exampleCount(ood.test)} examples)`);
  const classes = test.classes;
  const score = (probs: Float32Array): Float64Array => entropy(probs, classes);
  const oodEnsemble = memberProbabilities(model, ood.test).ensemble;
  return {
    ...result,
    ood: {
      set: ood.description,
      folded: auroc(score(foldedProbs), score(probabilities(folded, ood.test))),
      ensemble: auroc(score(ensemble), score(oodEnsemble)),
    },
  };
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
const calibration = (m: ClassMetrics): string => `NLL ${m.nll.toFixed(4)}, ECE ${m.ece.toFixed(4)}, Brier ${m.brier.toFixed(4)}`;

export function summaryTable(s: RunSummary): string {
  const v = s.verification;
  const fallback = v.provider.fallbackReason ? ` (requested ${v.provider.requested}; fell back: ${v.provider.fallbackReason})` : '';
  const rows: Array<[string, string]> = [
    ['backend', s.backend],
    ['gradient threads', s.workers ? `${s.workers + 1} (data-parallel over the ghost batches)` : '1'],
    ['accuracy before late phase', s.accuracyBeforeLatePhase === null ? 'n/a (no late phase)' : pct(s.accuracyBeforeLatePhase)],
    ...s.memberAccuracies.map((a, k): [string, string] => [`member ${k}`, pct(a)]),
    ['folded model', `${pct(s.foldedAccuracy)}  ${calibration(s.metrics.folded)}`],
    ['implicit ensemble (mean softmax)', `${pct(s.ensembleAccuracy)}  ${calibration(s.metrics.ensemble)}`],
    ...(s.metrics.ood
      ? [
          [
            'OOD AUROC (entropy)',
            `folded ${s.metrics.ood.folded.toFixed(4)}, ensemble ${s.metrics.ood.ensemble.toFixed(4)} (against ${s.metrics.ood.set})`,
          ] as [string, string],
        ]
      : []),
    [
      'ONNX verification',
      `${v.pass ? 'PASS' : 'FAIL'}: max abs ${v.maxAbs.toExponential(2)}, max rel ${v.maxRel.toExponential(2)} ` +
        `(atol ${v.tolerance.atol}, rtol ${v.tolerance.rtol}; ${v.cases.length} checks on ${v.provider.used}${fallback})`,
    ],
    ...(s.ensembleVerification
      ? [
          [
            'ensemble export',
            `${s.ensembleVerification.pass ? 'PASS' : 'FAIL'}: ensemble.onnx (probabilities, entropy, mutual_information), max abs ${s.ensembleVerification.maxAbs.toExponential(2)}`,
          ] as [string, string],
        ]
      : []),
    ['output folder', s.outDir],
    ['wall time', `${s.seconds.toFixed(1)} s`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, val]) => `  ${k.padEnd(width)}  ${val}`).join('\n');
}
