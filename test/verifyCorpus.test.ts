/**
 * `latephase verify` on models we did not write: a fixed sample of ONNX's own backend test corpus
 * (Debian's libonnx-testdata, installed by .ci/run). An independent harness here decodes each
 * model's golden data itself, runs onnxruntime on it, and compares (numpy's allclose with the
 * backend tests' rtol 1e-3, atol 1e-7). Every model that onnxruntime runs correctly must PASS
 * `verify --golden` (golden data first, then seeded trials where meaningful); every other model
 * must end in a named result (an error of the toolkit), never a crash or an unnamed exception.
 * Skipped where the corpus is absent, unless LATEPHASE_REQUIRE_ONNX_TESTDATA=1 (set by CI).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { verifyOnnxFile } from '../export/verify/verifyFile';
import { verifyOnnxFileIsolated } from '../export/verify/verifyIsolated';
import { LatePhaseError } from '../src/errors';

const CORPUS = '/usr/share/libonnx-testdata/data';
const required = process.env['LATEPHASE_REQUIRE_ONNX_TESTDATA'] === '1';
const present = fs.existsSync(CORPUS);

/** Every model folder of the corpus, sorted; the sample is every STRIDE-th plus the named cases. */
function corpusModels(): string[] {
  return ['node', 'pytorch-converted', 'pytorch-operator', 'simple']
    .flatMap((part) => fs.readdirSync(path.join(CORPUS, part)).map((m) => path.join(CORPUS, part, m)))
    .filter((dir) => fs.existsSync(path.join(dir, 'model.onnx')))
    .sort();
}

const STRIDE = 9;
/** Cases the stride may miss: empty golden names, integer divisors, indices, scales, UINT8/DOUBLE/FLOAT16/string data, NaN/Inf outputs, no inputs at all, an optional output. */
const NAMED = [
  'pytorch-converted/test_Conv2d',
  'pytorch-operator/test_operator_index',
  'node/test_mod_mixed_sign_int64',
  'node/test_gather_elements_negative_indices',
  'node/test_resize_downsample_scales_linear',
  'node/test_onehot_with_axis',
  'node/test_top_k',
  'node/test_unsqueeze_axis_1',
  'node/test_reduce_sum_keepdims_example',
  'node/test_cast_FLOAT_to_FLOAT16',
  'node/test_cast_FLOAT_to_DOUBLE',
  'node/test_dequantizelinear',
  'node/test_isinf',
  'node/test_strnormalizer_export_monday_casesensintive_lower',
  'node/test_constant',
  'node/test_cast_FLOAT_to_STRING',
  'node/test_if_opt',
  'node/test_sequence_insert_at_back',
];

const DT = onnx.TensorProto.DataType;
const ARRAYS: Partial<
  Record<number, [ort.Tensor.Type, { new (b: ArrayBuffer): ort.Tensor.DataType; from(v: ArrayLike<number>): ort.Tensor.DataType }]>
> = {
  [DT.FLOAT]: ['float32', Float32Array],
  [DT.DOUBLE]: ['float64', Float64Array],
  [DT.INT32]: ['int32', Int32Array],
  [DT.INT8]: ['int8', Int8Array],
  [DT.UINT8]: ['uint8', Uint8Array],
  [DT.INT16]: ['int16', Int16Array],
  [DT.UINT16]: ['uint16', Uint16Array],
  [DT.BOOL]: ['bool', Uint8Array],
  [DT.FLOAT16]: ['float16', Uint16Array],
};

/** The harness's own TensorProto decoding (independent of export/verify/golden.ts); null for what it does not handle. */
function harnessTensor(file: string): ort.Tensor | null {
  const t = onnx.TensorProto.decode(fs.readFileSync(file));
  const dims = t.dims.map(Number);
  if (t.dataType === DT.STRING)
    return new ort.Tensor(
      'string',
      t.stringData.map((b) => Buffer.from(b).toString('utf8')),
      dims,
    );
  if (t.dataType === DT.INT64) {
    const data = t.rawData?.length
      ? new BigInt64Array(Uint8Array.from(t.rawData).buffer)
      : BigInt64Array.from(t.int64Data.map((v) => BigInt(v.toString())));
    return new ort.Tensor('int64', data, dims);
  }
  const entry = ARRAYS[t.dataType];
  if (!entry) return null;
  const [type, C] = entry;
  const field = t.dataType === DT.FLOAT ? t.floatData : t.dataType === DT.DOUBLE ? t.doubleData : t.int32Data;
  return new ort.Tensor(type, t.rawData?.length ? new C(Uint8Array.from(t.rawData).buffer) : C.from(field), dims);
}

const half = (h: number): number => {
  const e = (h >> 10) & 31;
  const f = h & 1023;
  const v = e === 0 ? f * 2 ** -24 : e === 31 ? (f ? NaN : Infinity) : (1 + f / 1024) * 2 ** (e - 15);
  return h & 0x8000 ? -v : v;
};
const numbers = (t: ort.Tensor): Array<number | string> =>
  t.type === 'string'
    ? (t.data as string[])
    : Array.from(t.data as ArrayLike<number | bigint>, (v) => (t.type === 'float16' ? half(Number(v)) : Number(v)));

/** Whether onnxruntime itself reproduces the model's golden outputs (the harness's verdict), or why not. */
async function onnxruntimeReproduces(dir: string): Promise<true | string> {
  const model = onnx.ModelProto.decode(fs.readFileSync(path.join(dir, 'model.onnx')));
  const io = [...(model.graph?.input ?? []), ...(model.graph?.output ?? [])];
  if (io.some((v) => !v.type?.tensorType)) return 'a non-tensor input or output';
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'), { logSeverityLevel: 4 });
  } catch (err) {
    return `does not load: ${(err as Error).message.split('\n')[0]}`;
  }
  try {
    for (const set of fs.readdirSync(dir).filter((d) => d.startsWith('test_data_set_'))) {
      const files = (prefix: string): string[] =>
        fs
          .readdirSync(path.join(dir, set))
          .filter((f) => f.startsWith(prefix))
          .sort((a, b) => parseInt(a.slice(prefix.length), 10) - parseInt(b.slice(prefix.length), 10));
      const inputs = files('input_').map((f) => harnessTensor(path.join(dir, set, f)));
      const outputs = files('output_').map((f) => harnessTensor(path.join(dir, set, f)));
      if ([...inputs, ...outputs].some((t) => t === null)) return 'an element type the harness does not decode';
      const feeds = Object.fromEntries(inputs.map((t, i) => [session.inputNames[i]!, t!]));
      const got = await session.run(feeds);
      for (const [j, want] of outputs.entries()) {
        const [a, b] = [numbers(got[session.outputNames[j]!]!), numbers(want!)];
        if (a.length !== b.length) return `output ${j}: ${a.length} values, golden ${b.length}`;
        for (let i = 0; i < b.length; i++) {
          const [x, y] = [a[i]!, b[i]!];
          if (
            x === y ||
            (typeof x === 'number' && typeof y === 'number' && (Number.isNaN(x) ? Number.isNaN(y) : Math.abs(x - y) <= 1e-7 + 1e-3 * Math.abs(y)))
          )
            continue;
          return `output ${j}[${i}]: ${x} vs golden ${y}`;
        }
      }
    }
    return true;
  } catch (err) {
    return `fails to run: ${(err as Error).message.split('\n')[0]}`;
  } finally {
    await session.release();
  }
}

test(
  'verify on a fixed sample of the ONNX backend test corpus: every model onnxruntime runs correctly passes; the rest end in a named result',
  { skip: !present && !required ? `${CORPUS} absent (apt-get install libonnx-testdata)` : false },
  async () => {
    assert.ok(present, `LATEPHASE_REQUIRE_ONNX_TESTDATA=1 but ${CORPUS} is missing`);
    const all = corpusModels();
    const sample = [...new Set([...all.filter((_, i) => i % STRIDE === 0), ...NAMED.map((m) => path.join(CORPUS, m))])].filter((d) =>
      fs.existsSync(path.join(d, 'model.onnx')),
    );
    const failures: string[] = [];
    let reproduced = 0;
    for (const dir of sample) {
      const name = path.relative(CORPUS, dir);
      const harness = await onnxruntimeReproduces(dir);
      let verdict: string;
      try {
        // Models the harness cannot run are verified in a child process: a native crash must stay there.
        const verify = harness === true ? verifyOnnxFile : verifyOnnxFileIsolated;
        const report = await verify(path.join(dir, 'model.onnx'), { golden: dir });
        verdict = report.pass ? 'PASS' : `FAIL (${report.outputs.filter((o) => !o.pass).map((o) => `${o.output}: min atol ${o.minAtol}`)})`;
      } catch (err) {
        verdict = err instanceof LatePhaseError ? `named ${err.name}: ${err.message.slice(0, 160)}` : `UNNAMED ${String(err)}`;
      }
      if (harness === true) {
        reproduced++;
        if (verdict !== 'PASS') failures.push(`${name}: onnxruntime reproduces its golden outputs, but verify says ${verdict}`);
      } else if (verdict.startsWith('UNNAMED')) failures.push(`${name} (${harness}): ${verdict}`);
    }
    console.log(`corpus sample: ${sample.length} models, ${reproduced} reproduced by onnxruntime`);
    assert.deepEqual(failures, [], failures.join('\n'));
    assert.ok(reproduced > sample.length / 2, `most of the sample runs correctly on onnxruntime (${reproduced} of ${sample.length})`);
    const optional = await verifyOnnxFileIsolated(path.join(CORPUS, 'node/test_if_opt/model.onnx'), {
      golden: path.join(CORPUS, 'node/test_if_opt'),
    }).catch((e: Error) => e);
    assert.match(String(optional), /UnsupportedModelError: not supported by onnxruntime-node: output 'sequence' is optional<sequence<FLOAT>>/);
  },
);
