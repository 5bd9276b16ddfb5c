/**
 * `latephase verify <model.onnx>`: inspect and verify any ONNX file (export/verify/verifyFile.ts).
 * Exit 0 when every output passes, 3 on a mismatch (0 with --warn-only, which says so), 2 for a
 * file or flag that cannot be used.
 */
import * as fs from 'fs';
import { ConfigError } from '../src/errors';
import { Tolerance } from '../export/verify/compare';
import { FileVerificationReport } from '../export/verify/verifyFile';
import { formatFileReport } from './reports';
import { verifyOnnxFileIsolated } from '../export/verify/verifyIsolated';
import { parseProvider } from '../export/verify/executionProvider';
import { writeFileAtomic } from '../src/io/atomicWrite';
import { FlagTable, FlagValues } from './args';
import { verifyAgainstModel } from '../job/verifyAgainstModel';
import { selectBackend } from '../src/backend/selectBackend';

export const VERIFY_FLAGS = {
  trials: { kind: 'int', min: 0, max: 100, help: 'seeded random trials per batch size (default 3; 0: golden or given inputs only)' },
  batch: { kind: 'string', help: 'batch sizes for a dynamic leading axis, comma-separated (default 1,7)' },
  seed: { kind: 'int', min: 0, help: 'seed of the random inputs (default 0)' },
  atol: { kind: 'number', min: 0, help: 'absolute tolerance (default 1e-4)' },
  rtol: { kind: 'number', min: 0, help: 'relative tolerance (default 1e-3)' },
  tol: { kind: 'string', multiple: true, help: 'per-output tolerance, e.g. --tol probabilities=1e-5:1e-4 (atol[:rtol]; repeatable)' },
  dim: { kind: 'string', multiple: true, help: 'size of a named dynamic axis, e.g. --dim seq=100 (repeatable)' },
  'int-range': { kind: 'int', min: 1, help: 'integer inputs are drawn from [0, N) (default 10)' },
  inputs: { kind: 'string', help: 'a folder of extra inputs in the model-zoo layout (test_data_set_<n>/input_<i>.pb)' },
  golden: { kind: 'string', help: 'replay golden inputs/outputs from this folder (model-zoo layout)' },
  'write-golden': { kind: 'string', help: "write the seeded inputs and the reference's outputs to this folder (model-zoo layout)" },
  report: { kind: 'string', help: 'write the JSON report here' },
  ep: { kind: 'string', choices: ['cpu', 'cuda'], help: 'execution provider of the candidate run (default cpu); profiled to prove where nodes ran' },
  'allow-cpu-fallback': { kind: 'boolean', help: 'with --ep cuda: run on CPU (reported) if CUDA is missing' },
  profile: { kind: 'boolean', help: 'count the nodes each execution provider ran (onnxruntime profiling)' },
  'max-bytes': { kind: 'int', min: 1, help: 'refuse model files larger than this (default 2 GiB)' },
  reference: {
    kind: 'string',
    choices: ['onnxruntime', 'model'],
    help: 'onnxruntime (default; any file), or model: also our export against the tfjs model rebuilt from its bundle (config.json, latephase.ckpt)',
  },
  'warn-only': { kind: 'boolean', help: 'report mismatches but exit 0 (the report still says FAIL)' },
} as const satisfies FlagTable;

/** `name=atol[:rtol]` pairs. */
function tolerances(values: readonly string[], base: Tolerance): Record<string, Tolerance> {
  return Object.fromEntries(
    values.map((v) => {
      const m = /^([^=]+)=([^:]+)(?::(.+))?$/.exec(v);
      const [atol, rtol] = [Number(m?.[2]), m?.[3] === undefined ? base.rtol : Number(m[3])];
      if (!m || !(atol >= 0) || !(rtol >= 0)) throw new ConfigError(`--tol expects output=atol[:rtol] with non-negative numbers, got '${v}'`);
      return [m[1]!, { atol, rtol }];
    }),
  );
}

function dims(values: readonly string[]): Record<string, number> {
  return Object.fromEntries(
    values.map((v) => {
      const m = /^([^=]+)=(\d+)$/.exec(v);
      if (!m || Number(m[2]) < 1) throw new ConfigError(`--dim expects axis=N with N >= 1, got '${v}'`);
      return [m[1]!, Number(m[2])];
    }),
  );
}

function batches(raw: string | undefined): number[] | undefined {
  if (raw === undefined) return undefined;
  const list = raw.split(',').map((s) => s.trim());
  if (!list.every((s) => /^\d+$/.test(s) && Number(s) >= 1))
    throw new ConfigError(`--batch expects positive integers separated by commas, got '${raw}'`);
  return list.map(Number);
}

export async function verifyCommand(file: string, flags: FlagValues<typeof VERIFY_FLAGS>): Promise<FileVerificationReport> {
  if (!fs.existsSync(file)) throw new ConfigError(`'latephase verify': no such file '${file}'`);
  const tolerance = { atol: flags['atol'] ?? 1e-4, rtol: flags['rtol'] ?? 1e-3 };
  let report = await verifyOnnxFileIsolated(file, {
    trials: flags['trials'],
    batches: batches(flags['batch']),
    seed: flags['seed'],
    tolerance,
    perOutput: tolerances(flags['tol'] ?? [], tolerance),
    dims: dims(flags['dim'] ?? []),
    intRange: flags['int-range'],
    inputs: flags['inputs'],
    golden: flags['golden'],
    writeGolden: flags['write-golden'],
    provider: flags['ep'] ? parseProvider(flags['ep']) : 'cpu',
    allowCpuFallback: flags['allow-cpu-fallback'],
    profile: flags['profile'] || flags['ep'] === 'cuda',
    maxBytes: flags['max-bytes'],
  });
  if (flags['reference'] === 'model') {
    await selectBackend();
    const m = await verifyAgainstModel(file, { seed: flags['seed'] });
    report = {
      ...report,
      modelReference: { pass: m.pass, maxAbs: m.maxAbs, maxRel: m.maxRel, checks: m.cases.length },
      pass: report.pass && m.pass,
    };
  }
  if (flags['report']) writeFileAtomic(flags['report'], `${JSON.stringify(report, (_, v: unknown) => (v === Infinity ? 'Infinity' : v), 2)}\n`);
  console.log(formatFileReport(report));
  return report;
}
