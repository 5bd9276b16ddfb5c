/**
 * `latephase verify <bundle>/model.onnx --reference model`: our export against the tfjs model it
 * came from, rebuilt from the bundle itself: the resolved config (config.json) names the recipe,
 * the checkpoint (latephase.ckpt) restores every member, and the fold options of the run fold it.
 * Any file with those beside it can be checked this way; foreign files have no tfjs reference.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ConfigError, DataError } from '../src/errors';
import { resolveConfig } from '../src/config/resolve';
import { JobConfigInput } from '../src/config/schema';
import { buildFromRecipe } from '../src/nn/modelRecipe';
import { loadCheckpoint } from '../src/train/checkpoint';
import { foldMembers } from '../src/latephase/fold';
import { Manifest } from '../export/bundle/bundle';
import { CHECKPOINT_FILE, CONFIG_FILE, MANIFEST_FILE } from '../export/bundle/layout';
import { OnnxExport } from '../export/onnx/exportOnnx';
import { readOnnxModel } from '../src/onnx/readOnnx';
import { seededInputs, verifyExport, VerificationReport } from '../export/verify/verify';
import { onnx } from 'onnx-proto';
import { planRun } from './runPlan';

export async function verifyAgainstModel(file: string, opts: { rows?: number; seed?: number } = {}): Promise<VerificationReport> {
  const dir = path.dirname(path.resolve(file));
  const need = [CONFIG_FILE, CHECKPOINT_FILE, MANIFEST_FILE].filter((f) => !fs.existsSync(path.join(dir, f)));
  if (need.length)
    throw new ConfigError(
      `--reference model needs the bundle beside '${file}' (missing ${need.join(', ')}); use --reference onnxruntime for other files`,
    );
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST_FILE), 'utf8')) as Manifest;
  const plan = planRun(
    resolveConfig(JSON.parse(fs.readFileSync(path.join(dir, CONFIG_FILE), 'utf8')) as JobConfigInput, `'${path.join(dir, CONFIG_FILE)}'`),
  );
  const logits = manifest.outputs.find((o) => o.role === 'logits');
  const classes = Number(logits?.dims[logits.dims.length - 1]);
  if (!(classes > 1)) throw new DataError(`bundle '${dir}': the manifest names no logits output to size the model's classes`);
  const model = buildFromRecipe(plan.model.recipe(classes));
  try {
    loadCheckpoint(model, path.join(dir, CHECKPOINT_FILE));
    const folded = foldMembers(model, plan.fold);
    try {
      const read = readOnnxModel(file);
      const exported: OnnxExport = {
        bytes: onnx.ModelProto.encode(read.model).finish(),
        input: manifest.inputs[0]!,
        outputs: manifest.outputs,
        opset: manifest.model.opset,
        irVersion: manifest.model.irVersion,
        nodeCount: read.model.graph?.node?.length ?? 0,
        metadata: manifest.provenance,
      };
      const rows = opts.rows ?? 16;
      const perRow = folded.inputShape.reduce((a, b) => a * b, 1);
      return await verifyExport(folded, exported, [seededInputs(rows, perRow, opts.seed ?? 0)], { batchSizes: [1, 7] });
    } finally {
      folded.dispose();
    }
  } finally {
    model.dispose();
  }
}
