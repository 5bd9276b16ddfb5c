/**
 * Runs the plain tfjs model and onnxruntime-node on the same inputs and compares every output:
 * each input set, at each batch size, under each graph optimisation level.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { Model } from '../../src/nn/model';
import { Rng } from '../../src/nn/rng';
import { VerificationError } from '../../src/errors';
import { OnnxExport, OutputSignature } from '../onnx/exportOnnx';
import { toOnnxInput } from '../onnx/layout';
import { chooseProvider, ExecutionProviderName, ProviderChoice } from './executionProvider';
import { GoldenSet } from './golden';
import { compareArrays, Comparison, DEFAULT_ATOL, DEFAULT_RTOL, Tolerance } from './compare';

export type OptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

export interface InputSet {
  /** What the inputs are, e.g. 'seeded uniform' or 'held-out digits'. */
  readonly label: string;
  /** Row-major tfjs-layout values, [rows, ...model.inputShape]. */
  readonly values: Float32Array;
  readonly rows: number;
}

export interface VerifyOptions {
  readonly batchSizes?: readonly number[];
  readonly optimizationLevels?: readonly OptimizationLevel[];
  readonly tolerance?: Tolerance;
  readonly provider?: ExecutionProviderName;
  readonly allowCpuFallback?: boolean;
}

export interface CaseResult extends Comparison {
  readonly inputs: string;
  readonly batch: number;
  readonly optimization: OptimizationLevel;
  readonly output: string;
}

export interface VerificationReport {
  readonly pass: boolean;
  readonly tolerance: Tolerance;
  readonly provider: ProviderChoice;
  readonly cases: readonly CaseResult[];
  readonly maxAbs: number;
  readonly maxRel: number;
}

/** `rows` examples of `perRow` seeded uniform [0, 1) values: inputs any model can be checked on. */
export function seededInputs(rows: number, perRow: number, seed: number): InputSet {
  const rng = new Rng(seed);
  const values = new Float32Array(rows * perRow);
  for (let i = 0; i < values.length; i++) values[i] = rng.next();
  return { label: 'seeded uniform [0,1)', values, rows };
}

const DEFAULT_BATCH_SIZES = [1, 32] as const;
const DEFAULT_OPT_LEVELS: readonly OptimizationLevel[] = ['disabled', 'all'];

/** The tfjs reference for each exported output, in ONNX layout, by the output's role. */
function referenceOutputs(model: Model, values: Float32Array, rows: number, outputs: readonly OutputSignature[]): Float32Array[] {
  return tf.tidy(() => {
    const raw = model.predict(tf.tensor(values, [rows, ...model.inputShape]));
    const perExample = raw.shape.slice(1);
    return outputs.map((o) => {
      const t = o.role === 'probabilities' ? tf.softmax(raw) : raw;
      return toOnnxInput(t.dataSync() as Float32Array, rows, perExample);
    });
  });
}

/** A golden set from the tfjs reference: the first `rows` examples in ONNX layout and the reference's outputs. */
export function goldenFromReference(model: Model, exported: OnnxExport, values: Float32Array, rows: number, label: string): GoldenSet {
  const perRow = model.inputShape.reduce((a, b) => a * b, 1);
  const x = values.subarray(0, rows * perRow);
  const outputs = referenceOutputs(model, x, rows, exported.outputs);
  return {
    label,
    inputs: [
      {
        name: exported.input.name,
        dtype: 'float32',
        dims: [rows, ...exported.input.dims.slice(1).map(Number)],
        data: toOnnxInput(x, rows, model.inputShape),
      },
    ],
    outputs: exported.outputs.map((o, i) => ({ name: o.name, dtype: 'float32', dims: [rows, ...o.dims.slice(1).map(Number)], data: outputs[i]! })),
  };
}

async function createSession(bytes: Uint8Array, level: OptimizationLevel, provider: ProviderChoice): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(bytes, { executionProviders: [provider.used], graphOptimizationLevel: level });
  } catch (err) {
    throw new VerificationError(
      `onnxruntime could not load the model (provider ${provider.used}, optimisation ${level}): ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/** Reference outputs (ONNX layout, in `exported.outputs` order) for `rows` examples of tfjs-layout `values`. */
type ReferenceFn = (values: Float32Array, rows: number) => Float32Array[];

export async function verifyExport(
  model: Model,
  exported: OnnxExport,
  inputSets: readonly InputSet[],
  opts: VerifyOptions = {},
): Promise<VerificationReport> {
  return verifyAgainst((values, rows) => referenceOutputs(model, values, rows, exported.outputs), model.inputShape, exported, inputSets, opts);
}

/** onnxruntime against `reference` on every input set, batch size and optimisation level. */
export async function verifyAgainst(
  reference: ReferenceFn,
  inputShape: readonly number[],
  exported: OnnxExport,
  inputSets: readonly InputSet[],
  opts: VerifyOptions = {},
): Promise<VerificationReport> {
  const tolerance = opts.tolerance ?? { atol: DEFAULT_ATOL, rtol: DEFAULT_RTOL };
  const provider = chooseProvider(opts.provider ?? 'cpu', opts.allowCpuFallback ?? false);
  const perRow = inputShape.reduce((a, b) => a * b, 1);
  for (const set of inputSets) {
    if (!(set.rows > 0) || set.values.length < set.rows * perRow) {
      throw new VerificationError(
        `input set '${set.label}': ${set.values.length} values cannot hold ${set.rows} rows of shape [${inputShape.join(', ')}]`,
      );
    }
  }
  const cases: CaseResult[] = [];
  for (const level of opts.optimizationLevels ?? DEFAULT_OPT_LEVELS) {
    const session = await createSession(exported.bytes, level, provider);
    try {
      for (const set of inputSets) {
        for (const batch of opts.batchSizes ?? DEFAULT_BATCH_SIZES) {
          const rows = Math.min(batch, set.rows);
          const values = set.values.subarray(0, rows * perRow);
          const feeds = {
            [exported.input.name]: new ort.Tensor('float32', toOnnxInput(values, rows, inputShape), [
              rows,
              ...exported.input.dims.slice(1).map(Number),
            ]),
          };
          const got = await session.run(feeds);
          const want = reference(values, rows);
          exported.outputs.forEach((o, i) => {
            const candidate = got[o.name];
            if (!candidate) throw new VerificationError(`onnxruntime returned no output '${o.name}'`);
            const cmp = compareArrays(candidate.data as Float32Array, want[i]!, tolerance);
            cases.push({ inputs: set.label, batch: rows, optimization: level, output: o.name, ...cmp });
          });
        }
      }
    } finally {
      await session.release();
    }
  }
  return {
    pass: cases.length > 0 && cases.every((c) => c.pass),
    tolerance,
    provider,
    cases,
    maxAbs: Math.max(0, ...cases.map((c) => c.maxAbs)),
    maxRel: Math.max(0, ...cases.map((c) => c.maxRel)),
  };
}

/** Throws a VerificationError describing the failing cases. */
export function assertVerified(report: VerificationReport): void {
  if (report.pass) return;
  const bad = report.cases.filter((c) => !c.pass);
  const lines = bad
    .slice(0, 5)
    .map(
      (c) =>
        `${c.output} on ${c.inputs} (batch ${c.batch}, optimisation ${c.optimization}): max abs ${c.maxAbs.toExponential(2)}, max rel ${c.maxRel.toExponential(2)}, ${c.mismatched} mismatched, ${c.nonFinite} NaN/Inf`,
    );
  throw new VerificationError(
    `ONNX export does not match tfjs within atol ${report.tolerance.atol}, rtol ${report.tolerance.rtol}:\n  ${lines.join('\n  ')}${bad.length > 5 ? `\n  ... and ${bad.length - 5} more` : ''}`,
  );
}
