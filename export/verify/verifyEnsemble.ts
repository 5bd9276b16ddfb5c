/**
 * The implicit-ensemble export against the tfjs implicit ensemble: each member selected in turn in
 * the late-phase model, its softmax taken, and the combination (mean softmax, predictive entropy,
 * mutual information, member probabilities) computed here in float64. Plus the invariants every
 * input must satisfy: probabilities sum to 1, 0 <= entropy <= log(classes), mutual information >= 0.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { Model } from '../../src/nn/model';
import { memberCount, selectMember } from '../../src/latephase/members';
import { VerificationError } from '../../src/errors';
import { OnnxExport, OutputSignature } from '../onnx/exportOnnx';
import { toOnnxInput } from '../onnx/layout';
import { InputSet, verifyAgainst, VerificationReport, VerifyOptions } from './verify';

export interface EnsembleInvariants {
  /** max |sum_c p_c - 1| over rows. */
  readonly probabilitySum: number;
  readonly entropy: { readonly min: number; readonly max: number; readonly bound: number };
  readonly mutualInformationMin: number;
  readonly pass: boolean;
}

/** Every member's softmax for `rows` examples: [K][rows * C] (float64). */
function memberSoftmaxes(model: Model, values: Float32Array, rows: number): Float64Array[] {
  const k = memberCount(model);
  const out: Float64Array[] = [];
  try {
    for (let m = 0; m < k; m++) {
      selectMember(model, m);
      out.push(Float64Array.from(tf.tidy(() => tf.softmax(model.predict(tf.tensor(values, [rows, ...model.inputShape]))).dataSync())));
    }
  } finally {
    selectMember(model, 'average');
  }
  return out;
}

/** The ensemble outputs by role, from the members' softmaxes. */
function ensembleOutputs(members: readonly Float64Array[], rows: number, outputs: readonly OutputSignature[]): Float32Array[] {
  const k = members.length;
  const c = members[0]!.length / rows;
  const mean = new Float64Array(rows * c);
  for (const p of members) p.forEach((v, i) => (mean[i]! += v / k));
  const entropy = (p: ArrayLike<number>, r: number): number => {
    let h = 0;
    for (let j = 0; j < c; j++) {
      const v = p[r * c + j]!;
      if (v > 0) h -= v * Math.log(v);
    }
    return h;
  };
  const h = Float64Array.from({ length: rows }, (_, r) => entropy(mean, r));
  const mi = Float64Array.from({ length: rows }, (_, r) => Math.max(0, h[r]! - members.reduce((s, p) => s + entropy(p, r), 0) / k));
  return outputs.map((o) => {
    switch (o.role) {
      case 'probabilities':
        return Float32Array.from(mean);
      case 'entropy':
        return Float32Array.from(h);
      case 'mutual_information':
        return Float32Array.from(mi);
      case 'member_probabilities': {
        const out = new Float32Array(rows * k * c);
        for (let r = 0; r < rows; r++) for (let m = 0; m < k; m++) for (let j = 0; j < c; j++) out[(r * k + m) * c + j] = members[m]![r * c + j]!;
        return out;
      }
      default:
        throw new VerificationError(`ensemble output '${o.name}' has role '${o.role}', which the ensemble reference does not compute`);
    }
  });
}

/** The export against the tfjs implicit ensemble of `model` (K members, not folded). */
export function verifyEnsembleExport(
  model: Model,
  exported: OnnxExport,
  inputSets: readonly InputSet[],
  opts: VerifyOptions = {},
): Promise<VerificationReport> {
  return verifyAgainst(
    (values, rows) => ensembleOutputs(memberSoftmaxes(model, values, rows), rows, exported.outputs),
    model.inputShape,
    exported,
    inputSets,
    opts,
  );
}

/** The invariants on onnxruntime's outputs for `set` (all rows). */
export async function ensembleInvariants(exported: OnnxExport, inputShape: readonly number[], set: InputSet): Promise<EnsembleInvariants> {
  const session = await ort.InferenceSession.create(exported.bytes);
  try {
    const feeds = {
      [exported.input.name]: new ort.Tensor('float32', toOnnxInput(set.values, set.rows, inputShape), [
        set.rows,
        ...exported.input.dims.slice(1).map(Number),
      ]),
    };
    const got = await session.run(feeds);
    const by = (role: string): Float32Array => got[exported.outputs.find((o) => o.role === role)!.name]!.data as Float32Array;
    const p = by('probabilities');
    const c = p.length / set.rows;
    let probabilitySum = 0;
    for (let r = 0; r < set.rows; r++)
      probabilitySum = Math.max(probabilitySum, Math.abs(p.subarray(r * c, (r + 1) * c).reduce((a, b) => a + b, 0) - 1));
    const h = Array.from(by('entropy'));
    const mi = Array.from(by('mutual_information'));
    const entropy = { min: Math.min(...h), max: Math.max(...h), bound: Math.log(c) };
    const mutualInformationMin = Math.min(...mi);
    return {
      probabilitySum,
      entropy,
      mutualInformationMin,
      pass: probabilitySum <= 1e-5 && entropy.min >= 0 && entropy.max <= entropy.bound + 1e-5 && mutualInformationMin >= 0,
    };
  } finally {
    await session.release();
  }
}
