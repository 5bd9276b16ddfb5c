/**
 * Fault injection against the real command line: SIGKILL during training and at the bundle
 * write's first, middle, switching and last file operation (every one: bundleTransaction.test.ts), a second run into a locked folder, a full disk, and output
 * paths that cannot work. Each must end with a named error (exit 2) or a clean refusal, and an
 * output folder that is entirely the old bundle or entirely the new one, its manifest verifying.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkBundleFiles } from '../export/bundle/bundle';
import { bundleWritePoints, MANIFEST_FILE } from '../export/bundle/layout';
import { CLI, runCli, TINY, useBackend } from './helpers';
import { fakeBundleParts, publishFakeBundle, saveFakeBundleParts } from './fakeBundle';

const run = runCli;

/** The seed the folder's bundle was trained with, after checking that every file matches its manifest. */
function bundleSeed(out: string): string {
  const problems = checkBundleFiles(out);
  assert.deepEqual(problems, [], `bundle at ${out} is inconsistent`);
  const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')) as {
    provenance: Record<string, string>;
    files: Record<string, unknown>;
  };
  assert.ok('latephase.ckpt' in manifest.files && 'model.onnx' in manifest.files, 'the manifest hashes the checkpoint and the model');
  return manifest.provenance['seed']!;
}

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-faults-'));

test("SIGKILL in a training run's publish, at the first, a middle, the switch and the last write point of the layout: the old or the new bundle, entirely", () => {
  // Every write point is swept over a fake bundle in bundleTransaction.test.ts; these are real runs.
  const dir = tmp();
  const out = path.join(dir, 'out');
  assert.equal(run([...TINY, '--seed', '0', '--out', out]).code, 0);
  const manifest = JSON.parse(fs.readFileSync(path.join(out, MANIFEST_FILE), 'utf8')) as { files: Record<string, unknown> };
  const points = bundleWritePoints(Object.keys(manifest.files).length + 1, true);
  // The same config each time: the first run trains and is killed in its publish; the others
  // continue from its progress (training is not repeated, only the bundle is written again).
  for (const [n, expected] of [
    [1, '0'],
    [Math.ceil(points / 2), '0'],
    [points - 1, '0'], // before the rename that switches the link
    [points, '1'], // removing the old version, after the switch
  ] as const) {
    const r = run([...TINY, '--seed', '1', '--out', out], { LATEPHASE_FAULT: `kill@bundle:${n}` });
    assert.equal(r.signal, 'SIGKILL', `kill point ${n} of ${points}: ${r.stderr}`);
    assert.equal(bundleSeed(out), expected, `kill point ${n} of ${points}`);
    assert.ok(!fs.readdirSync(out).some((f) => f.endsWith('.tmp')), `kill point ${n}: temporary files inside the bundle`);
  }
  // The next clean run removes what the killed runs left beside the folder, and the stale lock.
  const clean = run([...TINY, '--seed', '5', '--out', out, '--restart']);
  assert.equal(clean.code, 0, clean.stderr);
  assert.equal(bundleSeed(out), '5');
  const beside = fs.readdirSync(dir).filter((f) => f !== 'out');
  assert.deepEqual(beside, [fs.readlinkSync(out)], 'only the live version remains beside the link');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('SIGKILL at each write point of the layout (a child that only publishes a bundle with every entry): the old bundle or the new one, entirely', async () => {
  await useBackend('cpu');
  const parts = await fakeBundleParts();
  const dir = tmp();
  const out = path.join(dir, 'out');
  const partsFile = path.join(dir, 'parts.bin');
  saveFakeBundleParts(parts, partsFile);
  publishFakeBundle(parts, out, 0);
  const manifest = JSON.parse(fs.readFileSync(path.join(out, MANIFEST_FILE), 'utf8')) as { files: Record<string, unknown> };
  const points = bundleWritePoints(Object.keys(manifest.files).length + 1, true);
  let killed = 0;
  for (let n = 1; n <= points + 1; n++) {
    const old = bundleSeed(out);
    const r = spawnSync(process.execPath, [path.join(__dirname, 'fakeBundle.js'), partsFile, out, String(n)], {
      env: { ...process.env, LATEPHASE_FAULT: `kill@bundle:${n}` },
      encoding: 'utf8',
    });
    if (r.signal === 'SIGKILL') killed++;
    else assert.equal(r.status, 0, r.stderr);
    const now = bundleSeed(out);
    assert.ok(now === old || now === String(n), `kill point ${n}: bundle of seed ${now}`);
    assert.ok(!fs.readdirSync(out).some((f) => f.endsWith('.tmp')), `kill point ${n}: temporary files inside the bundle`);
  }
  assert.equal(killed, points, 'every write point was passed, and the run one past the last completed');
  // The next publish removes what the killed ones left beside the folder (stale lock, staged versions).
  publishFakeBundle(parts, out, 99);
  assert.equal(bundleSeed(out), '99');
  assert.deepEqual(
    fs.readdirSync(dir).filter((f) => f !== 'out' && f !== 'parts.bin'),
    [fs.readlinkSync(out)],
    'only the live version beside the link',
  );
  fs.rmSync(dir, { recursive: true, force: true });
});

test('SIGKILL during training leaves the old bundle; the next run takes over the stale lock and continues the same config', () => {
  const dir = tmp();
  const out = path.join(dir, 'out');
  assert.equal(run([...TINY, '--seed', '0', '--out', out]).code, 0);
  for (const step of [1, 6]) {
    const r = run([...TINY, '--seed', '1', '--out', out], { LATEPHASE_FAULT: `kill@step:${step}` });
    assert.equal(r.signal, 'SIGKILL');
    assert.equal(bundleSeed(out), '0');
  }
  const other = run([...TINY, '--seed', '2', '--out', out]);
  assert.equal(other.code, 2, 'another config is refused while progress of an interrupted run is there');
  assert.match(other.stdout, /removed a stale lock \(process \d+ is gone\)/);
  assert.match(
    other.stderr,
    /holds an interrupted run \(stopped at the end of epoch 1\) with another config \(seed: 1 -> 2\); continue it with: latephase train --resume .*--restart/,
  );
  const next = run([...TINY, '--seed', '1', '--out', out]);
  assert.equal(next.code, 0, next.stderr);
  assert.match(next.stdout, /continuing the interrupted run of the same config from the end of epoch 1/);
  assert.equal(bundleSeed(out), '1');
  assert.ok(!fs.existsSync(path.join(dir, '.out.run')), 'the completed run removed its work folder');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a second run into a folder in use is refused before any work, and the folder is untouched', () => {
  const dir = tmp();
  const out = path.join(dir, 'out');
  assert.equal(run([...TINY, '--out', out]).code, 0);
  const before = bundleSeed(out);
  // A live process holds the lock (this test process stands in for a running job).
  fs.writeFileSync(path.join(dir, '.out.lock'), JSON.stringify({ pid: process.pid, host: os.hostname(), started: 'now' }));
  const r = run([...TINY, '--seed', '3', '--out', out]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`ConfigError: output folder '.*out' is in use by process ${process.pid}`));
  assert.doesNotMatch(r.stdout, /epoch/);
  assert.equal(bundleSeed(out), before);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('two real runs into one folder: the second is refused while the first runs; Ctrl-C then leaves the old bundle and no lock', async () => {
  const dir = tmp();
  const out = path.join(dir, 'out');
  assert.equal(run([...TINY, '--out', out]).code, 0);
  const first = spawn(
    process.execPath,
    [CLI, 'run', '--epochs', '4', '--t0', '2', '--train-size', '4000', '--workers', '0', '--seed', '9', '--out', out],
    { stdio: 'pipe' },
  );
  let stdout = '';
  let stderr = '';
  first.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => first.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve) =>
    first.stdout.on('data', (d: Buffer) => ((stdout += d.toString()), /gradient workers/.test(stdout) && resolve())),
  );
  const second = run([...TINY, '--seed', '3', '--out', out]);
  assert.equal(second.code, 2, second.stderr);
  assert.match(second.stderr, new RegExp(`is in use by process ${first.pid}`));
  first.kill('SIGINT');
  assert.equal(await exited, 130);
  assert.match(stderr, /SIGINT: stopping after this minibatch to save progress/);
  assert.match(
    stderr,
    /TrainingInterrupted: stopped on request after epoch \d+, minibatch \d+; progress saved at .*the output folder keeps its previous content\. Continue with: latephase train --resume /,
  );
  assert.equal(bundleSeed(out), '0');
  assert.ok(!fs.existsSync(path.join(dir, '.out.lock')), 'the lock is released on Ctrl-C');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a full disk is a WriteError (exit 2): the old bundle stays and no temporary is left', () => {
  const dir = tmp();
  const out = path.join(dir, 'out');
  assert.equal(run([...TINY, '--out', out]).code, 0);
  // 1: staging the version; 6: a bundle file (every point: bundleTransaction.test.ts).
  for (const n of [1, 6]) {
    const r = run([...TINY, '--seed', '4', '--out', out], { LATEPHASE_FAULT: `enospc@bundle:${n}` });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /WriteError: cannot .*ENOSPC/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(bundleSeed(out), '0');
    const beside = fs.readdirSync(dir).filter((f) => f !== 'out' && f !== '.out.run');
    assert.equal(beside.length, 1, 'only the live version beside the link (and the progress the next run continues from)');
    if (n > 1) assert.match(r.stdout, /continuing the interrupted run of the same config from the end of epoch 2/, 'a retry only redoes the bundle');
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

const canMount = process.getuid?.() === 0 && spawnSync('unshare', ['-m', 'true']).status === 0;

test(
  'a real full disk (a small tmpfs): named error, old bundle intact',
  { skip: canMount ? false : 'needs root and unshare to mount a tmpfs' },
  () => {
    const dir = tmp();
    // One bundle (~350 kB) and the run's progress (~150 kB, twice while it is rewritten) fit in
    // 800 kB; a second bundle cannot be staged beside them.
    const script = `mount -t tmpfs -o size=800k tmpfs '${dir}' && "${process.execPath}" '${CLI}' ${TINY.join(' ')} --out '${dir}/out' >/dev/null && "${process.execPath}" '${CLI}' ${TINY.join(' ')} --seed 7 --out '${dir}/out' >/dev/null; echo "second=$?"; cat '${dir}/out/manifest.json' | grep -c '"seed": "0"'; ls -a '${dir}'`;
    const r = spawnSync('unshare', ['-m', 'sh', '-c', script], { encoding: 'utf8', timeout: 120_000 });
    assert.match(r.stdout, /second=2/, r.stdout + r.stderr);
    assert.match(r.stderr, /WriteError: cannot .*(ENOSPC|no space)/i);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[1], '1', 'the old bundle (seed 0) is still there');
    assert.equal(lines.filter((l) => l.startsWith('.out.v-')).length, 1, `leftovers: ${lines.join(' ')}`);
    fs.rmSync(dir, { recursive: true, force: true });
  },
);

test('a read-only file system is refused before training', { skip: canMount ? false : 'needs root and unshare to mount a tmpfs' }, () => {
  const dir = tmp();
  const script = `mount -t tmpfs -o size=1m,ro tmpfs '${dir}' && "${process.execPath}" '${CLI}' ${TINY.join(' ')} --out '${dir}/out'; echo "code=$?"`;
  const r = spawnSync('unshare', ['-m', 'sh', '-c', script], { encoding: 'utf8', timeout: 60_000 });
  assert.match(r.stdout, /code=2/, r.stdout + r.stderr);
  assert.match(r.stderr, /ConfigError: output folder .*(cannot create|cannot write in)/);
  assert.doesNotMatch(r.stdout, /epoch|backend:/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('output paths that cannot work are refused before training, and nothing the user had changes', () => {
  const dir = tmp();
  const file = path.join(dir, 'notes.txt');
  fs.writeFileSync(file, 'keep me');
  fs.mkdirSync(path.join(dir, 'photos'));
  fs.writeFileSync(path.join(dir, 'photos', 'a.jpg'), 'jpeg');
  const cases: Array<[string, RegExp]> = [
    [file, /exists and is a file, not a folder/],
    [path.join(file, 'sub'), /is a file, not a folder/],
    ['/proc/latephase-test/out', /on the proc file system/],
    [path.join(dir, 'photos'), /holds no latephase bundle; refusing to replace it/],
  ];
  for (const [out, message] of cases) {
    const started = Date.now();
    const r = run([...TINY, '--out', out]);
    assert.equal(r.code, 2, `${out}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stdout, /epoch|backend:/, 'refused before any training');
    assert.ok(Date.now() - started < 30_000);
  }
  assert.equal(fs.readFileSync(file, 'utf8'), 'keep me');
  assert.deepEqual(fs.readdirSync(path.join(dir, 'photos')), ['a.jpg']);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('flags checked before work: t0 without a late phase, K above the minibatches, epochs and sizes the data cannot feed', () => {
  const dir = tmp();
  const out = path.join(dir, 'out');
  const cases: Array<[string[], RegExp]> = [
    [['run', '--epochs', '3', '--t0', '3'], /--t0 3 leaves no late phase in 3 epochs; .* --no-late-phase/],
    [['run', '--no-late-phase', '--k', '4'], /--k has no effect with --no-late-phase/],
    [['run', '--epochs', '1000000000'], /--epochs must be <= 10000/],
    [['run', '--train-size', '9000'], /--train-size must be <= 8000/],
    [['run', '--train-size', '64', '--batch-size', '128', '--workers', '0'], /batchSize 128 is larger than the 64 training examples/],
    [
      ['run', '--epochs', '2', '--t0', '1', '--k', '50', '--train-size', '64', '--batch-size', '32', '--workers', '0'],
      /k = 50 members need at least 50 late-phase minibatches, the data gives 2 .*never take a step/,
    ],
    [['run', '--workers', '0x2'], /--workers must be 'auto' or a non-negative decimal integer/],
  ];
  for (const [args, message] of cases) {
    const r = run([...args, '--out', out, '--quiet']);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.ok(!fs.existsSync(out), `${args.join(' ')}: nothing written`);
  }
  const capped = run([...TINY.filter((a, i, all) => a !== '--workers' && all[i - 1] !== '--workers'), '--workers', '999', '--out', out]);
  assert.equal(capped.code, 0, capped.stderr);
  assert.match(capped.stdout, /gradient workers: 999 requested, \d+ used/);
  const plain = run([
    'run',
    '--no-late-phase',
    '--epochs',
    '1',
    '--train-size',
    '128',
    '--batch-size',
    '32',
    '--workers',
    '0',
    '--quiet',
    '--out',
    out,
  ]);
  assert.equal(plain.code, 0, plain.stderr);
  const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')) as { provenance: Record<string, string> };
  assert.equal(manifest.provenance['latephase_K'], '1');
  assert.equal(manifest.provenance['late_phase_weights'], 'none (plain training)');
  fs.rmSync(dir, { recursive: true, force: true });
});
