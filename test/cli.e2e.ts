/** The command line: the end-to-end job on a small subset, and clear errors on bad input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { loadMnist } from '../src/data/mnist';
import { cudaProviderInstalled, CUDA_INSTALL_COMMAND } from '../export/verify/executionProvider';
import { CLI, runCli, runMain } from './helpers';

const run = runCli;

test('latephase run end to end on a subset: trains, folds, exports, verifies and bundles', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-e2e-'));
  const r = run([
    'run',
    '--epochs',
    '2',
    '--t0',
    '1',
    '--k',
    '3',
    '--train-size',
    '1500',
    '--seed',
    '3',
    '--out',
    out,
    '--quiet',
    '--backend',
    'wasm',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /backend\s+wasm/);
  assert.match(r.stdout, /ONNX verification\s+PASS/);
  for (const k of [0, 1, 2]) assert.match(r.stdout, new RegExp(`member ${k}\\s+\\d+\\.\\d+%`));
  assert.match(r.stdout, /implicit ensemble/);
  const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
  assert.equal(manifest.verification.pass, true);
  assert.deepEqual(manifest.inputs[0].dims, ['N', 784]);
  assert.equal(manifest.provenance.latephase_K, '3');
  assert.equal(manifest.provenance.backend, 'wasm');
  assert.ok(fs.statSync(path.join(out, 'latephase.ckpt')).size > 0, 'the trained late-phase checkpoint is written');
  // The bundle runs with onnxruntime alone on raw [0, 1] pixels and classifies real digits.
  const session = await ort.InferenceSession.create(path.join(out, 'model.onnx'));
  const digits = loadMnist();
  const rows = 500;
  const stride = Math.floor(digits.y.length / rows); // spread over all ten digits
  const x = new Float32Array(rows * 784);
  const y = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    x.set(digits.x.subarray(i * stride * 784, (i * stride + 1) * 784), i * 784);
    y[i] = digits.y[i * stride]!;
  }
  const result = await session.run({ input: new ort.Tensor('float32', x, [rows, 784]) });
  const probs = result['probabilities']!.data as Float32Array;
  let hits = 0;
  for (let i = 0; i < rows; i++) {
    const row = probs.subarray(i * 10, i * 10 + 10);
    if (row.indexOf(Math.max(...row)) === y[i]) hits++;
  }
  assert.ok(hits / rows > 0.85, `accuracy of the bundled model on real digits: ${hits / rows}`);
  await session.release();
  fs.rmSync(out, { recursive: true, force: true });
});

test('unknown flags, bad values and unknown commands exit 2 with a message naming them', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['run', '--epoch', '3'], /unknown flag --epoch/],
    [['run', '--epochs', 'three'], /--epochs expects a decimal integer, got 'three'/],
    [['run', '--epochs', '0x3'], /--epochs expects a decimal integer, got '0x3'/],
    [['run', '--epochs', '0b10'], /--epochs expects a decimal integer, got '0b10'/],
    [['run', '--epochs', '1e3'], /--epochs expects a decimal integer, got '1e3'/],
    [['run', '--lr', '0x1'], /--lr expects a decimal number, got '0x1'/],
    [['run', '--seed', '1', '--seed', '2'], /--seed is given twice/],
    [['run', '--out', '--seed', '3'], /--out needs a value, and the next argument is a flag/],
    [['run', '--out', ''], /--out needs a non-empty value/],
    [['run', '--quiet=yes'], /--quiet takes no value/],
    [['run', 'extra'], /unexpected argument 'extra'/],
    [['run', '--k', '0'], /--k must be >= 1/],
    [['run', '--fold', 'median'], /--fold must be one of exact, mean/],
    [['run', '--backend', 'tpu'], /--backend must be one of/],
    [['run', '--epochs'], /--epochs needs a value/],
    [['fly'], /unknown command 'fly'/],
    [['train'], /'latephase train' needs a config file or a preset \(mnist-cnn, fashion-cnn, .*\), or --resume <out>/],
    [['run', '--gamma-theta', 'lots', '--epochs', '1', '--t0', '0'], /--gamma-theta must be a positive number or '1\/K', got 'lots'/],
  ];
  for (const [args, message] of cases) {
    const r = await runMain(args); // in this process: each fails before any work
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});

test('a failed run leaves no work folder; --out inside a version folder is refused; --version; a bare latephase prints the help with exit 2', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-cli-'));
  const out = path.join(dir, 'o');
  const missing = path.join(dir, 'nope.idx');
  const data = `data={"source":"idx","trainImages":"${missing}","trainLabels":"${missing}","testImages":"${missing}","testLabels":"${missing}"}`;
  const bad = run(['train', 'mnist-cnn', '--set', data, '--set', `output=${out}`, '--quiet']);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /DataError: IDX file '.*nope\.idx': cannot read/);
  assert.deepEqual(fs.readdirSync(dir), [], 'no .o.run work folder, no lock, nothing');
  fs.mkdirSync(path.join(dir, '.o.v-abc'));
  fs.symlinkSync('.o.v-abc', out);
  for (const target of [path.join(dir, '.o.v-abc'), path.join(dir, '.o.v-abc', 'x'), path.join(out, 'sub'), path.join(dir, '.o.run')]) {
    const r = run(['train', 'mnist-cnn', '--set', `output=${target}`, '--quiet']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /is inside '\.o\.(v-abc|run)', latephase's own (version|work) folder of another output folder/);
  }
  const version = run(['--version']);
  assert.deepEqual(
    [version.code, version.stdout.trim()],
    [0, `latephase ${(JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version}`],
  );
  const bare = run([]);
  assert.equal(bare.code, 2);
  assert.match(bare.stdout, /^usage: latephase <command>/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('one command table: the overview lists every command, each command has its own --help, train takes --out', async () => {
  const run = runMain;
  const overview = await run(['--help']);
  assert.equal(overview.code, 0);
  for (const name of ['train', 'presets', 'run', 'verify', 'bundle', 'compare', 'worker', 'nqp', 'verify-bundle', 'inspect'])
    assert.match(overview.stdout, new RegExp(`^  ${name} `, 'm'), name);
  const verify = await run(['verify', '--help']);
  assert.equal(verify.code, 0);
  assert.match(verify.stdout, /^usage: latephase verify <model\.onnx> \[flags\]/);
  assert.match(verify.stdout, /--golden <string>/);
  assert.doesNotMatch(verify.stdout, /--print-config|--epochs|--queue/, "only verify's own flags");
  const train = await run(['train', '--help']);
  assert.match(train.stdout, /--out <string>\s+the output folder/);
  assert.doesNotMatch(train.stdout, /--golden|--epochs/);
  assert.equal((await run(['help', 'nqp'])).stdout, (await run(['nqp', '--help'])).stdout);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-out-'));
  const printed = spawnSync(process.execPath, [CLI, 'train', 'fashion-cnn', '--out', 'rel/x', '--print-config'], { encoding: 'utf8', cwd: dir });
  assert.equal(printed.status, 0, printed.stderr);
  assert.equal(
    (JSON.parse(printed.stdout) as { output: string }).output,
    path.join(fs.realpathSync(dir), 'rel', 'x'),
    '--out against the working folder',
  );
  const both = await run(['train', '--resume', dir, '--out', 'y']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--resume names the output folder itself; --out goes with a config or a preset/);
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Whether a native package loads (installed with ignore-scripts it is present but lacks its binary). */
function loads(pkg: string): boolean {
  return spawnSync(process.execPath, ['-e', `require(${JSON.stringify(pkg)})`], { encoding: 'utf8' }).status === 0;
}

test(
  'a forced backend that cannot start is an error, not a silent downgrade',
  { skip: loads('@tensorflow/tfjs-node') ? '@tensorflow/tfjs-node loads here' : false },
  () => {
    const r = run(['run', '--backend', 'tensorflow', '--epochs', '1']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /backend 'tensorflow' could not start/);
    const env = run(['run', '--epochs', '1'], { LATEPHASE_BACKEND: 'nonsense' });
    assert.equal(env.code, 2);
    assert.match(env.stderr, /LATEPHASE_BACKEND: unknown backend 'nonsense'/);
  },
);

test(
  'verification on CUDA without the provider fails fast with the fix, before training',
  { skip: cudaProviderInstalled() ? 'CUDA provider installed here' : false },
  () => {
    const r = run(['run', '--ep', 'cuda']);
    assert.equal(r.code, 2, 'a missing provider is a configuration problem');
    assert.match(r.stderr, /CUDA execution provider is not installed/);
    assert.ok(r.stderr.includes(CUDA_INSTALL_COMMAND), r.stderr);
  },
);

test('the CUDA install command is one recipe: the same in the error, README.md and .npmrc', () => {
  for (const file of ['README.md', '.npmrc']) {
    const text = fs.readFileSync(path.join(__dirname, '..', '..', file), 'utf8');
    assert.ok(text.includes(CUDA_INSTALL_COMMAND), `${file} does not give \`${CUDA_INSTALL_COMMAND}\``);
  }
});

test('after a build the bin is executable and runs as npx runs it (directly, by its shebang)', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { bin: Record<string, string> };
  const bin = path.join(__dirname, '..', '..', pkg.bin['latephase']!);
  assert.equal(bin, CLI);
  assert.ok((fs.statSync(bin).mode & 0o111) !== 0, `${bin} is not executable`);
  const direct = spawnSync(bin, ['--help'], { encoding: 'utf8' });
  assert.equal(direct.status, 0, direct.stderr);
  assert.match(direct.stdout, /usage: latephase <command>/);
  // npx from another folder, pointed at this package: runs the linked bin through the shell.
  const npx = spawnSync('npx', ['--offline', '--prefix', path.join(__dirname, '..', '..'), 'latephase', '--help'], {
    encoding: 'utf8',
    cwd: os.tmpdir(),
  });
  assert.equal(npx.status, 0, npx.stderr);
  assert.match(npx.stdout, /usage: latephase <command>/);
});
