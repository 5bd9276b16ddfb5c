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
import { ConfigError, DataError, UnsupportedModelError, VerificationError } from '../../src/errors';
import { Rng } from '../../src/nn/rng';
import { DEFAULT_ATOL, DEFAULT_RTOL, Tolerance } from './compare';
import { chooseProvider, ExecutionProviderName, ProviderChoice } from './executionProvider';
import { Inspection, inspectOnnx, ValueSignature } from './inspect';
import { outputStats, OutputStats } from './outputStats';
import { readOnnxModel } from '../../src/onnx/readOnnx';
import { GoldenSet, NamedArray, readGoldenSets, writeGoldenSets } from './golden';
import { asNumbers, ELEMENT_TYPES, ElementType, numberToHalf, OrtElementType, TensorValues } from './elementTypes';
import { describeRole, InputRole, inputRoles } from './inputRoles';
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

interface SkippedCase {
  readonly label: string;
  readonly reason: string;
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
  /** Cases not run, with the reason (seeded values that would mean nothing to the model). */
  readonly skipped: readonly SkippedCase[];
  /** Each output's worst figures over all cases. */
  readonly outputs: readonly OutputStats[];
  /** For our exports checked with --reference model: onnxruntime against the tfjs model rebuilt from the bundle. */
  readonly modelReference?: { readonly pass: boolean; readonly maxAbs: number; readonly maxRel: number; readonly checks: number };
  readonly pass: boolean;
}

/** The most bytes of seeded inputs one case may allocate (a fixed [200000, 200000] input, or --batch 100000000, is refused before). */
const MAX_SEEDED_BYTES = 512 * 2 ** 20;

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

/** One graph input as seeded trials see it: its type, how the graph uses it, and golden values to copy or take ranges from. */
interface SeededInput {
  readonly signature: ValueSignature;
  readonly type: ElementType;
  readonly role: InputRole;
  readonly golden?: NamedArray;
}

/** Inputs whose values cannot be drawn at random (structure, strings, indices into an axis of unknown size): given values only. */
const needsGivenValues = ({ type, role }: SeededInput): boolean =>
  type.draw === 'none' || role.kind === 'structure' || (role.kind === 'index' && role.bound === null);

/** Why seeded values for this input would be invented badly (then the trials are skipped, saying so), or null. */
function cannotSeed(input: SeededInput): string | null {
  if (!needsGivenValues(input) || input.golden) return null; // golden values are copied
  const { role, signature } = input;
  return role.kind === 'data'
    ? `input '${signature.name}' is ${signature.dtype}: seeded text means nothing`
    : `input '${signature.name}' ${describeRole(role)}`;
}

/** [low, high] of a golden tensor's finite values, for drawing seeded values in the range the model was given. */
function goldenRange(a: NamedArray): [number, number] | null {
  if (Array.isArray(a.data)) return null;
  let [lo, hi] = [Infinity, -Infinity];
  for (const v of asNumbers(a.data, a.dtype)) if (Number.isFinite(v)) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  return lo <= hi ? [lo, hi] : null;
}

/** Seeded values of `dims` for `input`: within the golden data's range where there is one, indices in range, divisors non-zero. */
function seededValues(input: SeededInput, dims: number[], rng: Rng, intRange: number): NamedArray {
  const { type, role, golden, signature } = input;
  const name = signature.name;
  if (golden && needsGivenValues(input)) return { ...golden, name };
  const n = dims.reduce((a, b) => a * b, 1);
  const data = type.zeros(n);
  const range = golden ? goldenRange(golden) : null;
  if (type.draw === 'float') {
    const [lo, hi] = role.kind === 'divisor' ? [0.5, 1.5] : (range ?? [0, 1]);
    for (let i = 0; i < n; i++) {
      const v = lo + (hi - lo) * rng.next();
      data[i] = type.ort === 'float16' ? numberToHalf(Math.abs(v)) | (v < 0 ? 0x8000 : 0) : v;
    }
  } else if (type.draw === 'bool') for (let i = 0; i < n; i++) data[i] = rng.next() < 0.5 ? 1 : 0;
  else {
    const [typeLo, typeHi] = type.range ?? [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER];
    const wanted: [number, number] =
      role.kind === 'index' ? [0, role.bound! - 1] : role.kind === 'divisor' ? [1, intRange - 1] : range ? [range[0], range[1]] : [0, intRange - 1];
    const lo = Math.max(typeLo, Math.ceil(wanted[0]));
    const hi = Math.max(lo, Math.min(typeHi, Math.floor(wanted[1])));
    for (let i = 0; i < n; i++) {
      const v = lo + Math.floor(rng.next() * (hi - lo + 1));
      if (data instanceof BigInt64Array || data instanceof BigUint64Array) data[i] = BigInt(v);
      else data[i] = v;
    }
  }
  return { name, dtype: type.ort, dims, data };
}

/** ConfigError before allocation when the seeded inputs of one case would exceed MAX_SEEDED_BYTES. */
function checkSeededSize(inputs: readonly SeededInput[], shapes: readonly number[][], what: string): void {
  let total = 0;
  inputs.forEach((input, i) => {
    const elements = shapes[i]!.reduce((a, b) => a * b, 1);
    total += elements * Math.max(input.type.bytes, 1);
    if (!Number.isSafeInteger(elements) || total > MAX_SEEDED_BYTES)
      throw new ConfigError(
        `${what}: input '${input.signature.name}' of shape [${shapes[i]!.join(', ')}] would take ${total > 0 ? `${(total / 2 ** 20).toFixed(0)} MiB` : 'more memory than can be addressed'}, over the ${MAX_SEEDED_BYTES / 2 ** 20} MiB of seeded inputs a case may allocate; use a smaller --batch or --dim, or give inputs with --inputs`,
      );
  });
}

const feedsOf = (arrays: readonly NamedArray[]): Record<string, ort.Tensor> =>
  Object.fromEntries(arrays.map((a) => [a.name, new ort.Tensor(a.dtype, a.data as ort.Tensor.DataType, [...a.dims])]));

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
    return await ort.InferenceSession.create(bytes, { logSeverityLevel: 4, ...options }); // fatal only: what fails comes back as an error; a foreign model's warnings are not ours to print
  } catch (err) {
    throw new VerificationError(`onnxruntime could not load the model (${what}): ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function run(session: ort.InferenceSession, feeds: readonly NamedArray[], what: string): Promise<ort.InferenceSession.ReturnType> {
  try {
    return await session.run(feedsOf(feeds));
  } catch (err) {
    throw new VerificationError(`onnxruntime failed to run the model (${what}): ${firstLine(err)}`);
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

/** Inputs and outputs onnxruntime-node cannot feed or return (sequences, optionals, maps, bfloat16...): an UnsupportedModelError before onnxruntime runs. */
function checkSupported(inspection: Inspection): void {
  const unsupported = [...inspection.inputs.map((v) => ['input', v] as const), ...inspection.outputs.map((v) => ['output', v] as const)].filter(
    ([, v]) => !ELEMENT_TYPES[v.dtype],
  );
  if (unsupported.length)
    throw new UnsupportedModelError(
      `not supported by onnxruntime-node: ${unsupported.map(([k, v]) => `${k} '${v.name}' is ${v.dtype}`).join('; ')} (it feeds and returns tensors of ${Object.keys(ELEMENT_TYPES).join(', ')} only); nothing was run`,
    );
}

/** A golden set's tensors in graph order: by name where the name is the graph's, else by position (older exports leave names empty). */
function inGraphOrder(arrays: readonly NamedArray[], graph: readonly ValueSignature[], what: string): NamedArray[] {
  const byName = new Map(arrays.filter((a) => a.name).map((a) => [a.name, a]));
  const named = graph.every((v) => byName.has(v.name));
  if (!named && arrays.length !== graph.length)
    throw new DataError(
      `${what}: ${arrays.length} tensor(s) for the graph's ${graph.length} (${graph.map((v) => v.name).join(', ')}); names ${arrays.map((a) => `'${a.name}'`).join(', ')} do not match them either`,
    );
  return graph.map((v, i) => ({ ...(named ? byName.get(v.name)! : arrays[i]!), name: v.name }));
}

/** One output compared: shapes, then values as numbers (strings: equal or not). */
function compareOutput(
  o: ValueSignature,
  got: ort.Tensor,
  want: { dims: readonly number[]; data: unknown; type?: string; dtype?: string },
  tolerance: Tolerance,
  classes?: number,
): OutputStats {
  const sameShape = got.dims.length === want.dims.length && got.dims.every((d, i) => d === want.dims[i]);
  const wantType = (want.type ?? want.dtype) as OrtElementType;
  if (got.type === 'string' || wantType === 'string') {
    // Text is equal or not: the figures count unequal elements (mean abs = their share).
    const [a, b] = [got.data as unknown as string[], want.data as string[]];
    const unequal = sameShape && a.length === b.length ? a.filter((v, i) => v !== b[i]).length : Math.max(b.length, 1);
    const worst = unequal ? 1 : 0;
    return {
      output: o.name,
      elements: b.length,
      maxAbs: worst,
      maxRel: worst,
      p99Abs: worst,
      meanAbs: unequal / Math.max(b.length, 1),
      minAtol: unequal ? Infinity : 0,
      nonFinite: { candidate: 0, reference: 0 },
      mismatched: unequal,
      tolerance: { atol: 0, rtol: 0 },
      pass: unequal === 0,
    };
  }
  const [a, b] = [asNumbers(got.data as ArrayLike<number>, got.type as OrtElementType), asNumbers(want.data as ArrayLike<number>, wantType)];
  return outputStats(o.name, sameShape ? a : [], b, tolerance, { classes, equalNonFinite: true });
}

export async function verifyOnnxFile(file: string, opts: VerifyFileOptions = {}): Promise<FileVerificationReport> {
  const read = readOnnxModel(file, { maxBytes: opts.maxBytes });
  const inspection = inspectOnnx(read.model);
  checkSupported(inspection);
  const bytes = onnx.ModelProto.encode(read.model).finish(); // external data now inline
  const provider = chooseProvider(opts.provider ?? 'cpu', opts.allowCpuFallback ?? false);
  const tolerance = opts.tolerance ?? { atol: DEFAULT_ATOL, rtol: DEFAULT_RTOL };
  const tolOf = (name: string): Tolerance => opts.perOutput?.[name] ?? tolerance;
  const unknown = Object.keys(opts.perOutput ?? {}).filter((n) => !inspection.outputs.some((o) => o.name === n));
  if (unknown.length)
    throw new ConfigError(`tolerance for unknown output(s) ${unknown.join(', ')}; outputs: ${inspection.outputs.map((o) => o.name).join(', ')}`);
  const trials = opts.trials ?? 3;
  const golden = opts.golden ? readGoldenSets(opts.golden) : [];
  const extra = opts.inputs ? readGoldenSets(opts.inputs) : [];
  if (!golden.length && !extra.length && trials === 0)
    throw new ConfigError('nothing to compare: no trials (--trials 0), no --golden and no --inputs');
  const roles = inputRoles(read.model);
  const firstInputs = golden[0] ?? extra[0];
  const seeded: SeededInput[] = inspection.inputs.map((signature, i) => ({
    signature,
    type: ELEMENT_TYPES[signature.dtype]!,
    role: roles.get(signature.name) ?? { kind: 'data' },
    ...(firstInputs && { golden: inGraphOrder(firstInputs.inputs, inspection.inputs, `${opts.golden ?? opts.inputs} ${firstInputs.label}`)[i]! }),
  }));
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
  const skipped: SkippedCase[] = [];
  const goldens: GoldenSet[] = [];
  /** Compare the candidate with `expected` (golden) or with the reference run; false when seeded inputs were refused by the reference. */
  const compare = async (label: string, batch: number | null, feeds: readonly NamedArray[], expected?: readonly NamedArray[]): Promise<boolean> => {
    let want: ort.InferenceSession.ReturnType | null = null;
    if (!expected) {
      try {
        want = await reference.run(feedsOf(feeds));
      } catch (err) {
        if (label.startsWith('seeded')) {
          skipped.push({
            label,
            reason: `onnxruntime refused the seeded inputs (${firstLine(err)}): seeded values mean nothing to this model; give --golden or --inputs`,
          });
          return false;
        }
        throw new VerificationError(`onnxruntime failed to run the model (${label}, reference): ${firstLine(err)}`);
      }
    }
    const got = await run(candidate, feeds, label);
    const expectedInOrder = expected ? inGraphOrder(expected, inspection.outputs, label) : null;
    const outputs = inspection.outputs.map((o, j) => {
      const c = got[o.name];
      const r = expectedInOrder ? expectedInOrder[j] : want![o.name];
      if (!c || !r) throw new VerificationError(`${label}: no value for output '${o.name}' (${c ? 'reference' : 'candidate'})`);
      return compareOutput(o, c, r, tolOf(o.name), classes.get(o.name));
    });
    cases.push({ label, batch, outputs });
    if (opts.writeGolden && want && label.startsWith('seeded') && goldens.length < 2)
      goldens.push({
        label,
        inputs: feeds,
        outputs: inspection.outputs.map((o) => {
          const t = want[o.name]!;
          return { name: o.name, dtype: t.type as OrtElementType, dims: [...t.dims], data: t.data as TensorValues };
        }),
      });
    return true;
  };
  try {
    // Golden data first: it is what the model's author says it computes.
    for (const set of golden) {
      const inputs = inGraphOrder(set.inputs, inspection.inputs, `${opts.golden} ${set.label}`);
      await compare(set.label, null, inputs, set.outputs.length ? set.outputs : undefined);
    }
    for (const set of extra)
      await compare(`inputs ${set.label.replace('golden ', '')}`, null, inGraphOrder(set.inputs, inspection.inputs, `${opts.inputs} ${set.label}`));
    const why = seeded.map(cannotSeed).filter((r): r is string => r !== null);
    if (trials > 0 && why.length) skipped.push({ label: 'seeded trials', reason: `${why.join('; ')}: give --golden or --inputs` });
    else {
      const rng = new Rng(opts.seed ?? 0);
      // With golden data the trials keep its shapes (fixed by the author's data); else each batch size.
      const batchSizes: Array<number | null> = firstInputs ? [null] : [...(opts.batches ?? [1, 7])];
      trials: for (let trial = 0; trial < trials; trial++) {
        for (const batch of batchSizes) {
          const label = `seeded trial ${trial + 1}${batch === null ? ' (golden shapes)' : ''}`;
          const shapes = seeded.map((input) => (batch === null ? [...input.golden!.dims] : concreteDims(input.signature, batch, opts.dims ?? {})));
          checkSeededSize(seeded, shapes, label);
          const feeds = seeded.map((input, i) => seededValues(input, shapes[i]!, rng, opts.intRange ?? 10));
          if (!(await compare(label, batch, feeds))) break trials;
        }
      }
    }
    if (!cases.length) throw new ConfigError(`nothing was compared: ${skipped.map((k) => `${k.label}: ${k.reason}`).join('; ')}`);
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
    skipped,
    outputs,
    pass: outputs.every((o) => o.pass),
  };
}

const firstLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
