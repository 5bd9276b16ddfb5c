/**
 * `latephase verify-bundle <folder>`: re-check a deployment bundle offline. Every file against the
 * manifest's SHA-256 (nothing missing, nothing extra), the golden data replayed through
 * onnxruntime with the tolerance the bundle was verified at, and each Triton config checked
 * statically against its graph (and its model file identical to model.onnx).
 */
import * as fs from 'fs';
import * as path from 'path';
import { DataError } from '../../src/errors';
import { FileVerificationReport, verifyOnnxFile } from '../verify/verifyFile';
import { inspectOnnx } from '../verify/inspect';
import { readOnnxModel } from '../../src/onnx/readOnnx';
import { checkBundleFiles, Manifest } from './bundle';
import { ENSEMBLE_FILE, GOLDEN_DIR, MANIFEST_FILE, MODEL_FILE, TRITON_CONFIG_FILE, TRITON_DIR, TRITON_VERSION_DIR } from './layout';
import { checkTritonConfig, TRITON_ENSEMBLE_SUFFIX } from './triton';

export interface BundleCheck {
  readonly folder: string;
  /** Files that do not match the manifest. */
  readonly files: readonly string[];
  /** The golden replay (absent when the bundle has no golden data). */
  readonly golden?: FileVerificationReport;
  /** Problems of the Triton repository, by model. */
  readonly triton: Readonly<Record<string, readonly string[]>>;
  readonly pass: boolean;
}

export async function verifyBundle(folder: string): Promise<BundleCheck> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(folder, MANIFEST_FILE), 'utf8')) as Manifest;
  } catch (err) {
    throw new DataError(`bundle '${folder}': no readable ${MANIFEST_FILE} (${(err as Error).message})`);
  }
  const files = checkBundleFiles(folder);
  const model = path.join(folder, MODEL_FILE);
  const goldenDir = path.join(folder, GOLDEN_DIR);
  const tolerance = { atol: manifest.verification.atol, rtol: manifest.verification.rtol };
  const golden = fs.existsSync(goldenDir) ? await verifyOnnxFile(model, { golden: goldenDir, trials: 1, tolerance }) : undefined;
  const triton: Record<string, string[]> = {};
  const repo = path.join(folder, TRITON_DIR);
  for (const name of fs.existsSync(repo) ? fs.readdirSync(repo) : []) {
    const problems: string[] = [];
    const served = path.join(repo, name, TRITON_VERSION_DIR, MODEL_FILE);
    const config = path.join(repo, name, TRITON_CONFIG_FILE);
    if (!fs.existsSync(served) || !fs.existsSync(config))
      problems.push(`missing ${fs.existsSync(config) ? `${TRITON_VERSION_DIR}/${MODEL_FILE}` : TRITON_CONFIG_FILE}`);
    else {
      const original = name.endsWith(TRITON_ENSEMBLE_SUFFIX) ? ENSEMBLE_FILE : MODEL_FILE;
      if (!fs.existsSync(path.join(folder, original))) problems.push(`serves ${original}, which the bundle lacks`);
      else if (!fs.readFileSync(served).equals(fs.readFileSync(path.join(folder, original))))
        problems.push(`${TRITON_VERSION_DIR}/${MODEL_FILE} differs from ${original}`);
      problems.push(...checkTritonConfig(fs.readFileSync(config, 'utf8'), name, inspectOnnx(readOnnxModel(served).model)));
    }
    triton[name] = problems;
  }
  const pass = files.length === 0 && (golden?.pass ?? true) && Object.values(triton).every((p) => p.length === 0);
  return { folder: path.resolve(folder), files, ...(golden && { golden }), triton, pass };
}
