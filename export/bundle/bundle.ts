/**
 * Writes a deployment bundle, every file in the order layout.ts gives (which also owns every
 * name): a training run's record (checkpoint, config, metrics, log, plots), model.onnx, the fp16
 * and ensemble variants with their reports, verification.json, golden test data (model-zoo
 * layout), the model card, a Triton model repository, and manifest.json last (inputs, outputs,
 * layout, preprocessing, provenance, evaluation, verdict, and size + SHA-256 of every other file).
 * Each file is written atomically; the folder as a whole is made visible by OutputFolder.publish.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../../src/io/atomicWrite';
import type { Model } from '../../src/nn/model';
import { PACKAGE } from '../../src/version';
import { OnnxExport, OUTPUT_ROLE_MEANINGS, OutputRole, TensorSignature } from '../onnx/exportOnnx';
import { ONNX_IMAGE_LAYOUT, isImageShape } from '../onnx/layout';
import { VerificationReport } from '../verify/verify';
import { ClassMetrics } from '../../src/eval/metrics';
import { GoldenSet, writeGoldenSets } from '../verify/golden';
import { inspectOnnx } from '../verify/inspect';
import { decodeModel } from '../../src/onnx/readOnnx';
import { TRITON_ENSEMBLE_SUFFIX, tritonConfig } from './triton';
import {
  CARD_FILE,
  CHECKPOINT_FILE,
  CONFIG_FILE,
  ENSEMBLE_FILE,
  ENSEMBLE_REPORT_FILE,
  FP16_FILE,
  FP16_REPORT_FILE,
  GOLDEN_DIR,
  MANIFEST_FILE,
  METRICS_FILE,
  METRICS_LOG_FILE,
  MODEL_FILE,
  PlotFile,
  REPORT_FILE,
  TRITON_CONFIG_FILE,
  TRITON_DIR,
  TRITON_LABELS_FILE,
  TRITON_VERSION_DIR,
} from './layout';
import { splitExternalData, writeModelFiles } from '../onnx/passes/externalData';
import { PrecisionReport } from '../verify/verifyPrecision';

/** Held-out results of the bundled model (the training job's evaluation); details in the file named. */
export interface BundleEvaluation {
  readonly folded: ClassMetrics;
  /** The implicit ensemble (mean of the members' softmax outputs) of the late-phase model the bundle was folded from. */
  readonly ensemble: ClassMetrics;
  readonly members: readonly ClassMetrics[];
  /** AUROC of the predictive entropy, OOD examples against held-out ones. */
  readonly ood?: { readonly set: string; readonly folded: number; readonly ensemble: number };
  /** The file with everything (reliability bins included). */
  readonly file: string;
}

export interface Manifest {
  readonly format: 'latephase-bundle/1';
  readonly producer: string;
  readonly createdAt: string;
  readonly model: { readonly file: string; readonly bytes: number; readonly sha256: string; readonly opset: number; readonly irVersion: number };
  /** Every file of the bundle but the manifest itself, by name. */
  readonly files: Readonly<Record<string, { readonly bytes: number; readonly sha256: string }>>;
  readonly inputs: ReadonlyArray<TensorSignature & { readonly dtype: 'float32'; readonly layout: string; readonly preprocessing: string }>;
  readonly outputs: ReadonlyArray<TensorSignature & { readonly role: OutputRole; readonly dtype: 'float32'; readonly meaning: string }>;
  readonly labels?: readonly string[];
  readonly provenance: Readonly<Record<string, string>>;
  /** How the training run executed, beside what the model is (not in model.onnx: it does not change the weights): the parallel layout `workers: auto` chose. */
  readonly execution?: Readonly<Record<string, string>>;
  readonly evaluation?: BundleEvaluation;
  /** The implicit-ensemble model, when exported. */
  readonly ensemble?: {
    readonly file: string;
    readonly outputs: ReadonlyArray<TensorSignature & { readonly role: OutputRole; readonly dtype: 'float32'; readonly meaning: string }>;
    readonly verification: { readonly pass: boolean; readonly maxAbs: number; readonly report: string };
  };
  readonly verification: {
    readonly pass: boolean;
    readonly provider: string;
    readonly maxAbs: number;
    readonly maxRel: number;
    readonly atol: number;
    readonly rtol: number;
    readonly report: string;
  };
}

const sha256 = (bytes: Uint8Array): string => crypto.createHash('sha256').update(bytes).digest('hex');

/** Size and SHA-256 of every regular file under `dir` (subfolders included, as `a/b`) except the manifest and dotfiles, sorted by name. */
function hashFiles(dir: string, prefix = ''): Manifest['files'] {
  const out: Record<string, { bytes: number; sha256: string }> = {};
  for (const name of fs.readdirSync(path.join(dir, prefix)).sort()) {
    const rel = prefix ? `${prefix}/${name}` : name;
    if (rel === MANIFEST_FILE || name.startsWith('.')) continue;
    const st = fs.lstatSync(path.join(dir, rel));
    if (st.isDirectory()) Object.assign(out, hashFiles(dir, rel));
    else if (st.isFile()) {
      const bytes = fs.readFileSync(path.join(dir, rel));
      out[rel] = { bytes: bytes.length, sha256: sha256(bytes) };
    }
  }
  return out;
}

/** What the manifest says of the model beyond its export: its input shape (the layout) and its meta (labels, preprocessing). */
export type ModelFacts = Pick<Model, 'inputShape' | 'meta'>;

export function buildManifest(
  model: ModelFacts,
  exported: OnnxExport,
  report: VerificationReport,
  files: Manifest['files'] = {},
  evaluation?: BundleEvaluation,
): Manifest {
  const layout = isImageShape(model.inputShape) ? `${ONNX_IMAGE_LAYOUT} (channels first)` : (model.meta.inputLayout ?? 'flat');
  return {
    format: 'latephase-bundle/1',
    producer: `${PACKAGE.name} ${PACKAGE.version}`,
    createdAt: new Date().toISOString(),
    model: {
      file: MODEL_FILE,
      bytes: exported.bytes.length,
      sha256: sha256(exported.bytes),
      opset: exported.opset,
      irVersion: exported.irVersion,
    },
    files,
    inputs: [{ ...exported.input, dtype: 'float32', layout, preprocessing: model.meta.preprocessing ?? 'none' }],
    outputs: exported.outputs.map((o) => ({
      ...o,
      dtype: 'float32',
      meaning: OUTPUT_ROLE_MEANINGS[o.role],
    })),
    ...(model.meta.labels ? { labels: model.meta.labels } : {}),
    provenance: exported.metadata,
    ...(evaluation && { evaluation }),
    verification: {
      pass: report.pass,
      provider: report.provider.used,
      maxAbs: report.maxAbs,
      maxRel: report.maxRel,
      atol: report.tolerance.atol,
      rtol: report.tolerance.rtol,
      report: REPORT_FILE,
    },
  };
}

interface BundlePaths {
  readonly dir: string;
  readonly model: string;
  readonly manifest: string;
  readonly report: string;
}

/** What a deployment bundle carries beside the model (all optional). */
export interface BundleExtras {
  readonly evaluation?: BundleEvaluation;
  /** Golden inputs/outputs, written under `test_data/` in the model-zoo layout. */
  readonly golden?: readonly GoldenSet[];
  /** The model card, written as README.md. */
  readonly card?: string;
  /** The implicit-ensemble export, written as ensemble.onnx with its verification report. */
  readonly ensemble?: { readonly exported: OnnxExport; readonly report: VerificationReport; readonly invariants: Readonly<Record<string, unknown>> };
  /** The fp16-weight export, written as model.fp16.onnx with its check against the fp32 export. */
  readonly fp16?: { readonly exported: OnnxExport; readonly report: PrecisionReport };
  /** Initializers of this many bytes or more go to external data (`<model file>.data`); absent: all inline. */
  readonly externalDataThreshold?: number;
  /** A Triton model repository under `triton/`. */
  readonly triton?: { readonly name: string; readonly labels?: readonly string[]; readonly maxBatch?: number };
  /** A training run's record: checkpoint, resolved config, evaluation, metrics log and plots. */
  readonly run?: RunRecord;
  /** How the run executed (the manifest's `execution`): facts that do not change the model. */
  readonly execution?: Readonly<Record<string, string>>;
}

/** What a training run adds to its bundle (written first, in the layout's order). */
export interface RunRecord {
  /** Writes the trained late-phase model's checkpoint to the file named. */
  readonly checkpoint: (file: string) => void;
  /** The resolved config, JSON. */
  readonly config: string;
  /** The evaluation, JSON. */
  readonly metrics: string;
  /** The training log (JSON lines), when the run kept one. */
  readonly metricsLog?: Uint8Array;
  /** The plots, SVG text by file. */
  readonly plots?: Readonly<Record<PlotFile, string>>;
}

/** Writes the bundle into `dir`; the manifest goes last and hashes every file already there. */
export function writeBundle(
  dir: string,
  model: ModelFacts,
  exported: OnnxExport,
  report: VerificationReport,
  extras: BundleExtras = {},
): BundlePaths {
  const paths = { dir, model: path.join(dir, MODEL_FILE), manifest: path.join(dir, MANIFEST_FILE), report: path.join(dir, REPORT_FILE) };
  /** A model file in `dir` (or a subfolder), its large weights in `<file>.data` beside it when a threshold is set. */
  const writeModel = (file: string, bytes: Uint8Array, subfolder = ''): void => {
    const split =
      extras.externalDataThreshold === undefined
        ? { model: bytes, external: null }
        : splitExternalData(bytes, extras.externalDataThreshold, `${file}.data`);
    const at = path.join(dir, subfolder);
    fs.mkdirSync(at, { recursive: true });
    writeModelFiles(at, file, split.model, split.external);
  };
  if (extras.run) writeRunRecord(dir, extras.run);
  writeModel(MODEL_FILE, exported.bytes);
  if (extras.fp16) {
    writeModel(FP16_FILE, extras.fp16.exported.bytes);
    writeFileAtomic(path.join(dir, FP16_REPORT_FILE), `${JSON.stringify({ ...extras.fp16.report, counts: extras.fp16.exported.fp16 }, null, 2)}\n`);
  }
  writeFileAtomic(paths.report, `${JSON.stringify(report, null, 2)}\n`);
  if (extras.golden) writeGoldenSets(path.join(dir, GOLDEN_DIR), extras.golden);
  if (extras.card) writeFileAtomic(path.join(dir, CARD_FILE), extras.card);
  if (extras.triton) {
    writeTritonRepository(dir, extras.triton.name, exported, extras.triton, writeModel);
    // Deployments for uncertainty serve the ensemble (probabilities, entropy, mutual information) beside it.
    if (extras.ensemble)
      writeTritonRepository(dir, `${extras.triton.name}${TRITON_ENSEMBLE_SUFFIX}`, extras.ensemble.exported, extras.triton, writeModel);
  }
  if (extras.ensemble) {
    writeModel(ENSEMBLE_FILE, extras.ensemble.exported.bytes);
    writeFileAtomic(
      path.join(dir, ENSEMBLE_REPORT_FILE),
      `${JSON.stringify({ ...extras.ensemble.report, invariants: extras.ensemble.invariants }, null, 2)}\n`,
    );
  }
  const manifest = buildManifest(model, exported, report, hashFiles(dir), extras.evaluation);
  const ensemble = extras.ensemble && {
    file: ENSEMBLE_FILE,
    outputs: extras.ensemble.exported.outputs.map((o) => ({ ...o, dtype: 'float32' as const, meaning: OUTPUT_ROLE_MEANINGS[o.role] })),
    verification: { pass: extras.ensemble.report.pass, maxAbs: extras.ensemble.report.maxAbs, report: ENSEMBLE_REPORT_FILE },
  };
  const fp16 = extras.fp16 && {
    file: FP16_FILE,
    counts: extras.fp16.exported.fp16,
    verification: { pass: extras.fp16.report.pass, report: FP16_REPORT_FILE },
  };
  const execution = extras.execution && { execution: extras.execution };
  writeFileAtomic(
    paths.manifest,
    `${JSON.stringify({ ...manifest, ...execution, ...(ensemble && { ensemble }), ...(fp16 && { fp16 }) }, null, 2)}\n`,
  );
  return paths;
}

function writeRunRecord(dir: string, run: RunRecord): void {
  run.checkpoint(path.join(dir, CHECKPOINT_FILE));
  writeFileAtomic(path.join(dir, CONFIG_FILE), run.config);
  writeFileAtomic(path.join(dir, METRICS_FILE), run.metrics);
  if (run.metricsLog) writeFileAtomic(path.join(dir, METRICS_LOG_FILE), run.metricsLog);
  for (const [file, svg] of Object.entries(run.plots ?? {})) writeFileAtomic(path.join(dir, file), svg);
}

function writeTritonRepository(
  dir: string,
  name: string,
  exported: OnnxExport,
  t: NonNullable<BundleExtras['triton']>,
  writeModel: (file: string, bytes: Uint8Array, subfolder: string) => void,
): void {
  const at = path.join(dir, TRITON_DIR, name);
  const inspection = inspectOnnx(decodeModel(exported.bytes, MODEL_FILE));
  const classOutputs = exported.outputs.filter((o) => ['logits', 'probabilities'].includes(o.role)).map((o) => o.name);
  writeFileAtomic(path.join(at, TRITON_CONFIG_FILE), tritonConfig(name, inspection, t.labels ? classOutputs : [], t.maxBatch));
  writeModel(MODEL_FILE, exported.bytes, path.join(TRITON_DIR, name, TRITON_VERSION_DIR));
  if (t.labels) writeFileAtomic(path.join(at, TRITON_LABELS_FILE), `${t.labels.join('\n')}\n`);
}

/** Problems found re-checking a bundle folder against its manifest (empty: every file matches). */
export function checkBundleFiles(dir: string): string[] {
  let manifest: Partial<Manifest>;
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST_FILE), 'utf8')) as Partial<Manifest>;
  } catch (err) {
    return [`${MANIFEST_FILE}: ${(err as Error).message}`];
  }
  const listed = manifest.files ?? {};
  const problems: string[] = [];
  const present = hashFiles(dir);
  for (const [name, want] of Object.entries(listed)) {
    const got = present[name];
    if (!got) problems.push(`${name}: listed in the manifest, missing`);
    else if (got.sha256 !== want.sha256) problems.push(`${name}: SHA-256 differs from the manifest`);
  }
  for (const name of Object.keys(present)) if (!(name in listed)) problems.push(`${name}: not in the manifest`);
  return problems;
}
