/** Typed errors: each names the offending field, file or layer so a user can act on it. */
export class LatePhaseError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}
/** A bad option, flag or configuration value. */
export class ConfigError extends LatePhaseError {}
/** A tensor or input whose shape does not fit the layer or model. */
export class ShapeError extends LatePhaseError {}
/** Training diverged or was given unusable data (NaN/Inf loss, empty data). */
export class TrainingError extends LatePhaseError {}
/** The model cannot be written as ONNX (unsupported layer, late-phase layer left unfolded). */
export class ExportError extends LatePhaseError {}
/** The exported graph does not reproduce the tfjs model, or cannot be run as asked. */
export class VerificationError extends LatePhaseError {}
/** A model uses something the tool that should run it cannot (onnxruntime-node and sequence inputs, say): a named limit, not a failure. */
export class UnsupportedModelError extends LatePhaseError {}
/** A data file is missing, truncated or not in the expected format. */
export class DataError extends LatePhaseError {}
/** A file or folder could not be written (disk full, permissions, a file where a folder should be). */
export class WriteError extends LatePhaseError {}
/** A run stopped on request (Ctrl-C, TERM) after writing a checkpoint it can resume from. */
export class TrainingInterrupted extends LatePhaseError {}

/** The typed errors by name, to rebuild one that crossed a thread or process boundary as { name, message }. */
export const NAMED_ERRORS: Readonly<Record<string, new (message: string) => LatePhaseError>> = {
  ConfigError,
  ShapeError,
  TrainingError,
  ExportError,
  VerificationError,
  UnsupportedModelError,
  DataError,
  WriteError,
};
