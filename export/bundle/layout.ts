/**
 * The layout of a bundle and of a run's work folder: every file name is spelled here and only
 * here, and `writeBundle` (bundle.ts) writes every bundle file in `BUNDLE_ORDER`, the manifest last.
 * Readers (verify-bundle, compare, bundle, `verify --reference model`) and the fault-injection
 * tests take their names and their count of write points from this module.
 */

/** The folded model in ONNX; its weights go to `model.onnx.data` beside it above the external-data threshold. */
export const MODEL_FILE = 'model.onnx';
/** Inputs, outputs, provenance, evaluation, verdict, and size + SHA-256 of every other file; written last. */
export const MANIFEST_FILE = 'manifest.json';
/** The verification report of model.onnx against the tfjs model. */
export const REPORT_FILE = 'verification.json';
/** The model card. */
export const CARD_FILE = 'README.md';
/** The implicit ensemble (all K members in one graph), when exported, and its report. */
export const ENSEMBLE_FILE = 'ensemble.onnx';
export const ENSEMBLE_REPORT_FILE = 'ensemble-verification.json';
/** fp16 weight storage, when exported, and its check against the fp32 export. */
export const FP16_FILE = 'model.fp16.onnx';
export const FP16_REPORT_FILE = 'fp16-verification.json';
/** Golden inputs and outputs in the ONNX model-zoo layout (`test_data_set_<n>/input_<i>.pb`). */
export const GOLDEN_DIR = 'test_data';
/** A Triton model repository: `triton/<name>/config.pbtxt`, `labels.txt`, `1/model.onnx`. */
export const TRITON_DIR = 'triton';
export const TRITON_CONFIG_FILE = 'config.pbtxt';
export const TRITON_LABELS_FILE = 'labels.txt';
export const TRITON_VERSION_DIR = '1';
/** The trained late-phase model (all K members), for re-folding or `latephase bundle`. */
export const CHECKPOINT_FILE = 'latephase.ckpt';
/** The resolved config the run used (every default filled in). */
export const CONFIG_FILE = 'config.json';
/** What evaluation found on the held-out data (and the OOD set). */
export const METRICS_FILE = 'metrics.json';
/** The training log (JSON lines): in the work folder while training, in the bundle after. */
export const METRICS_LOG_FILE = 'metrics.jsonl';
/** Plots of the metrics log and the evaluation. */
export const PLOT_FILES = ['loss.svg', 'learning-rate.svg', 'accuracy.svg', 'reliability.svg'] as const;
export type PlotFile = (typeof PLOT_FILES)[number];

/** An unfinished run's progress checkpoint, in the output folder's work folder (beside METRICS_LOG_FILE). */
export const PROGRESS_FILE = 'progress.ckpt';

/**
 * The order `writeBundle` writes a bundle's entries in: the run's record first, then the models and
 * their reports, golden data, card and Triton repository; the manifest last, so a bundle with a
 * manifest is complete. (Entries a bundle does not have are skipped.)
 */
export const BUNDLE_ORDER = [
  CHECKPOINT_FILE,
  CONFIG_FILE,
  METRICS_FILE,
  METRICS_LOG_FILE,
  ...PLOT_FILES,
  MODEL_FILE,
  FP16_FILE,
  FP16_REPORT_FILE,
  REPORT_FILE,
  GOLDEN_DIR,
  CARD_FILE,
  TRITON_DIR,
  ENSEMBLE_FILE,
  ENSEMBLE_REPORT_FILE,
  MANIFEST_FILE,
] as const;

/** Whether `rel` (a path inside a bundle, `/`-separated) is a name this layout gives. */
export function isLayoutPath(rel: string): boolean {
  const [top, ...rest] = rel.split('/');
  if (!top) return false;
  if (top === GOLDEN_DIR) return /^test_data_set_\d+\/(input|output)_\d+\.pb$/.test(rest.join('/'));
  if (top === TRITON_DIR)
    return new RegExp(`^[^/]+/(${TRITON_CONFIG_FILE}|${TRITON_LABELS_FILE}|${TRITON_VERSION_DIR}/${MODEL_FILE}(\\.data)?)$`).test(rest.join('/'));
  const base = top.endsWith('.onnx.data') ? top.slice(0, -'.data'.length) : top;
  return rest.length === 0 && (BUNDLE_ORDER as readonly string[]).includes(base);
}

/**
 * The file-system operations that pass the `bundle` fault site while a bundle of `files` files
 * (every file, the manifest included) is staged and published: two per atomic file write (before
 * the temporary file, before its rename), one to create the version folder, and the publish's link,
 * rename and removal of the previous version (`previous`: whether there is one).
 */
export function bundleWritePoints(files: number, previous: boolean): number {
  return 1 + 2 * files + 2 + (previous ? 1 : 0);
}
