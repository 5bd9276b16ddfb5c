/**
 * A bundle with every entry of the layout (run record, model, fp16 and ensemble variants with
 * reports, golden data, card, Triton repositories with labels), made once from a tiny model and
 * published through the real OutputFolder transaction and writeBundle, without training: the fault
 * tests sweep every write point over it in process (ENOSPC) and in a child process (SIGKILL).
 * Run as a script (`node fakeBundle.js <parts file> <out> <seed>`), it publishes the parts that
 * `saveFakeBundleParts` wrote, loading no tfjs.
 */
import * as fs from 'fs';
import * as v8 from 'v8';
import { OutputFolder } from '../src/io/outputFolder';
import { writeFileAtomic } from '../src/io/atomicWrite';
import { BundleExtras, ModelFacts, writeBundle } from '../export/bundle/bundle';
import type { OnnxExport } from '../export/onnx/exportOnnx';
import type { VerificationReport } from '../export/verify/verify';
import type { PrecisionReport } from '../export/verify/verifyPrecision';
import { PLOT_FILES } from '../export/bundle/layout';

export interface FakeBundleParts {
  readonly model: ModelFacts;
  readonly exported: OnnxExport;
  readonly report: VerificationReport;
  readonly golden: NonNullable<BundleExtras['golden']>;
  readonly checkpoint: Uint8Array;
}

/** The parts of a fake bundle, from a tiny plain MLP (loads tfjs: call it in the test process). */
export async function fakeBundleParts(): Promise<FakeBundleParts> {
  const { mlp } = await import('../models/mlp');
  const { foldMembers } = await import('../src/latephase/fold');
  const { exportOnnx } = await import('../export/onnx/exportOnnx');
  const { goldenFromReference } = await import('../export/verify/verify');
  const { saveCheckpoint } = await import('../src/train/checkpoint');
  const os = await import('os');
  const path = await import('path');
  const model = foldMembers(mlp({ inputs: 4, hidden: [5], classes: 3, seed: 1 }));
  const exported = exportOnnx(model, { provenance: { job: 'fake' } });
  const values = Float32Array.from({ length: 28 }, (_, i) => (i % 7) / 7);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-fake-')), 'x.ckpt');
  saveCheckpoint(model, file, { config: '{}' });
  const checkpoint = fs.readFileSync(file);
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
  const report: VerificationReport = {
    pass: true,
    tolerance: { atol: 1e-4, rtol: 1e-3 },
    provider: { requested: 'cpu', used: 'cpu' },
    cases: [],
    maxAbs: 0,
    maxRel: 0,
  };
  const parts = {
    model: { inputShape: [...model.inputShape], meta: { ...model.meta, labels: ['a', 'b', 'c'] } },
    exported,
    report,
    golden: [1, 7].map((rows, n) => goldenFromReference(model, exported, values, Math.min(rows, 4), `set ${n}`)),
    checkpoint,
  };
  model.dispose();
  return parts;
}

export function saveFakeBundleParts(parts: FakeBundleParts, file: string): void {
  fs.writeFileSync(file, v8.serialize(parts));
}

/** Publish the fake bundle into `out` (seed recorded in its provenance), as a training run's publish does. */
export function publishFakeBundle(parts: FakeBundleParts, out: string, seed: number): void {
  const folder = OutputFolder.open(out);
  try {
    const exported = { ...parts.exported, metadata: { ...parts.exported.metadata, seed: String(seed) } };
    const staged = folder.stage();
    try {
      writeBundle(staged, parts.model, exported, parts.report, {
        run: {
          checkpoint: (file) => writeFileAtomic(file, parts.checkpoint),
          config: `{ "seed": ${seed} }\n`,
          metrics: '{}\n',
          metricsLog: Buffer.from('{"kind":"epoch"}\n'),
          plots: Object.fromEntries(PLOT_FILES.map((f) => [f, '<svg/>'])) as Record<(typeof PLOT_FILES)[number], string>,
        },
        golden: parts.golden,
        card: '# fake\n',
        triton: { name: 'fake', labels: ['a', 'b', 'c'] },
        ensemble: { exported, report: parts.report, invariants: {} },
        fp16: { exported, report: { pass: true } as unknown as PrecisionReport },
      });
      folder.publish(staged);
    } catch (err) {
      folder.discard(staged);
      throw err;
    }
  } finally {
    folder.close();
  }
}

if (require.main === module) {
  const [partsFile, out, seed] = process.argv.slice(2);
  publishFakeBundle(v8.deserialize(fs.readFileSync(partsFile!)) as FakeBundleParts, out!, Number(seed));
}
