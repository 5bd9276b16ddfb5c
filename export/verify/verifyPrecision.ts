/**
 * A reduced-precision export (fp16 weights) against the fp32 export of the same model, on the
 * same inputs (real data): per-output statistics at fp16 tolerances, and for class outputs the
 * fraction of rows whose argmax agrees, which must stay at or above `minArgmaxAgreement`.
 */
import * as ort from 'onnxruntime-node';
import { OnnxExport } from '../onnx/exportOnnx';
import { toOnnxInput } from '../onnx/layout';
import { Tolerance } from './compare';
import { outputStats, OutputStats } from './outputStats';
import { InputSet } from './verify';

/** fp16 keeps ~3 decimal digits: a weight's relative error is up to 2^-11 ~ 4.9e-4; outputs accumulate many. */
const FP16_TOLERANCE: Tolerance = { atol: 1e-2, rtol: 1e-2 };
const MIN_ARGMAX_AGREEMENT = 0.99;

export interface PrecisionReport {
  readonly inputs: string;
  readonly rows: number;
  readonly tolerance: Tolerance;
  readonly outputs: readonly OutputStats[];
  readonly minArgmaxAgreement: number;
  readonly pass: boolean;
}

async function runOnce(bytes: Uint8Array, name: string, data: Float32Array, dims: number[]): Promise<ort.InferenceSession.ReturnType> {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all' });
  try {
    return await session.run({ [name]: new ort.Tensor('float32', data, dims) });
  } finally {
    await session.release();
  }
}

export async function verifyPrecision(
  candidate: OnnxExport,
  reference: OnnxExport,
  inputShape: readonly number[],
  set: InputSet,
  tolerance: Tolerance = FP16_TOLERANCE,
  minArgmaxAgreement = MIN_ARGMAX_AGREEMENT,
): Promise<PrecisionReport> {
  const data = toOnnxInput(set.values.subarray(0, set.rows * inputShape.reduce((a, b) => a * b, 1)), set.rows, inputShape);
  const dims = [set.rows, ...candidate.input.dims.slice(1).map(Number)];
  const [got, want] = [
    await runOnce(candidate.bytes, candidate.input.name, data, dims),
    await runOnce(reference.bytes, reference.input.name, data, dims),
  ];
  const outputs = candidate.outputs.map((o) => {
    const classes = o.role === 'logits' || o.role === 'probabilities' ? Number(o.dims[o.dims.length - 1]) : 0;
    return outputStats(o.name, got[o.name]!.data as Float32Array, want[o.name]!.data as Float32Array, tolerance, { classes });
  });
  const agreement = Math.min(1, ...outputs.map((o) => o.argmaxAgreement ?? 1));
  return {
    inputs: set.label,
    rows: set.rows,
    tolerance,
    outputs,
    minArgmaxAgreement,
    pass: outputs.every((o) => o.pass) && agreement >= minArgmaxAgreement,
  };
}
