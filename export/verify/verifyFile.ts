/**
 * `latephase verify <model.onnx>`: any ONNX file, ours or not. The file is read safely
 * (readOnnx.ts) and inspected first; then its outputs under the candidate configuration
 * (optimisations on, the chosen execution provider) are compared with a reference configuration
 * (CPU, optimisations off) on seeded random inputs over several trials at batch 1 and an odd
 * batch, on user-supplied inputs, and with saved golden outputs (model-zoo layout), which it can
 * also write. The report is schema-versioned JSON plus a readable table; it fails on any
 * mismatch unless the caller asked for warnings.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { ConfigError, VerificationError } from '../../src/errors';
import { Rng } from '../../src/nn/rng';
import { DEFAULT_ATOL, DEFAULT_RTOL, Tolerance } from './compare';
import { chooseProvider, ExecutionProviderName, ProviderChoice } from './executionProvider';
import { formatInspection, Inspection, inspectOnnx, ValueSignature } from './inspect';
import { outputStats, OutputStats } from './outputStats';
import { readOnnxModel } from './readOnnx';
import { GoldenSet, NamedArray, readGoldenSets, writeGoldenSets } from './golden';
import type { OptimizationLevel } from './verify';
import { OUTPUT_ROLES_KEY } from '../onnx/exportOnnx';

export const VERIFY_REPORT_SCHEMA = 'latephase-verify-report/1';

export interface VerifyFileOptions {
  readonly trials?: number;
  readonly batches?: readonly number[];
  readonly seed?: number;
  readonly tolerance?: Tolerance;
  /** Tolerances for single outputs, by name. */
  readonly perOutput?: Readonly<Record<string, Tolerance>>;
  /** Sizes of named dynamic axes other than the leading batch axis. */
  readonly dims?: Readonly<Record<string, number>>;
  /** Integer inputs are drawn from [0, intRange). */
  readonly intRange?: number;
  /** Replay the golden sets in this folder. */
  readonly golden?: string;
  /** Write the seeded inputs and the reference's outputs here, in the model-zoo layout. */
  readonly writeGolden?: string;
  /** Extra inputs in the model-zoo layout (input_<i>.pb only needed), compared like the seeded ones. */
  readonly inputs?: string;
  readonly provider?: ExecutionProviderName;
  readonly allowCpuFallback?: boolean;
  /** Profile the candidate to count the nodes each execution provider ran. */
  readonly profile?: boolean;
  readonly maxBytes?: number;
}

export interface FileCase {
  readonly label: string;
  readonly batch: number | null;
  readonly outputs: readonly OutputStats[];
}

export interface FileVerificationReport {
  readonly schema: typeof VERIFY_REPORT_SCHEMA;
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly inspection: Inspection;
  readonly reference: string;
  readonly candidate: string;
  readonly provider: ProviderChoice;
  /** Nodes per execution provider in the candidate's profile (when profiled). */
  readonly nodesByProvider?: Readonly<Record<string, number>>;
  readonly cases: readonly FileCase[];
  /** Each output's worst figures over all cases. */
  readonly outputs: readonly OutputStats[];
  /** For our exports checked with --reference model: onnxruntime against the tfjs model rebuilt from the bundle. */
  readonly modelReference?: { readonly pass: boolean; readonly maxAbs: number; readonly maxRel: number; readonly checks: number };
  readonly pass: boolean;
}

const ORT_TYPES: Readonly<Record<string, NamedArray['dtype']>> = { FLOAT: 'float32', INT64: 'int64', INT32: 'int32', BOOL: 'bool' };

/** Concrete dims of an input at `batch`: a dynamic leading axis takes the batch, other named axes come from `dims`. */
function concreteDims(v: ValueSignature, batch: number, dims: Readonly<Record<string, number>>): number[] {
  return v.shape.map((d, i) => {
    if (typeof d === 'number') return d;
    if (i === 0) return batch;
    const size = dims[d];
    if (size === undefined) throw new ConfigError(`input '${v.name}' has the dynamic axis '${d}' (position ${i}); give its size with --dim ${d}=N`);
    return size;
  });
}

function seededInput(v: ValueSignature, dims: number[], rng: Rng, intRange: number): NamedArray {
  const dtype = ORT_TYPES[v.dtype];
  if (!dtype) throw new ConfigError(`input '${v.name}' is ${v.dtype}; seeded inputs support FLOAT, INT64, INT32 and BOOL (give --inputs)`);
  const n = dims.reduce((a, b) => a * b, 1);
  const draw = (): number => Math.floor(rng.next() * intRange);
  const data =
    dtype === 'float32'
      ? Float32Array.from({ length: n }, () => rng.next())
      : dtype === 'int64'
        ? BigInt64Array.from({ length: n }, () => BigInt(draw()))
        : dtype === 'int32'
          ? Int32Array.from({ length: n }, draw)
          : Uint8Array.from({ length: n }, () => (rng.next() < 0.5 ? 1 : 0));
  return { name: v.name, dtype, dims, data };
}

const feedsOf = (arrays: readonly NamedArray[]): Record<string, ort.Tensor> =>
  Object.fromEntries(arrays.map((a) => [a.name, new ort.Tensor(a.dtype, a.data, [...a.dims])]));

/** Class outputs: those our export marks as logits/probabilities, or (any file) float [..., C > 1] outputs. */
function classWidths(inspection: Inspection): Map<string, number> {
  let roles: Record<string, string> = {};
  try {
    roles = JSON.parse(inspection.metadata[OUTPUT_ROLES_KEY] ?? '{}') as Record<string, string>;
  } catch {
    roles = {};
  }
  const out = new Map<string, number>();
  for (const o of inspection.outputs) {
    const last = o.shape[o.shape.length - 1];
    const marked = roles[o.name];
    const isClass = marked ? marked === 'logits' || marked === 'probabilities' : o.dtype === 'FLOAT' && o.shape.length >= 2;
    if (isClass && typeof last === 'number' && last > 1) out.set(o.name, last);
  }
  return out;
}

async function createSession(bytes: Uint8Array, options: ort.InferenceSession.SessionOptions, what: string): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(bytes, options);
  } catch (err) {
    throw new VerificationError(`onnxruntime could not load the model (${what}): ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function run(session: ort.InferenceSession, feeds: readonly NamedArray[], what: string): Promise<ort.InferenceSession.ReturnType> {
  try {
    return await session.run(feedsOf(feeds));
  } catch (err) {
    throw new VerificationError(`onnxruntime failed to run the model (${what}): ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Nodes per execution provider, from an onnxruntime profile (JSON trace events). */
function providersInProfile(file: string): Record<string, number> {
  const events = JSON.parse(fs.readFileSync(file, 'utf8')) as Array<{ cat?: string; name?: string; args?: { provider?: string } }>;
  const nodes = new Map<string, string>();
  for (const e of events)
    if (e.cat === 'Node' && e.args?.provider && e.name) nodes.set(e.name.replace(/_(kernel_time|fence_before|fence_after)$/, ''), e.args.provider);
  const counts: Record<string, number> = {};
  for (const p of nodes.values()) counts[p] = (counts[p] ?? 0) + 1;
  return counts;
}

function worst(output: string, stats: readonly OutputStats[]): OutputStats {
  const max = (pick: (s: OutputStats) => number): number => Math.max(...stats.map(pick));
  const agreements = stats.map((s) => s.argmaxAgreement).filter((a): a is number => a !== undefined);
  return {
    output,
    elements: stats.reduce((n, s) => n + s.elements, 0),
    maxAbs: max((s) => s.maxAbs),
    maxRel: max((s) => s.maxRel),
    p99Abs: max((s) => s.p99Abs),
    meanAbs: max((s) => s.meanAbs),
    minAtol: max((s) => s.minAtol),
    nonFinite: { candidate: stats.reduce((n, s) => n + s.nonFinite.candidate, 0), reference: stats.reduce((n, s) => n + s.nonFinite.reference, 0) },
    mismatched: stats.reduce((n, s) => n + s.mismatched, 0),
    ...(agreements.length ? { argmaxAgreement: Math.min(...agreements) } : {}),
    tolerance: stats[0]!.tolerance,
    pass: stats.every((s) => s.pass),
  };
}

export async function verifyOnnxFile(file: string, opts: VerifyFileOptions = {}): Promise<FileVerificationReport> {
  const read = readOnnxModel(file, { maxBytes: opts.maxBytes });
  const inspection = inspectOnnx(read.model);
  const bytes = onnx.ModelProto.encode(read.model).finish(); // external data now inline
  const provider = chooseProvider(opts.provider ?? 'cpu', opts.allowCpuFallback ?? false);
  const tolerance = opts.tolerance ?? { atol: DEFAULT_ATOL, rtol: DEFAULT_RTOL };
  const tolOf = (name: string): Tolerance => opts.perOutput?.[name] ?? tolerance;
  const unknown = Object.keys(opts.perOutput ?? {}).filter((n) => !inspection.outputs.some((o) => o.name === n));
  if (unknown.length)
    throw new ConfigError(`tolerance for unknown output(s) ${unknown.join(', ')}; outputs: ${inspection.outputs.map((o) => o.name).join(', ')}`);
  const profileDir = opts.profile ? fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-profile-')) : null;
  const reference = await createSession(
    bytes,
    { executionProviders: ['cpu'], graphOptimizationLevel: 'disabled' },
    'reference: cpu, optimisations off',
  );
  const candidate = await createSession(
    bytes,
    {
      executionProviders: [provider.used],
      graphOptimizationLevel: 'all' as OptimizationLevel,
      ...(profileDir && { enableProfiling: true, profileFilePrefix: path.join(profileDir, 'ort') }),
    },
    `candidate: ${provider.used}, optimisations all`,
  );
  const classes = classWidths(inspection);
  const cases: FileCase[] = [];
  const goldens: GoldenSet[] = [];
  const compare = async (label: string, batch: number | null, feeds: readonly NamedArray[], expected?: readonly NamedArray[]): Promise<void> => {
    const got = await run(candidate, feeds, label);
    const want = expected ? null : await run(reference, feeds, label);
    const outputs = inspection.outputs.map((o, j) => {
      const c = got[o.name];
      const r = expected ? (expected.find((e) => e.name === o.name) ?? expected[j]) : want![o.name];
      if (!c || !r) throw new VerificationError(`${label}: no value for output '${o.name}' (${c ? 'reference' : 'candidate'})`);
      const asNumbers = (v: ArrayLike<number | bigint>): number[] => Array.from(v, Number);
      return outputStats(
        o.name,
        asNumbers(c.data as ArrayLike<number>),
        asNumbers((r as { data: ArrayLike<number> }).data),
        tolOf(o.name),
        classes.get(o.name),
      );
    });
    cases.push({ label, batch, outputs });
    if (opts.writeGolden && want && batch !== null && goldens.length < 2)
      goldens.push({
        label,
        inputs: feeds,
        outputs: inspection.outputs.map((o) => {
          const t = want[o.name]!;
          return {
            name: o.name,
            dtype: ORT_TYPES[inspection.outputs.find((x) => x.name === o.name)!.dtype] ?? 'float32',
            dims: [...t.dims],
            data: t.data as Float32Array,
          };
        }),
      });
  };
  try {
    const rng = new Rng(opts.seed ?? 0);
    const trials = opts.trials ?? 3;
    for (let trial = 0; trial < trials; trial++) {
      for (const batch of opts.batches ?? [1, 7]) {
        const feeds = inspection.inputs.map((v) => seededInput(v, concreteDims(v, batch, opts.dims ?? {}), rng, opts.intRange ?? 10));
        await compare(`seeded trial ${trial + 1}`, batch, feeds);
      }
    }
    if (opts.inputs) for (const set of readGoldenSets(opts.inputs)) await compare(`inputs ${set.label.replace('golden ', '')}`, null, set.inputs);
    if (opts.golden)
      for (const set of readGoldenSets(opts.golden)) await compare(set.label, null, set.inputs, set.outputs.length ? set.outputs : undefined);
    if (opts.writeGolden) writeGoldenSets(opts.writeGolden, goldens);
  } finally {
    await reference.release();
    await candidate.release();
  }
  let nodesByProvider: Record<string, number> | undefined;
  if (profileDir) {
    const profile = fs.readdirSync(profileDir).find((f) => f.endsWith('.json'));
    if (profile) nodesByProvider = providersInProfile(path.join(profileDir, profile));
    fs.rmSync(profileDir, { recursive: true, force: true });
  }
  const outputs = inspection.outputs.map((o) =>
    worst(
      o.name,
      cases.flatMap((c) => c.outputs.filter((s) => s.output === o.name)),
    ),
  );
  const raw = fs.readFileSync(file);
  return {
    schema: VERIFY_REPORT_SCHEMA,
    file: path.resolve(file),
    bytes: raw.length,
    sha256: crypto.createHash('sha256').update(raw).digest('hex'),
    inspection,
    reference: 'onnxruntime cpu, graph optimisations disabled',
    candidate: `onnxruntime ${provider.used}, graph optimisations all${provider.fallbackReason ? ` (requested ${provider.requested}: ${provider.fallbackReason})` : ''}`,
    provider,
    ...(nodesByProvider && { nodesByProvider }),
    cases,
    outputs,
    pass: outputs.every((o) => o.pass),
  };
}

const e = (x: number): string => (Number.isFinite(x) ? x.toExponential(2) : String(x));

/** The readable report: the inspection, then one row per output with its worst figures. */
export function formatFileReport(r: FileVerificationReport): string {
  const header = ['output', 'max abs', 'max rel', 'p99 abs', 'mean abs', 'min atol', 'NaN/Inf', 'argmax', 'tolerance', 'verdict'];
  const rows = r.outputs.map((o) => [
    o.output,
    e(o.maxAbs),
    e(o.maxRel),
    e(o.p99Abs),
    e(o.meanAbs),
    e(o.minAtol),
    `${o.nonFinite.candidate}/${o.nonFinite.reference}`,
    o.argmaxAgreement === undefined ? '-' : `${(100 * o.argmaxAgreement).toFixed(1)}%`,
    `atol ${o.tolerance.atol}, rtol ${o.tolerance.rtol}`,
    o.pass ? 'PASS' : 'FAIL',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => `  ${cells.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`;
  return [
    `${r.file} (${r.bytes} bytes, sha256 ${r.sha256.slice(0, 16)}...)`,
    formatInspection(r.inspection),
    `compared: ${r.candidate} against ${r.reference}; ${r.cases.length} case(s): ${[...new Set(r.cases.map((c) => c.label))].join(', ')}`,
    ...(r.modelReference
      ? [
          `against the tfjs model rebuilt from the bundle: ${r.modelReference.pass ? 'PASS' : 'FAIL'} (max abs ${e(r.modelReference.maxAbs)}, max rel ${e(r.modelReference.maxRel)}; ${r.modelReference.checks} checks)`,
        ]
      : []),
    ...(r.nodesByProvider
      ? [
          `nodes run per execution provider: ${Object.entries(r.nodesByProvider)
            .map(([p, n]) => `${p} ${n}`)
            .join(', ')}`,
        ]
      : []),
    line(header),
    ...rows.map(line),
    r.pass ? 'verdict: PASS' : 'verdict: FAIL',
  ].join('\n');
}
