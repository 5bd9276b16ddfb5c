/**
 * `latephase export <net.onnx | model.json> --out <dir>`: a model converted without training:
 * imported, exported by latephase (BatchNorm folded where exact), verified against the imported
 * model, and checked against the original: an ONNX original must be matched as a drop-in (the same
 * input and output names and dims, the same outputs under onnxruntime), a TensorFlow.js original by
 * its own `predict` (the tfjs -> ONNX conversion); outputs within 1e-5 (max abs) at batch 1 and an
 * odd batch. The bundle is published only when both hold (a failed one is kept beside it, as a
 * training run's is).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { importModelFile, isTfjsModelFile } from '../import/importModel';
import { checkExternalLocation } from '../src/onnx/readOnnx';
import { exportOnnx, OnnxExport } from '../export/onnx/exportOnnx';
import * as tfl from '@tensorflow/tfjs';
import { goldenFromReference, InputSet, seededInputs, verifyExport, VerificationReport } from '../export/verify/verify';
import { inspectOnnx } from '../export/verify/inspect';
import { decodeModel } from '../src/onnx/readOnnx';
import { writeBundle } from '../export/bundle/bundle';
import { tritonModelName } from '../export/bundle/triton';
import { toOnnxInput } from '../export/onnx/layout';
import { OutputFolder } from '../src/io/outputFolder';
import { Model } from '../src/nn/model';

/** The drop-in check's tolerance (max abs, onnxruntime against onnxruntime). */
export const DROP_IN_ATOL = 1e-5;

export interface DropInCheck {
  /** Input and output names and dims equal the original's (the batch dimension's name aside). */
  readonly signature: boolean;
  readonly signatureProblems: readonly string[];
  /** Largest difference of the first output over the batches checked. */
  readonly maxAbs: number;
  readonly batches: readonly number[];
  readonly pass: boolean;
}

export interface ExportSummary {
  readonly outDir: string;
  readonly verification: VerificationReport;
  readonly dropIn: DropInCheck;
  readonly parameters: number;
}

/** Seeded inputs shaped for `model`. */
function seeded(model: Model, rows: number, seed: number): InputSet {
  return seededInputs(
    rows,
    model.inputShape.reduce((a, b) => a * b, 1),
    seed,
  );
}

/** The signature as onnxruntime sees it: names and dims (dynamic dims as '?'). */
function signature(bytes: Uint8Array, file: string): string[] {
  const i = inspectOnnx(decodeModel(bytes, file));
  const dims = (s: ReadonlyArray<number | string>): string => `[${s.map((d) => (typeof d === 'number' && d > 0 ? d : '?')).join(', ')}]`;
  return [...i.inputs.map((v) => `input ${v.name} ${dims(v.shape)}`), ...i.outputs.map((v) => `output ${v.name} ${dims(v.shape)}`)];
}

async function firstOutput(bytes: Uint8Array, x: Float32Array, dims: readonly number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, [...dims]) });
    return out[session.outputNames[0]!]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

async function dropInCheck(model: Model, original: Uint8Array, exported: Uint8Array, file: string): Promise<DropInCheck> {
  const [was, is] = [signature(original, file), signature(exported, 'the export')];
  const signatureProblems = [
    ...was.filter((s) => !is.includes(s)).map((s) => `original ${s} missing`),
    ...is.filter((s) => !was.includes(s)).map((s) => `extra ${s}`),
  ];
  let maxAbs = 0;
  const batches = [1, 7];
  for (const n of batches) {
    const set = seeded(model, n, 100 + n);
    const dims = [n, ...(model.inputShape.length === 3 ? [model.inputShape[2]!, model.inputShape[0]!, model.inputShape[1]!] : model.inputShape)];
    const x = toOnnxInput(set.values, n, model.inputShape);
    const [a, b] = [await firstOutput(original, x, dims), await firstOutput(exported, x, dims)];
    for (let i = 0; i < a.length; i++) maxAbs = Math.max(maxAbs, Math.abs(a[i]! - b[i]!));
  }
  return {
    signature: signatureProblems.length === 0,
    signatureProblems,
    maxAbs,
    batches,
    pass: signatureProblems.length === 0 && maxAbs <= DROP_IN_ATOL,
  };
}

/** The original tfjs model, loaded by TensorFlow.js itself (the reference a conversion is checked against). */
async function loadTfjsLayersModel(file: string): Promise<tfl.LayersModel> {
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    modelTopology: object;
    weightsManifest?: Array<{ paths: string[]; weights: tfl.io.WeightsManifestEntry[] }>;
  };
  const dir = path.dirname(path.resolve(file));
  const groups = json.weightsManifest ?? [];
  const shards = groups.flatMap((g) => g.paths.map((p) => fs.readFileSync(checkExternalLocation(dir, p, `tfjs model '${file}': weight shard`))));
  const data = Buffer.concat(shards);
  return tfl.loadLayersModel(
    tfl.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: groups.flatMap((g) => g.weights),
      weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
    }),
  );
}

/** The exported model's outputs against the tfjs model's own predict (probabilities where it ended in a softmax). */
async function tfjsCheck(model: Model, exported: OnnxExport, file: string, finalSoftmax: boolean): Promise<DropInCheck> {
  const original = await loadTfjsLayersModel(file);
  let maxAbs = 0;
  const batches = [1, 7];
  try {
    const session = await ort.InferenceSession.create(exported.bytes);
    try {
      const role = finalSoftmax ? 'probabilities' : 'logits';
      const output = exported.outputs.find((o) => o.role === role) ?? exported.outputs[0]!;
      for (const n of batches) {
        const set = seeded(model, n, 200 + n);
        const want = tfl.tidy(() => (original.predict(tfl.tensor(set.values, [n, ...model.inputShape])) as tfl.Tensor).dataSync() as Float32Array);
        const dims = [n, ...(model.inputShape.length === 3 ? [model.inputShape[2]!, model.inputShape[0]!, model.inputShape[1]!] : model.inputShape)];
        const got = (await session.run({ [exported.input.name]: new ort.Tensor('float32', toOnnxInput(set.values, n, model.inputShape), dims) }))[
          output.name
        ]!.data as Float32Array;
        for (let i = 0; i < want.length; i++) maxAbs = Math.max(maxAbs, Math.abs(want[i]! - got[i]!));
      }
    } finally {
      await session.release();
    }
  } finally {
    original.dispose();
  }
  return { signature: true, signatureProblems: [], maxAbs, batches, pass: maxAbs <= DROP_IN_ATOL };
}

export async function runExportJob(file: string, out: string, log: (line: string) => void = console.log): Promise<ExportSummary> {
  const folder = OutputFolder.open(path.resolve(out), log);
  try {
    const tfjs = isTfjsModelFile(file);
    const { model, report } = importModelFile(file);
    try {
      log(
        `imported: ${report.nodes.length} nodes, ${report.parameters.toLocaleString('en-US')} parameters (opset ${report.opset}, ${report.producer})`,
      );
      const exported = exportOnnx(model, {
        foldBatchNorm: true,
        provenance: { model_source: `imported from ${path.resolve(file)}`, trained: 'no (converted only)' },
      });
      const verification = await verifyExport(model, exported, [seeded(model, 16, 1)]);
      const dropIn = tfjs
        ? await tfjsCheck(model, exported, file, report.finalSoftmax)
        : await dropInCheck(model, fs.readFileSync(file), exported.bytes, file);
      log(
        tfjs
          ? `against the tfjs model's own predict: max abs ${dropIn.maxAbs.toExponential(2)} (batches ${dropIn.batches.join(', ')}; atol ${DROP_IN_ATOL})`
          : `drop-in check: signature ${dropIn.signature ? 'the same' : `differs (${dropIn.signatureProblems.join('; ')})`}; outputs against the original max abs ${dropIn.maxAbs.toExponential(2)} (batches ${dropIn.batches.join(', ')}; atol ${DROP_IN_ATOL})`,
      );
      const staged = folder.stage();
      try {
        writeBundle(staged, model, exported, verification, {
          golden: [goldenFromReference(model, exported, seeded(model, 2, 7).values, 2, 'seeded, batch 2')],
          triton: { name: tritonModelName(model.name) },
        });
        if (verification.pass && dropIn.pass) folder.publish(staged);
        else {
          const failed = `${folder.target}.failed-verification`;
          fs.rmSync(failed, { recursive: true, force: true });
          fs.renameSync(staged, failed);
          log(`the export did not check out: the output folder keeps its previous content; the bundle is in ${failed}`);
        }
      } catch (err) {
        folder.discard(staged);
        throw err;
      }
      return { outDir: folder.target, verification, dropIn, parameters: report.parameters };
    } finally {
      model.dispose();
    }
  } finally {
    folder.close();
  }
}
