/**
 * The second half of a run, shared by `latephase train` (after training) and `latephase bundle`
 * (from a trained model's checkpoint): evaluate every member, the implicit ensemble and the folded
 * model; export ONNX (BatchNorm folded, with fp16 and ensemble variants when configured); verify
 * each; and publish the bundle (model, card, goldens, Triton repository, metrics, plots,
 * checkpoint, config, manifest) as one transaction.
 */
import * as fs from 'fs';
import { describeBackend, selectBackend } from '../src/backend/selectBackend';
import { Examples, exampleCount, featureRows, rowRange } from '../src/data/dataset';
import { describeChoice } from '../src/latephase/kindRegistry';
import { ConfigError } from '../src/errors';
import { resolveGammaTheta, TrainConfig } from '../src/train/trainer';
import { auroc, ClassMetrics, classMetrics, entropy, memberProbabilities, probabilities, ReliabilityBin, reliabilityBins } from '../src/eval/metrics';
import { Model } from '../src/nn/model';
import { foldMember, foldMembers } from '../src/latephase/fold';
import { memberCount } from '../src/latephase/members';
import { exportOnnx, OnnxExport, OUTPUT_ROLE_MEANINGS, withMetadata } from '../export/onnx/exportOnnx';
import { exportEnsemble } from '../export/onnx/exportEnsemble';
import { goldenFromReference, InputSet, seededInputs, verifyExport, VerificationReport } from '../export/verify/verify';
import { ensembleInvariants, verifyEnsembleExport } from '../export/verify/verifyEnsemble';
import { verifyPrecision } from '../export/verify/verifyPrecision';
import { BundleEvaluation, BundleExtras, RunRecord, writeBundle } from '../export/bundle/bundle';
import { METRICS_FILE } from '../export/bundle/layout';
import { modelCard, ModelCardInfo } from '../export/bundle/modelCard';
import { tritonModelName } from '../export/bundle/triton';
import { ONNX_IMAGE_LAYOUT, isImageShape } from '../export/onnx/layout';
import { OutputFolder } from '../src/io/outputFolder';
import { saveCheckpoint } from '../src/train/checkpoint';
import { RunPlan } from './runPlan';
import { JobData, loadJobData } from '../src/config/dataSource';
import { renderPlots, LogRecord } from './plots';

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

export interface RunSummary {
  readonly backend: string;
  /** Inputs the data source left out (unreadable images, CSV rows with missing values), counted. */
  readonly skipped?: JobData['skipped'];
  /** Data-parallel gradient worker threads besides the main one. */
  readonly workers: number;
  /** Threads each native kernel call was split over (0: the native kernels did not run). */
  readonly kernelThreads: number;
  /** How `workers: auto` chose between data-parallel workers and kernel threads, when it measured. */
  readonly layout?: string;
  readonly accuracyBeforeLatePhase: number | null;
  readonly memberAccuracies: readonly number[];
  readonly foldedAccuracy: number;
  readonly ensembleAccuracy: number;
  readonly metrics: JobMetrics;
  readonly verification: VerificationReport;
  /** The implicit-ensemble export's verification (invariants included), when it was exported. */
  readonly ensembleVerification?: VerificationReport;
  /** Whether the fp16-weight export matched the fp32 one within fp16 tolerances, when it was written. */
  readonly fp16Pass?: boolean;
  readonly outDir: string;
  readonly seconds: number;
}

function realInputs(data: Examples, rows: number, label: string): InputSet {
  const n = Math.min(rows, exampleCount(data));
  return { label, values: featureRows(data, rowRange(0, n)), rows: n };
}

interface FinishInput {
  readonly plan: RunPlan;
  /** The trained late-phase model (all K members); not disposed here. */
  readonly model: Model;
  readonly data: JobData;
  readonly folder: OutputFolder;
  readonly backend: Awaited<ReturnType<typeof selectBackend>>;
  readonly workers: number;
  /** Threads each native kernel call is split over (0: the native kernels do not run). */
  readonly kernelThreads?: number;
  /** How `workers: auto` chose its layout, when it measured (parallelLayout.ts). */
  readonly layout?: string;
  readonly before: number | null;
  /** The run's metrics log (JSON lines), copied into the bundle and plotted. */
  readonly metricsLog: Buffer | null;
  readonly log: (line: string) => void;
  readonly started: number;
}

/** Evaluate, export and verify, then publish; the folder keeps its previous content unless everything verified. */
export async function finishRun(input: FinishInput): Promise<RunSummary> {
  const { plan, model, folder, backend, workers, before, started } = input;
  const folded = withDataMeta(foldMembers(model, plan.fold), input.data);
  try {
    const metrics = await evaluate(plan, model, folded, input.data.test, input.log);
    const exports = await exportAndVerify(input, folded, metrics);
    await publish(input, folded, metrics, exports);
    return {
      backend: describeBackend(backend),
      ...(input.data.skipped && { skipped: input.data.skipped }),
      workers,
      kernelThreads: input.kernelThreads ?? 0,
      ...(input.layout && { layout: input.layout }),
      accuracyBeforeLatePhase: before,
      memberAccuracies: metrics.members.map((m) => m.accuracy),
      foldedAccuracy: metrics.folded.accuracy,
      ensembleAccuracy: metrics.ensemble.accuracy,
      metrics,
      verification: exports.verification,
      ...(exports.ensemble && { ensembleVerification: exports.ensemble.report }),
      ...(exports.fp16 && { fp16Pass: exports.fp16.report.pass }),
      outDir: folder.target,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    folded.dispose();
  }
}

/** The folded model with the data's preprocessing and class names in its meta (the manifest and the model card state them for deployers). */
function withDataMeta(folded: Model, data: JobData): Model {
  if (!data.preprocessing && !data.labels) return folded;
  const meta = { ...folded.meta, ...(data.preprocessing && { preprocessing: data.preprocessing }), ...(data.labels && { labels: data.labels }) };
  return new Model(folded.name, folded.net, folded.inputShape, meta);
}

/** The exports a run publishes, each verified. */
interface VerifiedExports {
  readonly exported: OnnxExport;
  readonly verification: VerificationReport;
  readonly fp16?: NonNullable<BundleExtras['fp16']>;
  readonly ensemble?: NonNullable<BundleExtras['ensemble']>;
}

/** model.onnx (with the run's provenance) verified against the folded model; the fp16 and ensemble variants when configured. */
async function exportAndVerify(input: FinishInput, folded: Model, metrics: JobMetrics): Promise<VerifiedExports> {
  const { plan, model, backend, log } = input;
  const { late, train, fold } = plan;
  const test = input.data.test;
  const unverified = exportOnnx(folded, {
    foldBatchNorm: plan.export.foldBatchNorm,
    provenance: {
      job: plan.name,
      model_source: plan.model.description,
      latephase_K: train.k,
      latephase_T0_epochs: train.t0,
      epochs: train.epochs,
      ...Object.fromEntries(Object.entries(fold).map(([k, v]) => [`fold_${k}`, v])),
      late_phase_weights: late ? describeChoice(plan.kinds) : 'none (plain training)',
      swa: train.swa ? `epoch ends from epoch ${train.swa.start + 1}, BatchNorm recomputed per member` : 'none',
      backend: backend.choice,
      seed: train.seed,
      sigma0: train.sigma0,
      gamma_theta: resolveGammaTheta(train.gammaTheta, train.k),
      heldout_accuracy: metrics.folded.accuracy.toFixed(4),
      ...(input.data.skipped && {
        data_skipped: `${input.data.skipped.count} ${input.data.skipped.what}: ${input.data.skipped.examples.join(', ')}`,
      }),
    },
  });
  if (unverified.batchNormFold)
    log(
      `BatchNorm folding pass: ${unverified.batchNormFold.folded} folded into Conv/Gemm, ${unverified.batchNormFold.kept.length} kept (not after a Conv/Gemm)`,
    );
  const perRow = unverified.input.dims.slice(1).reduce<number>((a, d) => a * Number(d), 1);
  const verification = await verifyExport(folded, unverified, [seededInputs(64, perRow, train.seed + 1), realInputs(test, 64, 'held-out examples')], {
    provider: plan.verify.ep,
    allowCpuFallback: plan.verify.allowCpuFallback,
  });
  const exported = withMetadata(unverified, {
    'latephase.verification': `${verification.pass ? 'PASS' : 'FAIL'} against tfjs on onnxruntime ${verification.provider.used}: max abs ${verification.maxAbs.toExponential(2)}, max rel ${verification.maxRel.toExponential(2)} (atol ${verification.tolerance.atol}, rtol ${verification.tolerance.rtol}; ${verification.cases.length} checks)`,
  });
  const fp16 = plan.export.fp16 ? await exportAndCheckFp16(plan, folded, exported, test, log) : undefined;
  const ensemble = plan.export.ensemble && late ? await exportAndVerifyEnsemble(plan, model, test, log) : undefined;
  return { exported, verification, ...(fp16 && { fp16 }), ...(ensemble && { ensemble }) };
}

/**
 * Stage the bundle (the run's record and every export, written by writeBundle in the layout's
 * order) and publish it if everything verified; a failure leaves the folder as it was.
 */
async function publish(input: FinishInput, folded: Model, metrics: JobMetrics, exports: VerifiedExports): Promise<void> {
  const { plan, model, data, folder, before, log } = input;
  const { train } = plan;
  const test = data.test;
  const records = input.metricsLog
    ? input.metricsLog
        .toString('utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as LogRecord)
    : [];
  const plots = await renderPlots(records, { foldedAccuracy: metrics.folded.accuracy, reliability: metrics.reliability });
  const { exported, verification, fp16, ensemble } = exports;
  const tritonName = tritonModelName(plan.name);
  const evaluation = bundleEvaluation(metrics);
  const run: RunRecord = {
    checkpoint: (file) =>
      saveCheckpoint(model, file, {
        job: plan.name,
        seed: train.seed,
        epochs: train.epochs,
        t0: train.t0,
        k: train.k,
        classes: input.data.train.classes,
        config: JSON.stringify(plan.record),
        ...(before !== null && { accuracyBeforeLatePhase: before }), // for `latephase bundle` to report it again
      }),
    config: `${JSON.stringify(plan.record, null, 2)}\n`,
    metrics: `${JSON.stringify(metrics, null, 2)}\n`,
    ...(input.metricsLog && { metricsLog: input.metricsLog }),
    plots,
  };
  const staged = folder.stage();
  try {
    writeBundle(staged, folded, exported, verification, {
      run,
      evaluation,
      golden: [1, 7].map((rows, n) =>
        goldenFromReference(
          folded,
          exported,
          featureRows(test, rowRange(0, Math.min(rows, exampleCount(test)))),
          Math.min(rows, exampleCount(test)),
          `held-out examples, batch ${rows} (set ${n})`,
        ),
      ),
      card: modelCard(cardInfo(plan, data, folded, exported, evaluation, verification, tritonName)),
      triton: { name: tritonName, ...(data.labels && { labels: data.labels }) },
      ...(input.layout && { execution: { parallel_layout: input.layout } }),
      ...(ensemble && { ensemble }),
      ...(fp16 && { fp16 }),
      ...(plan.export.externalDataThreshold !== undefined && { externalDataThreshold: plan.export.externalDataThreshold }),
    });
    if (verification.pass && (ensemble?.report.pass ?? true) && (fp16?.report.pass ?? true)) folder.publish(staged);
    else keepFailedBundle(folder.target, staged, log);
  } catch (err) {
    folder.discard(staged);
    throw err;
  }
  folder.clearWork(); // the run is complete: nothing left to resume
}

/** model.fp16.onnx: fp16 weight storage, checked against the fp32 export on held-out data (fp16 tolerances, argmax agreement). */
async function exportAndCheckFp16(
  plan: RunPlan,
  folded: Model,
  exported: OnnxExport,
  test: Examples,
  log: (line: string) => void,
): Promise<NonNullable<BundleExtras['fp16']>> {
  const fp16 = exportOnnx(folded, {
    foldBatchNorm: plan.export.foldBatchNorm,
    weights: 'fp16',
    provenance: { job: plan.name, seed: plan.train.seed },
  });
  const report = await verifyPrecision(fp16, exported, folded.inputShape, realInputs(test, 512, 'held-out examples'));
  const c = fp16.fp16!;
  const agreement = Math.min(...report.outputs.map((o) => o.argmaxAgreement ?? 1));
  log(
    `fp16 weights: ${c.tensors} tensors (${c.clipped} clipped, ${c.flushedToZero} flushed to 0); against fp32 on ${report.rows} held-out examples ${report.pass ? 'PASS' : 'FAIL'} (atol ${report.tolerance.atol}, rtol ${report.tolerance.rtol}; argmax agreement ${(100 * agreement).toFixed(2)}%)`,
  );
  return { exported: fp16, report };
}

/** The implicit ensemble (all K members in one graph), verified against the tfjs ensemble, with its invariants. */
async function exportAndVerifyEnsemble(
  plan: RunPlan,
  model: Model,
  test: Examples,
  log: (line: string) => void,
): Promise<NonNullable<BundleExtras['ensemble']>> {
  const seed = plan.train.seed;
  const members = Array.from({ length: memberCount(model) }, (_, k) => foldMember(model, k, plan.fold));
  try {
    const exported = exportEnsemble(members, {
      memberProbabilities: plan.export.memberProbabilities,
      foldBatchNorm: plan.export.foldBatchNorm,
      provenance: { job: plan.name, seed },
    });
    const perRow = model.inputShape.reduce((a, b) => a * b, 1);
    const sets = [seededInputs(64, perRow, seed + 2), realInputs(test, 64, 'held-out examples')];
    const report = await verifyEnsembleExport(model, exported, sets, { provider: plan.verify.ep, allowCpuFallback: plan.verify.allowCpuFallback });
    const invariants = await ensembleInvariants(exported, model.inputShape, realInputs(test, 256, 'held-out examples'));
    log(
      `implicit ensemble export: ${members.length} members, ${exported.sharedInitializers} shared tensors stored once${exported.batchNormFold ? `, BatchNorm ${exported.batchNormFold.folded} folded / ${exported.batchNormFold.kept.length} kept` : ''}; verification ${report.pass ? 'PASS' : 'FAIL'} (max abs ${report.maxAbs.toExponential(2)}); invariants ${invariants.pass ? 'hold' : 'VIOLATED'}`,
    );
    return { exported, report: { ...report, pass: report.pass && invariants.pass }, invariants: { ...invariants } };
  } finally {
    members.forEach((m) => m.dispose());
  }
}

/** The model card's facts, from the config, the data and the export. */
function cardInfo(
  plan: RunPlan,
  data: JobData,
  folded: Model,
  exported: OnnxExport,
  evaluation: BundleEvaluation,
  verification: VerificationReport,
  tritonName: string,
): ModelCardInfo {
  const model = plan.model.description;
  const train = plan.train;
  const opt = (o: TrainConfig['shared']): string =>
    `lr ${o.lr}, momentum ${o.momentum}${o.nesterov ? ' (Nesterov)' : ''}, weight decay ${o.weightDecay}`;
  return {
    name: plan.name,
    summary: `${model[0]!.toUpperCase()}${model.slice(1)} (${folded
      .params()
      .reduce((n, p) => n + p.variable.size, 0)
      .toLocaleString('en-US')} parameters), predicting ${exampleCount(data.test) ? data.test.classes : '?'} classes.`,
    latePhase: plan.late ? `${describeChoice(plan.kinds)}, K = ${train.k} from epoch ${train.t0 + 1}` : 'none: plain training',
    trainingData: data.description,
    recipe: [
      `${train.epochs} epochs, batch ${train.batchSize} (${train.ghostBatches} ghost batch(es)), seed ${train.seed}`,
      `SGD, shared weights: ${opt(train.shared)}; late-phase members: ${opt(train.member)}; gamma_theta ${train.gammaTheta}`,
      `schedule: ${JSON.stringify(train.schedule)}`,
      train.swa ? `SWA over the ends of epochs ${train.swa.start + 1}-${train.epochs}, BatchNorm statistics recomputed per member` : 'no SWA',
      plan.augment
        ? `augmentation: ${plan.augment.resizedCrop ? `random resized crop (scale ${plan.augment.resizedCrop.scale.join('-')}, ratio ${plan.augment.resizedCrop.ratio.map((v) => v.toFixed(2)).join('-')}), ` : ''}crop ${plan.augment.crop}, flip ${plan.augment.flip}`
        : 'no augmentation',
      `fold: ${JSON.stringify(plan.fold)}`,
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

/** Folded model, every member and the implicit ensemble on the held-out data; OOD AUROC when configured. */
async function evaluate(plan: RunPlan, model: Model, folded: Model, test: Examples, log: (line: string) => void): Promise<JobMetrics> {
  const bins = plan.evaluation.bins;
  const foldedProbs = probabilities(folded, test);
  const { members, ensemble } = memberProbabilities(model, test);
  const result = {
    folded: classMetrics(foldedProbs, test.y, bins),
    ensemble: classMetrics(ensemble, test.y, bins),
    members: plan.late ? members.map((p) => classMetrics(p, test.y, bins)) : [],
    reliability: { folded: reliabilityBins(foldedProbs, test.y, bins), ensemble: reliabilityBins(ensemble, test.y, bins) },
  };
  if (!plan.evaluation.ood) return result;
  const ood = await loadJobData(plan.evaluation.ood);
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
