/**
 * `latephase verify` on any ONNX file: structure inspection, optimised vs unoptimised onnxruntime
 * on seeded trials, golden data written and replayed (model-zoo layout), a deliberately wrong
 * model failing with a per-output report, and safe reading: size limit, malformed protobuf,
 * hostile external-data entries (each refused before anything is read) and a fuzz of mutated files.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { onnx } from 'onnx-proto';
import { mlp } from '../models/mlp';
import { exportOnnx } from '../export/onnx/exportOnnx';
import { foldMembers } from '../src/latephase/fold';
import { releaseMembers } from '../src/latephase/members';
import { verifyOnnxFile, VERIFY_REPORT_SCHEMA } from '../export/verify/verifyFile';
import { readOnnxModel } from '../src/onnx/readOnnx';
import { inspectOnnx } from '../export/verify/inspect';
import { float32Bytes, floatValueInfo, IR_VERSION, OPSET } from '../src/onnx/proto';
import { ConfigError, DataError, LatePhaseError, UnsupportedModelError } from '../src/errors';
import { encodeTensor } from '../export/verify/golden';
import { Rng } from '../src/nn/rng';
import { runCli, runMain, useBackend } from './helpers';

before(async () => {
  await useBackend('wasm');
});

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-verify-'));

/** Our export of a tiny folded MLP (BN + head late-phase, K = 2). */
function ourModel(dir: string, seed = 1): string {
  const model = mlp({ inputs: 4, hidden: [5], classes: 3, seed });
  releaseMembers(model, 2, 0.3, 2);
  const folded = foldMembers(model);
  const file = path.join(dir, `ours-${seed}.onnx`);
  fs.writeFileSync(file, exportOnnx(folded, { provenance: { seed } }).bytes);
  model.dispose();
  folded.dispose();
  return file;
}

type Ext = Array<{ key: string; value: string }>;

/** A foreign graph: y = relu(x W + b), x [batch, seq] with named axes; W stored in `w.bin` when `external` is given. */
function foreignModel(dir: string, external?: Ext, inline = false): string {
  const w = Float32Array.from({ length: 6 }, (_, i) => (i - 2.5) / 3);
  fs.writeFileSync(path.join(dir, 'w.bin'), Buffer.concat([Buffer.alloc(8), Buffer.from(float32Bytes(w))]));
  const weight: onnx.ITensorProto = external
    ? {
        name: 'W',
        dataType: onnx.TensorProto.DataType.FLOAT,
        dims: [3, 2],
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: external,
        ...(inline ? { rawData: float32Bytes(w) } : {}),
      }
    : { name: 'W', dataType: onnx.TensorProto.DataType.FLOAT, dims: [3, 2], rawData: float32Bytes(w) };
  const graph: onnx.IGraphProto = {
    name: 'foreign',
    node: [
      { opType: 'MatMul', input: ['x', 'W'], output: ['h'], name: 'mm' },
      { opType: 'Relu', input: ['h'], output: ['y'], name: 'relu' },
    ],
    initializer: [weight],
    input: [floatValueInfo('x', ['batch', 3])],
    output: [floatValueInfo('y', ['batch', 2])],
  };
  const bytes = onnx.ModelProto.encode({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'someone-else',
    graph,
    metadataProps: [
      { key: 'k', value: '1' },
      { key: 'k', value: '2' },
    ],
  }).finish();
  const file = path.join(dir, 'foreign.onnx');
  fs.writeFileSync(file, bytes);
  return file;
}

const EXTERNAL: Ext = [
  { key: 'location', value: 'w.bin' },
  { key: 'offset', value: '8' },
  { key: 'length', value: '24' },
];

test('our export: inspected, both onnxruntime configurations agree on seeded trials, goldens written and replayed', async () => {
  const dir = tmp();
  const file = ourModel(dir);
  const golden = path.join(dir, 'golden');
  const report = await verifyOnnxFile(file, { writeGolden: golden, profile: true });
  assert.equal(report.schema, VERIFY_REPORT_SCHEMA);
  assert.ok(report.pass);
  assert.deepEqual(
    report.inspection.inputs.map((i) => [i.name, i.dtype, i.shape]),
    [['input', 'FLOAT', ['N', 4]]],
  );
  assert.deepEqual(
    report.inspection.outputs.map((o) => o.name),
    ['logits', 'probabilities'],
  );
  assert.equal(report.cases.length, 6, '3 trials at batch 1 and 7');
  assert.deepEqual([...new Set(report.cases.map((c) => c.batch))], [1, 7]);
  for (const o of report.outputs) {
    assert.equal(o.argmaxAgreement, 1, `${o.output}: class output by its role`);
    assert.ok(o.maxAbs <= 1e-5 && o.minAtol <= 1e-5 && o.p99Abs <= o.maxAbs && o.meanAbs <= o.p99Abs + 1e-12);
  }
  assert.ok((report.nodesByProvider?.['CPUExecutionProvider'] ?? 0) > 0, `profile names the provider: ${JSON.stringify(report.nodesByProvider)}`);
  assert.ok(fs.existsSync(path.join(golden, 'test_data_set_0', 'input_0.pb')) && fs.existsSync(path.join(golden, 'test_data_set_1', 'output_1.pb')));

  const replay = await verifyOnnxFile(file, { golden, trials: 1 });
  assert.ok(replay.pass);
  assert.ok(replay.cases.some((c) => c.label === 'golden test_data_set_1'));

  // A deliberately wrong model (other weights) against those goldens: FAIL, per output, with the figures.
  const wrong = ourModel(dir, 7);
  const bad = await verifyOnnxFile(wrong, { golden, trials: 1 });
  assert.equal(bad.pass, false);
  for (const o of bad.outputs) {
    assert.equal(o.pass, false, o.output);
    assert.ok(o.maxAbs > 1e-3 && o.minAtol > 1e-4 && o.mismatched > 0);
  }
  const cli = runCli(['verify', wrong, '--golden', golden, '--trials', '1', '--report', path.join(dir, 'r.json')]);
  assert.equal(cli.code, 3, cli.stderr);
  assert.match(cli.stdout, /logits\s+\S+.*FAIL/);
  assert.match(cli.stderr, /VerificationError: '.*ours-7\.onnx': logits, probabilities outside tolerance/);
  const written = JSON.parse(fs.readFileSync(path.join(dir, 'r.json'), 'utf8')) as { schema: string; pass: boolean };
  assert.deepEqual([written.schema, written.pass], [VERIFY_REPORT_SCHEMA, false]);
  const warn = runCli(['verify', wrong, '--golden', golden, '--trials', '1', '--warn-only']);
  assert.equal(warn.code, 0);
  assert.match(warn.stderr, /exiting 0 because of --warn-only/);
  assert.match(warn.stdout, /verdict: FAIL/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a foreign file: named dynamic axes need --dim, duplicate metadata keys flagged, per-output tolerances', async () => {
  const dir = tmp();
  const file = foreignModel(dir);
  const inspection = inspectOnnx(readOnnxModel(file).model);
  assert.deepEqual(inspection.duplicateMetadataKeys, ['k']);
  assert.equal(inspection.producer, 'someone-else');
  const report = await verifyOnnxFile(file, { perOutput: { y: { atol: 1e-6, rtol: 0 } } });
  assert.ok(report.pass);
  assert.deepEqual(report.outputs[0]!.tolerance, { atol: 1e-6, rtol: 0 });
  await assert.rejects(verifyOnnxFile(file, { perOutput: { z: { atol: 1, rtol: 1 } } }), /tolerance for unknown output\(s\) z; outputs: y/);
  const cli = runCli(['verify', file, '--tol', 'y=1e-6:0']);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /metadata: 2 entries; DUPLICATE keys: k \(readers see only one value of each\)/);
  assert.match(cli.stdout, /input\s+x: FLOAT \[batch, 3\]/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('external data: loaded when safe; hostile entries are named errors before anything is read', async () => {
  const dir = tmp();
  const ok = foreignModel(dir, EXTERNAL);
  assert.equal(readOnnxModel(ok).externalBytes, 24);
  assert.ok((await verifyOnnxFile(ok, { trials: 1 })).pass);
  const outside = tmp();
  fs.writeFileSync(path.join(outside, 'secret.bin'), Buffer.alloc(64, 7));
  fs.symlinkSync(path.join(outside, 'secret.bin'), path.join(dir, 'link.bin'));
  fs.mkdirSync(path.join(dir, 'sub'));
  fs.symlinkSync(outside, path.join(dir, 'outdir'));
  const entry = (over: Record<string, string>): Ext =>
    Object.entries({ location: 'w.bin', offset: '8', length: '24', ...over }).map(([key, value]) => ({ key, value }));
  const hostile: Array<[string, Ext, RegExp, boolean?]> = [
    ['parent path', entry({ location: `../${path.basename(outside)}/secret.bin` }), /contains '\.\.'/],
    ['absolute path', entry({ location: path.join(outside, 'secret.bin') }), /is absolute/],
    ['drive path', entry({ location: 'C:\\secret.bin' }), /is absolute/],
    ['UNC path', entry({ location: '\\\\server\\share\\w.bin' }), /is absolute/],
    ['symlink to outside', entry({ location: 'link.bin' }), /is a symbolic link/],
    ['through a linked folder', entry({ location: 'outdir/secret.bin' }), /resolves outside the model folder/],
    ['a folder', entry({ location: 'sub' }), /is not a regular file/],
    ['missing file', entry({ location: 'nope.bin' }), /does not exist/],
    ['NUL byte', entry({ location: 'w.bin\0x' }), /NUL byte/],
    ['past the end', entry({ offset: '16' }), /runs past the end of 'w\.bin'/],
    ['wrong length', entry({ length: '20' }), /length 20 differs from the tensor's 24 bytes/],
    ['not a number', entry({ offset: '-8' }), /offset "-8" is not a byte count/],
    ['unknown key', [...EXTERNAL, { key: 'evil', value: '1' }], /unknown external data key\(s\) 'evil'/],
    ['inline beside external', EXTERNAL, /inline data beside external data/, true],
  ];
  for (const [what, ext, message, inline] of hostile) {
    const file = foreignModel(dir, ext, inline);
    assert.throws(
      () => readOnnxModel(file),
      (e: Error) => e instanceof DataError && message.test(e.message),
      what,
    );
    const cli = await runMain(['verify', file]);
    assert.equal(cli.code, 2, `${what}: ${cli.stderr}`);
    assert.match(cli.stderr, /^latephase: DataError: /, what);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

test('size limit, empty and malformed files, and a fuzz of mutated models: named errors only', () => {
  const dir = tmp();
  const file = foreignModel(dir, EXTERNAL);
  assert.throws(() => readOnnxModel(file, { maxBytes: 10 }), /bytes, over the 10-byte limit/);
  fs.writeFileSync(path.join(dir, 'empty.onnx'), '');
  assert.throws(() => readOnnxModel(path.join(dir, 'empty.onnx')), /is empty/);
  fs.writeFileSync(path.join(dir, 'text.onnx'), 'this is not a model at all, just some words');
  assert.throws(
    () => readOnnxModel(path.join(dir, 'text.onnx')),
    (e: Error) => e instanceof DataError && /not .*ONNX model/.test(e.message),
  );
  const good = fs.readFileSync(file);
  const rng = new Rng(12);
  let accepted = 0;
  for (let i = 0; i < 400; i++) {
    const bytes = Buffer.from(good);
    const kind = i % 3;
    let mutated: Buffer = bytes;
    if (kind === 0) for (let f = 0; f <= i % 4; f++) bytes[Math.floor(rng.next() * bytes.length)]! ^= 1 << Math.floor(rng.next() * 8);
    else if (kind === 1) mutated = bytes.subarray(0, Math.floor(rng.next() * bytes.length));
    else {
      // Rewrite the external location to a hostile one of the same length class.
      const text = bytes.toString('latin1').replace('w.bin', ['../..', '/etc/', 'C:\\aa', 'link.', 'w\0bin'][i % 5]!);
      mutated = Buffer.from(text, 'latin1');
    }
    const target = path.join(dir, 'fuzz.onnx');
    fs.writeFileSync(target, mutated);
    const started = Date.now();
    try {
      inspectOnnx(readOnnxModel(target).model);
      accepted++;
    } catch (err) {
      assert.ok(err instanceof LatePhaseError, `mutation #${i}: ${(err as Error).name}: ${(err as Error).message}`);
    }
    assert.ok(Date.now() - started < 2000, `mutation #${i} took ${Date.now() - started} ms`);
  }
  assert.ok(accepted < 400, 'mutations are caught');
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A one-node foreign graph: `op` over the given inputs (type codes, dims) into one output. */
function oneNode(
  dir: string,
  name: string,
  op: string,
  inputs: Array<[string, number, Array<number | string>]>,
  output: [string, number, Array<number | string>],
  extra: { attribute?: onnx.IAttributeProto[]; outputType?: onnx.ITypeProto } = {},
): string {
  const info = ([n, t, dims]: [string, number, Array<number | string>]): onnx.IValueInfoProto => ({
    name: n,
    type: { tensorType: { elemType: t, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
  const bytes = onnx.ModelProto.encode({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    graph: {
      name,
      node: [{ opType: op, input: inputs.map((i) => i[0]), output: [output[0]], name: `${name}_node`, attribute: extra.attribute ?? [] }],
      input: inputs.map(info),
      output: [extra.outputType ? { name: output[0], type: extra.outputType } : info(output)],
    },
  }).finish();
  const file = path.join(dir, `${name}.onnx`);
  fs.writeFileSync(file, bytes);
  return file;
}

const T = onnx.TensorProto.DataType;

test('foreign models: golden tensors by position when unnamed, every element type, inputs by role, --trials 0, unsupported types named', async () => {
  const dir = tmp();
  // Golden files with empty names (older exports), UINT8 input, DOUBLE and FLOAT16 through Cast.
  const cast = oneNode(dir, 'cast', 'Cast', [['x', T.UINT8, [2, 3]]], ['y', T.FLOAT16, [2, 3]], {
    attribute: [{ name: 'to', type: 2, i: T.FLOAT16 }],
  });
  const set = path.join(dir, 'golden', 'test_data_set_0');
  fs.mkdirSync(set, { recursive: true });
  const x = Uint8Array.from([0, 1, 2, 3, 250, 255]);
  fs.writeFileSync(path.join(set, 'input_0.pb'), encodeTensor({ name: '', dtype: 'uint8', dims: [2, 3], data: x }));
  const half = Uint16Array.from([0, 1, 2, 3, 250, 255], (v) =>
    v === 0 ? 0 : ((Math.floor(Math.log2(v)) + 15) << 10) | Math.round((v / 2 ** Math.floor(Math.log2(v)) - 1) * 1024),
  );
  fs.writeFileSync(path.join(set, 'output_0.pb'), encodeTensor({ name: '', dtype: 'float16', dims: [2, 3], data: half }));
  const golden = await verifyOnnxFile(cast, { golden: path.join(dir, 'golden'), trials: 2 });
  assert.ok(golden.pass, JSON.stringify(golden.outputs));
  assert.deepEqual(
    golden.cases.map((c) => c.label),
    ['golden test_data_set_0', 'seeded trial 1 (golden shapes)', 'seeded trial 2 (golden shapes)'],
    'golden data first, then trials in its shapes',
  );
  const only = await verifyOnnxFile(cast, { golden: path.join(dir, 'golden'), trials: 0 });
  assert.deepEqual(
    only.cases.map((c) => c.label),
    ['golden test_data_set_0'],
  );
  // A wrong golden value fails, naming the output (float16 decoded, not compared as bits).
  fs.writeFileSync(
    path.join(set, 'output_0.pb'),
    encodeTensor({ name: '', dtype: 'float16', dims: [2, 3], data: half.map((h, i) => (i === 4 ? h + 8 : h)) }),
  );
  const off = await verifyOnnxFile(cast, { golden: path.join(dir, 'golden'), trials: 0 });
  assert.equal(off.pass, false);
  assert.equal(off.outputs[0]!.maxAbs, 1, 'float16 250 + 8 ulps (0.125 each in [128, 256)) = 251 vs 250');
  await assert.rejects(verifyOnnxFile(cast, { trials: 0 }), /nothing to compare: no trials \(--trials 0\), no --golden and no --inputs/);

  // Seeded trials by role: Gather indices stay inside the axis, a Mod divisor is never 0, a Reshape shape is not invented.
  const gather = oneNode(
    dir,
    'gather',
    'Gather',
    [
      ['data', T.FLOAT, [5, 3]],
      ['idx', T.INT64, ['n']],
    ],
    ['out', T.FLOAT, ['n', 3]],
  );
  const g = await verifyOnnxFile(gather, { intRange: 1000 });
  assert.ok(g.pass && g.cases.length === 6 && g.skipped.length === 0, JSON.stringify(g.skipped));
  const mod = oneNode(
    dir,
    'mod',
    'Mod',
    [
      ['a', T.INT32, ['n']],
      ['b', T.INT32, ['n']],
    ],
    ['c', T.INT32, ['n']],
  );
  assert.ok((await verifyOnnxFile(mod, { intRange: 2 })).pass, 'divisors drawn from [1, 2): never 0');
  const reshape = oneNode(
    dir,
    'reshape',
    'Reshape',
    [
      ['a', T.FLOAT, [2, 3]],
      ['shape', T.INT64, [2]],
    ],
    ['b', T.FLOAT, [3, 2]],
  );
  await assert.rejects(
    verifyOnnxFile(reshape),
    /nothing was compared: seeded trials: input 'shape' gives the shape of node 'reshape_node' \(Reshape\): give --golden or --inputs/,
  );
  const shapeSet = path.join(dir, 'shape-inputs', 'test_data_set_0');
  fs.mkdirSync(shapeSet, { recursive: true });
  fs.writeFileSync(path.join(shapeSet, 'input_0.pb'), encodeTensor({ name: 'a', dtype: 'float32', dims: [2, 3], data: new Float32Array(6) }));
  fs.writeFileSync(path.join(shapeSet, 'input_1.pb'), encodeTensor({ name: 'shape', dtype: 'int64', dims: [2], data: BigInt64Array.from([3n, 2n]) }));
  const given = await verifyOnnxFile(reshape, { inputs: path.join(dir, 'shape-inputs'), trials: 1 });
  assert.ok(given.pass && given.cases.length === 2, 'the given inputs, then a trial with the shape copied from them');

  // Sequences and optionals: named before onnxruntime runs (onnxruntime-node cannot take them).
  const optional = oneNode(dir, 'opt', 'Identity', [['a', T.FLOAT, [2]]], ['b', T.FLOAT, [2]], {
    outputType: { optionalType: { elemType: { sequenceType: { elemType: { tensorType: { elemType: T.FLOAT } } } } } },
  });
  await assert.rejects(
    verifyOnnxFile(optional),
    (e: Error) => e instanceof UnsupportedModelError && /output 'b' is optional<sequence<FLOAT>>/.test(e.message),
  );
  const cli = runCli(['verify', optional]);
  assert.equal(cli.code, 2, cli.stderr);
  assert.match(cli.stderr, /^latephase: UnsupportedModelError: not supported by onnxruntime-node/m);

  // Sizes are checked before allocation.
  const huge = oneNode(dir, 'huge', 'Relu', [['a', T.FLOAT, [200000, 200000]]], ['b', T.FLOAT, [200000, 200000]]);
  await assert.rejects(
    verifyOnnxFile(huge),
    (e: Error) => e instanceof ConfigError && /input 'a' of shape \[200000, 200000\] would take 152588 MiB, over the 512 MiB/.test(e.message),
  );
  const batch = runCli(['verify', gather, '--batch', '100000000']);
  assert.equal(batch.code, 2, batch.stderr);
  assert.match(batch.stderr, /ConfigError: seeded trial 1: input 'data'|ConfigError: seeded trial 1: input 'idx' of shape \[100000000\]/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a native crash inside onnxruntime ends the child process that verifies, and comes back as a named error', () => {
  const dir = tmp();
  const file = ourModel(dir);
  const crash = runCli(['verify', file, '--trials', '1'], { LATEPHASE_FAULT: 'segv@verify:1' });
  assert.equal(crash.code, 3, crash.stderr);
  assert.match(crash.stderr, /^latephase: VerificationError: onnxruntime-node crashed \(SIGSEGV\) while verifying '.*ours-1\.onnx'/m);
  assert.doesNotMatch(crash.stderr, /\n\s+at /, 'no stack trace');
  fs.rmSync(dir, { recursive: true, force: true });
});
