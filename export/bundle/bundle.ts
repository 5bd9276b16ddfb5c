/**
 * A deployment folder: model.onnx, manifest.json (inputs, outputs, layout, preprocessing,
 * provenance, verification verdict) and verification.json, each written atomically.
 */
import * as crypto from 'crypto';
import * as path from 'path';
import { writeFileAtomic } from '../../src/io/atomicWrite';
import { Model } from '../../src/nn/model';
import { PACKAGE } from '../../src/version';
import { OnnxExport, TensorSignature } from '../onnx/exportOnnx';
import { ONNX_IMAGE_LAYOUT, isImageShape } from '../onnx/layout';
import { VerificationReport } from '../verify/verify';

export const MODEL_FILE = 'model.onnx';
export const MANIFEST_FILE = 'manifest.json';
export const REPORT_FILE = 'verification.json';

export interface Manifest {
  readonly format: 'latephase-bundle/1';
  readonly producer: string;
  readonly createdAt: string;
  readonly model: { readonly file: string; readonly bytes: number; readonly sha256: string; readonly opset: number; readonly irVersion: number };
  readonly inputs: ReadonlyArray<TensorSignature & { readonly dtype: 'float32'; readonly layout: string; readonly preprocessing: string }>;
  readonly outputs: ReadonlyArray<TensorSignature & { readonly dtype: 'float32'; readonly meaning: string }>;
  readonly labels?: readonly string[];
  readonly provenance: Readonly<Record<string, string>>;
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

export function buildManifest(model: Model, exported: OnnxExport, report: VerificationReport): Manifest {
  const layout = isImageShape(model.inputShape) ? `${ONNX_IMAGE_LAYOUT} (channels first)` : (model.meta.inputLayout ?? 'flat');
  return {
    format: 'latephase-bundle/1',
    producer: `${PACKAGE.name} ${PACKAGE.version}`,
    createdAt: new Date().toISOString(),
    model: {
      file: MODEL_FILE,
      bytes: exported.bytes.length,
      sha256: crypto.createHash('sha256').update(exported.bytes).digest('hex'),
      opset: exported.opset,
      irVersion: exported.irVersion,
    },
    inputs: [{ ...exported.input, dtype: 'float32', layout, preprocessing: model.meta.preprocessing ?? 'none' }],
    outputs: exported.outputs.map((o, i) => ({
      ...o,
      dtype: 'float32',
      meaning: i === 0 ? 'class logits (last axis)' : 'class probabilities (softmax of the logits over the last axis)',
    })),
    ...(model.meta.labels ? { labels: model.meta.labels } : {}),
    provenance: exported.metadata,
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

export interface BundlePaths {
  readonly dir: string;
  readonly model: string;
  readonly manifest: string;
  readonly report: string;
}

/** Writes the bundle; the manifest goes last so its presence means the folder is complete. */
export function writeBundle(dir: string, model: Model, exported: OnnxExport, report: VerificationReport): BundlePaths {
  const paths = { dir, model: path.join(dir, MODEL_FILE), manifest: path.join(dir, MANIFEST_FILE), report: path.join(dir, REPORT_FILE) };
  writeFileAtomic(paths.model, exported.bytes);
  writeFileAtomic(paths.report, `${JSON.stringify(report, null, 2)}\n`);
  writeFileAtomic(paths.manifest, `${JSON.stringify(buildManifest(model, exported, report), null, 2)}\n`);
  return paths;
}
