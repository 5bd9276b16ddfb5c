/**
 * Exact resume against the real command line, with the default gradient workers (`auto`: one per
 * extra core, and a 64-row minibatch has two ghost batches to share): a training process killed
 * (SIGKILL) or stopped (SIGINT) at several points — in the plain phase, during a progress-checkpoint
 * write, mid-cycle in the late phase, near the end, during the bundle write — and resumed each time
 * ends with the same weights, model file and metrics log (timings aside), byte for byte, as a run
 * that never stopped. The run has SWA and a BatchNorm recompute, so averages and momentum buffers
 * must survive too. The data is streamed: MNIST digits written as PNG files in class folders (an
 * image folder, decoded once into a cache and read by row), so exact resume holds for data that
 * never sits in memory. Bad resumes (a corrupt checkpoint, a changed config) are named errors that
 * keep the progress.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readCheckpointHeader } from '../src/train/checkpoint';
import { runCli } from './helpers';
import { writeDigitFolder } from './imageFixture';

const CONFIG = {
  name: 'resume-test',
  model: { zoo: 'mnist-cnn' },
  latePhase: { kinds: { batchNorm: true, head: true }, k: 3, t0: 1 },
  epochs: 3,
  batchSize: 64,
  data: { source: 'imageFolder', train: 'digits/train', test: 'digits/test', size: [28, 28], channels: 1, cache: 'digits/cache' }, // 448 images: 7 minibatches per epoch
  backend: 'wasm',
  lossCheckEvery: 3,
  checkpoint: { everySteps: 2 },
  swa: { start: 1 },
};

/** The metrics log's records without their wall times. */
function logRecords(file: string): Array<Record<string, unknown>> {
  return fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const { seconds: _seconds, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return rest;
    });
}

/** A checkpoint's tensor names and payload bytes (everything after the header). */
function tensors(file: string): { names: string; payload: Buffer } {
  const bytes = fs.readFileSync(file);
  const headerLength = bytes.readUInt32LE(8);
  const header = JSON.parse(bytes.toString('utf8', 44, 44 + headerLength)) as { tensors: Array<{ name: string }> };
  return { names: header.tensors.map((t) => t.name).join(','), payload: bytes.subarray(44 + headerLength) };
}

test('killed at three points and stopped once, a resumed run ends bit-identical to an uninterrupted one', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-resume-'));
  await writeDigitFolder(path.join(dir, 'digits', 'train'), 0, 448);
  await writeDigitFolder(path.join(dir, 'digits', 'test'), 448, 500);
  const config = path.join(dir, 'config.json');
  fs.writeFileSync(config, JSON.stringify(CONFIG));
  const train = (out: string, extra: string[] = [], env: Record<string, string> = {}): ReturnType<typeof runCli> =>
    runCli(['train', config, '--set', `output=${out}`, '--quiet', ...extra], env);
  const ref = train(path.join(dir, 'ref'));
  assert.equal(ref.code, 0, ref.stderr);
  // the default (auto) measures both layouts on 2+ cores and keeps the faster; either trains the same bits
  if (os.cpus().length > 1) assert.match(ref.stdout, /parallel layout: (workers|kernel threads) \(auto, (measured|remembered): /);

  const out = path.join(dir, 'out');
  const progress = path.join(dir, '.out.run', 'progress.ckpt');
  // 1. SIGKILL in the plain phase, after minibatch 5: the checkpoint after minibatch 4 remains.
  assert.equal(train(out, [], { LATEPHASE_FAULT: 'kill@step:5' }).signal, 'SIGKILL');
  assert.deepEqual([readCheckpointHeader(progress).position?.epoch, readCheckpointHeader(progress).position?.step], [0, 4]);

  // A corrupt progress checkpoint is a named error, and the file is left for the user.
  const good = fs.readFileSync(progress);
  const bad = Buffer.from(good);
  bad[bad.length - 3]! ^= 0xff;
  fs.writeFileSync(progress, bad);
  const corrupt = runCli(['train', '--resume', out, '--quiet']);
  assert.equal(corrupt.code, 2, corrupt.stderr);
  assert.match(corrupt.stderr, /DataError: checkpoint '.*progress\.ckpt': checksum mismatch/);
  const again = train(out);
  assert.equal(again.code, 2, again.stderr);
  assert.match(again.stderr, /checksum mismatch.*; to start over, run again with --restart/);
  assert.ok(fs.readFileSync(progress).equals(bad), 'the rejected checkpoint is not removed or rewritten');
  fs.writeFileSync(progress, good);

  // 2. SIGKILL during a checkpoint write (the one after minibatch 10: its temporary file is written,
  // the rename never happens): the checkpoint after minibatch 8 remains, mid-cycle.
  const b = runCli(['train', '--resume', out, '--quiet'], { LATEPHASE_FAULT: 'kill@checkpoint:8' });
  assert.equal(b.signal, 'SIGKILL', b.stderr);
  assert.ok(
    fs.readdirSync(path.dirname(progress)).some((f) => f.endsWith('.tmp')),
    'killed inside the write: its temporary file is there',
  );
  const mid = readCheckpointHeader(progress).position!;
  assert.deepEqual([mid.epoch, mid.step, mid.released, mid.member, mid.minibatches], [1, 1, true, 1, 8], 'mid-cycle: member 1 is next');

  // 3. The same config again (no --resume needed) with Ctrl-C during minibatch 11: it stops at a
  // checkpoint and says how to continue.
  const c = train(out, [], { LATEPHASE_FAULT: 'sigint@step:3' });
  assert.equal(c.code, 130, c.stderr);
  assert.match(c.stdout, /continuing the interrupted run of the same config from epoch 2, minibatch 2/);
  assert.match(
    c.stderr,
    /TrainingInterrupted: stopped on request after epoch 2, minibatch \d; progress saved at .*Continue with: latephase train --resume /,
  );
  assert.ok(!fs.readdirSync(path.dirname(progress)).some((f) => f.endsWith('.tmp')), "a resumed run removes the killed write's temporary file");

  // A changed config is refused, naming the field; the progress stays.
  const changed = runCli(['train', '--resume', out, '--quiet', '--set', 'optimizer.shared.lr=0.05']);
  assert.equal(changed.code, 2);
  assert.match(changed.stderr, /cannot resume: the config differs from the interrupted run's \(optimizer\.shared\.lr: 0\.02 -> 0\.05\)/);
  assert.ok(fs.existsSync(progress));

  // 4. SIGKILL again after two more minibatches, and near the end (before the last minibatch).
  assert.equal(runCli(['train', '--resume', out, '--quiet'], { LATEPHASE_FAULT: 'kill@step:2' }).signal, 'SIGKILL');
  assert.equal(runCli(['train', '--resume', out, '--quiet'], { LATEPHASE_FAULT: 'kill@step:7' }).signal, 'SIGKILL');
  const late = readCheckpointHeader(progress).position!;
  // (where Ctrl-C stopped depends on when the signal lands, so the later positions vary by a
  // minibatch or two: checked is that the run got into the late phase, past the first checkpoints)
  assert.equal(late.released, true, 'near the end, in the late phase');
  assert.ok(
    late.minibatches > mid.minibatches,
    `the last checkpoint (minibatch ${late.minibatches}) is past the mid-cycle kill (${mid.minibatches})`,
  );

  // 5. SIGKILL during the bundle write (training is over; its last checkpoint is at the end), then
  // resume to the end without workers (the worker count may change: it never changes the math).
  assert.equal(runCli(['train', '--resume', out, '--quiet'], { LATEPHASE_FAULT: 'kill@bundle:4' }).signal, 'SIGKILL');
  assert.deepEqual([readCheckpointHeader(progress).position?.epoch, readCheckpointHeader(progress).position?.step], [3, 0]);
  const d = runCli(['train', '--resume', out, '--quiet', '--set', 'workers=0']);
  assert.equal(d.code, 0, d.stderr);

  const [want, got] = [tensors(path.join(dir, 'ref', 'latephase.ckpt')), tensors(path.join(out, 'latephase.ckpt'))];
  assert.equal(got.names, want.names);
  assert.ok(got.payload.equals(want.payload), 'final weights and running statistics are bit-identical');
  assert.ok(fs.readFileSync(path.join(out, 'model.onnx')).equals(fs.readFileSync(path.join(dir, 'ref', 'model.onnx'))), 'the same model.onnx');
  assert.ok(!fs.existsSync(path.dirname(progress)), 'the completed run removed its progress');
  const log = logRecords(path.join(out, 'metrics.jsonl'));
  assert.deepEqual(log, logRecords(path.join(dir, 'ref', 'metrics.jsonl')), "the metrics log equals the uninterrupted run's, timings aside");
  assert.deepEqual(
    log.filter((r) => r['kind'] === 'epoch').map((r) => r['epoch']),
    [1, 2, 3],
    'the metrics log has each epoch once',
  );
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a run that diverges stops naming the step and keeps its last good checkpoint', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-diverge-'));
  const config = path.join(dir, 'config.json');
  // Epoch 1 trains at 0.02; from epoch 2 the rate is 1e8 and the loss overflows at once.
  const schedule = { kind: 'annealing', start: 0, end: 1, endLr: 1e8 };
  const data = { source: 'mnist', trainSize: 448, testSize: 500 }; // in memory here
  fs.writeFileSync(config, JSON.stringify({ ...CONFIG, data, swa: undefined, schedule, lossCheckEvery: 1, output: path.join(dir, 'out') }));
  const r = runCli(['train', config, '--quiet']);
  assert.equal(r.code, 2, r.stderr);
  const m =
    /TrainingError: training diverged .*epoch 2, minibatch \d+ \(member \d\).*The last good checkpoint \(epoch 2, minibatch (\d+)\) is kept: .*progress\.ckpt/.exec(
      r.stderr,
    );
  assert.ok(m, r.stderr);
  const file = path.join(dir, '.out.run', 'progress.ckpt');
  const kept = readCheckpointHeader(file).position!;
  assert.deepEqual([kept.epoch, kept.step + 1], [1, Number(m[1])], 'the message names the checkpoint that is there');
  const { payload } = tensors(file);
  const values = new Float32Array(payload.buffer.slice(payload.byteOffset, payload.byteOffset + payload.length));
  assert.ok(values.every(Number.isFinite), 'the kept checkpoint holds only finite values');
  assert.ok(!fs.existsSync(path.join(dir, 'out')), 'nothing was published');
  fs.rmSync(dir, { recursive: true, force: true });
});
