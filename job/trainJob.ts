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
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend, describeBackend } from '../src/backend/selectBackend';
import { kernelThreads, useKernelThreads } from '../src/backend/kernelThreads';
import { nativeKernelsInUse } from '../src/backend/convolutionEngine';
import { exampleCount } from '../src/data/dataset';
import { buildFromRecipe } from '../src/nn/modelRecipe';
import { shardSizes } from '../src/train/gradients';
import { OutputFolder } from '../src/io/outputFolder';
import { faultPoint } from '../src/io/faultPoints';
import { ConfigError, DataError, TrainingError, TrainingInterrupted } from '../src/errors';
import { describePosition, TrainSnapshot } from '../src/train/trainingState';
import { TrainConfig, trainLatePhase, resolveGammaTheta, StepInfo } from '../src/train/trainer';
import { planRun, RunPlan, trainConfigFor } from './runPlan';
import { learningRate } from '../src/train/schedule';
import { describeParamGroups } from '../src/train/paramGroups';
import { MetricsLog } from './metricsLog';
import { METRICS_LOG_FILE, PROGRESS_FILE } from '../export/bundle/layout';
import { accuracy } from '../src/eval/accuracy';
import { chooseProvider } from '../export/verify/executionProvider';
import { loadCheckpoint, readCheckpointHeader, saveCheckpoint } from '../src/train/checkpoint';
import { configDifferences } from '../src/config/resolve';
import { JobConfig } from '../src/config/schema';
import { dataForModel, JobData, loadJobData } from '../src/config/dataSource';
import { Model } from '../src/nn/model';
import { finishRun, RunSummary } from './finishRun';
import { initFromPretrained } from './pretrainedWeights';
import { chooseParallelLayout } from './parallelLayout';
import { ModelRecipe, modelSignature } from '../src/nn/modelRecipe';
import { autoWorkers, availableCores } from '../src/train/dataParallel';

export type { JobMetrics, RunSummary } from './finishRun';

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

/** `workers`: 'auto' follows the backend (one per extra core on wasm/cpu, none on native ones). */
export function workerCount(raw: 'auto' | number, tfjsBackend: string): number {
  return raw === 'auto' ? autoWorkers(tfjsBackend) : raw;
}

/**
 * Workers only execute ghost batches: more workers than cores, or than the minibatch has ghost
 * batches besides this thread's, cannot help: capped, and said so. (The count never changes the
 * result: the ghost-batch count fixes the math.)
 */
function capWorkers(requested: number, train: TrainConfig, log: (line: string) => void): number {
  const byCores = Math.max(os.cpus().length - 1, 0);
  const byShards = Math.max(shardSizes(train.batchSize, train.ghostBatches ?? 1).length - 1, 0);
  const capped = Math.min(requested, byCores, byShards);
  if (capped < requested)
    log(`gradient workers: ${requested} requested, ${capped} used (${os.cpus().length} cores; ${byShards + 1} ghost batch(es) per minibatch)`);
  return capped;
}

/** Run the job `cfg` describes; the bundle lands in `cfg.output` (default `out/<name>`). */
export async function runTrainJob(cfg: JobConfig, opts: JobOptions = {}): Promise<RunSummary> {
  const log = opts.log ?? console.log;
  const started = Date.now();
  const plan = planRun(cfg); // from here on, only the plan is read
  chooseProvider(plan.verify.ep, plan.verify.allowCpuFallback); // fail before training, not after
  const folder = OutputFolder.open(plan.outDir, log); // checked, created and locked first
  try {
    return await trainAndBundle(plan, folder, opts, log, started);
  } catch (err) {
    folder.clearWorkWithout(PROGRESS_FILE);
    throw err;
  } finally {
    folder.close();
  }
}

/**
 * How this run starts: fresh, or from the progress an interrupted run left in the work folder.
 * Progress of the same config is continued (a resumed run ends with the weights an uninterrupted
 * one would have, so starting over would only cost time); of a different config it is an error
 * naming the differences, unless `restart` discards it.
 */
function openRun(folder: OutputFolder, plan: RunPlan, opts: JobOptions, log: (line: string) => void): boolean {
  const progress = path.join(folder.workDir, PROGRESS_FILE);
  if (fs.existsSync(progress) && opts.restart) {
    log(`output folder: discarded the interrupted run's progress in ${folder.workDir} (--restart)`);
    folder.clearWork();
  }
  if (fs.existsSync(progress)) {
    const { meta, position } = readProgressHeader(progress);
    const at = position ? describePosition(position) : 'its last checkpoint';
    const differences = resumeDifferences(meta['config'], plan.record, progress);
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
function resumeDifferences(stored: string | number | undefined, record: JobConfig, file: string): string[] {
  if (typeof stored !== 'string') throw new DataError(`progress checkpoint '${file}' holds no config`);
  return configDifferences(JSON.parse(stored) as unknown, record, RESUME_MAY_DIFFER);
}

/** Config fields a resumed run may change: where it writes and how many threads execute the ghost batches. */
const RESUME_MAY_DIFFER: readonly string[] = ['output', 'workers'];

/** The data as the model takes it, Algorithm 1's settings and the threads, each said in the log; a ConfigError where they cannot work. */
async function runSetUp(
  plan: RunPlan,
  loaded: JobData,
  model: Model,
  recipe: ModelRecipe,
  tfjsBackend: string,
  log: (line: string) => void,
): Promise<{ data: JobData; train: TrainConfig; workers: number; kernelThreadCount: number; layout: string | undefined }> {
  const data = dataForModel(loaded, model);
  const train = trainConfigFor(plan, data.train.featureShape);
  if (train.batchSize > exampleCount(data.train))
    throw new ConfigError(`batchSize ${train.batchSize} is larger than the ${exampleCount(data.train)} training examples`);
  log(`data: ${data.description}`);
  if (data.skipped)
    log(`data: skipped ${data.skipped.count} ${data.skipped.what}${data.skipped.examples.length ? `: ${data.skipped.examples.join(', ')}` : ''}`);
  const augment = train.augment;
  if (augment) {
    log(
      `augmentation: ${augment.resizedCrop ? `random resized crop (scale ${augment.resizedCrop.scale.join('-')}), ` : ''}${augment.crop ? `random crop (padding ${augment.crop})` : 'no crop'}, ${augment.flip ? 'horizontal flip' : 'no flip'}, drawn per (seed, epoch, row)`,
    );
  }
  log(
    plan.late
      ? `late phase: K=${train.k}, T0=${train.t0} of ${train.epochs} epochs, sigma0=${train.sigma0}, gammaTheta=${resolveGammaTheta(train.gammaTheta, train.k)}, batch ${train.batchSize}, seed ${train.seed}`
      : `no late phase: plain training for ${train.epochs} epochs, batch ${train.batchSize}, seed ${train.seed}`,
  );
  if (train.paramGroups) log(`parameter groups: ${describeParamGroups(train.paramGroups, model.params())}`);
  if (train.swa) log(`SWA: epoch ends from epoch ${train.swa.start + 1} on averaged, then BatchNorm statistics recomputed per member`);
  let workers = capWorkers(workerCount(plan.workers, tfjsBackend), train, log);
  // data-parallel workers take the other cores; else the native kernels split each call over them
  let kernelThreadCount = workers > 0 ? useKernelThreads(1) : kernelThreads();
  let layout: string | undefined;
  if (plan.workers === 'auto' && workers > 0 && nativeKernelsInUse() && availableCores() > 1) {
    // both layouts compute the same bits: the faster one, measured (parallelLayout.ts)
    const chosen = await chooseParallelLayout(recipe, modelSignature(model), data.train, train, workers, availableCores());
    workers = chosen.workers;
    kernelThreadCount = kernelThreads();
    layout = chosen.how;
    log(`parallel layout: ${chosen.how}`);
  }
  log(
    `ghost batches: ${train.ghostBatches} per minibatch; gradient workers: ${workers === 0 ? 'none (one thread)' : `${workers} + this thread`}` +
      (nativeKernelsInUse() ? `; native kernels on ${kernelThreadCount} thread${kernelThreadCount > 1 ? 's' : ''} per gradient thread` : ''),
  );
  return { data, train, workers, kernelThreadCount, layout };
}

async function trainAndBundle(
  plan: RunPlan,
  folder: OutputFolder,
  opts: JobOptions,
  log: (line: string) => void,
  started: number,
): Promise<RunSummary> {
  const resuming = openRun(folder, plan, opts, log);
  const progressFile = path.join(folder.workDir, PROGRESS_FILE);
  const backend = await selectBackend(plan.backend);
  log(`backend: ${describeBackend(backend, true)}`);
  const loaded = await loadJobData(plan.data);
  const recipe = plan.model.recipe(loaded.train.classes);
  const model = buildFromRecipe(recipe);
  let setUp: Awaited<ReturnType<typeof runSetUp>>;
  try {
    setUp = await runSetUp(plan, loaded, model, recipe, backend.tfjsBackend, log);
  } catch (err) {
    model.dispose(); // a config the data or the model cannot take: nothing else was started
    throw err;
  }
  const { data, train, workers, kernelThreadCount, layout } = setUp;
  const test = data.test;
  let before: number | null = null;
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
    } else if (plan.model.init) log(await initFromPretrained(model, plan.model, data.train.classes));
    // The metrics log grows in the work folder (it survives a kill, so a resumed run continues it)
    // and moves into the bundle when the run completes.
    const metricsLog = new MetricsLog(path.join(folder.workDir, METRICS_LOG_FILE), test, plan.evaluation.bins, keepLines);
    log(`metrics log: ${metricsLog.file} (moves into the output folder when the run completes)`);
    try {
      opts.onPhase?.('training');
      await trainLatePhase(model, data.train, train, {
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
              job: plan.name,
              config: JSON.stringify(plan.record),
              classes: data.train.classes,
              metricsLines: metricsLog.lines,
              ...(before !== null && { accuracyBeforeLatePhase: before }),
            },
            snapshot,
            'checkpoint',
          ),
        parallel: { workers, recipe },
        resume,
        checkpointEvery: plan.checkpointEvery,
        stopRequested: opts.stopRequested,
      });
    } finally {
      opts.onPhase?.('finishing');
      if (resume) tf.dispose(resume.tensors.map((t) => t.tensor));
    }
    return await finishRun({
      plan,
      model,
      data,
      folder,
      backend,
      workers,
      kernelThreads: nativeKernelsInUse() ? kernelThreadCount : 0,
      ...(layout && { layout }),
      before,
      metricsLog: fs.readFileSync(metricsLog.file),
      log,
      started,
    });
  } catch (err) {
    throw explainStop(err, folder, progressFile);
  } finally {
    model.dispose();
  }
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
