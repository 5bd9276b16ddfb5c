/**
 * compare over a real queue: Debian's redis-server started here on 127.0.0.1 (a free port, no
 * persistence) and stopped after; the runs enqueued on BullMQ; two workers, one killed with
 * SIGKILL while it trains; the other takes the killed run over once its lock expires. Every run
 * ends exactly once (four completed jobs, none failed) and the collected table is complete.
 * Skipped where redis-server is absent, unless LATEPHASE_REQUIRE_REDIS=1 (set by CI).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { CLI, runCli, TINY_SETS } from './helpers';
import { queueCounts } from '../job/compareQueue';
import type { CompareTable } from '../job/compareJob';

const REDIS = '/usr/bin/redis-server';
const required = process.env['LATEPHASE_REQUIRE_REDIS'] === '1';
const available = fs.existsSync(REDIS) && spawnSync(REDIS, ['--version']).status === 0;
const SETS = [...TINY_SETS, 'workers=0'];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Resolves when the child's combined output matches `pattern` (rejects on exit first). */
function waitFor(child: ChildProcess, pattern: RegExp, output: { text: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (pattern.test(output.text)) resolve();
    };
    child.stdout?.on('data', (d: Buffer) => ((output.text += d.toString()), check()));
    child.stderr?.on('data', (d: Buffer) => ((output.text += d.toString()), check()));
    child.on('exit', () => (pattern.test(output.text) ? resolve() : reject(new Error(`exited before ${pattern}: ${output.text}`))));
  });
}

const exited = (child: ChildProcess): Promise<number | null> => new Promise((resolve) => child.on('exit', (code) => resolve(code)));

test(
  'compare on a real redis queue: two workers, one killed mid-run; every run finishes exactly once and the table is complete',
  { skip: !available && !required ? 'redis-server not installed (apt-get install redis-server)' : false, timeout: 300_000 },
  async () => {
    assert.ok(available, `LATEPHASE_REQUIRE_REDIS=1 but ${REDIS} is missing`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-queue-'));
    const port = await freePort();
    const redis = spawn(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const workers: ChildProcess[] = [];
    try {
      await waitFor(redis, /Ready to accept connections/, { text: '' });
      const url = `redis://127.0.0.1:${port}`;
      const out = path.join(dir, 'runs');
      const compare = [
        'compare',
        'mnist-cnn',
        '--seeds',
        '0,1',
        '--variants',
        'base,late',
        '--out',
        out,
        '--queue',
        url,
        ...SETS.flatMap((s) => ['--set', s]),
      ];
      const enqueued = runCli(compare);
      assert.equal(enqueued.code, 0, enqueued.stderr);
      assert.match(enqueued.stdout, /compare: 4 run\(s\) enqueued/);
      assert.equal(runCli(compare).code, 0, 'enqueueing again adds nothing (job id = the run folder)');
      const early = runCli([...compare, '--collect']);
      assert.equal(early.code, 2);
      assert.match(early.stderr, /4 of 4 runs are not finished yet/);

      const start = (): { child: ChildProcess; output: { text: string } } => {
        const child = spawn(process.execPath, [CLI, 'worker', '--queue', url, '--idle-exit', '12', '--lock-ms', '3000', '--stalled-ms', '1000'], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        workers.push(child);
        return { child, output: { text: '' } };
      };
      const a = start();
      await waitFor(a.child, /worker: running/, a.output);
      const b = start();
      const bDone = exited(b.child);
      const bLog = { text: '' };
      b.child.stdout?.on('data', (d: Buffer) => (bLog.text += d.toString()));
      a.child.kill('SIGKILL'); // mid-run: its lock stops being renewed
      assert.equal(await bDone, 0, bLog.text);
      const killedRun = /worker: running \S+ seed \d+ -> (\S+)/.exec(a.output.text)![1]!;
      assert.ok(bLog.text.includes(killedRun), `the surviving worker took over ${killedRun}:\n${bLog.text}`);

      const counts = await queueCounts(url);
      assert.deepEqual([counts['completed'], counts['failed'], counts['waiting'], counts['active']], [4, 0, 0, 0], JSON.stringify(counts));
      const collected = runCli([...compare, '--collect']);
      assert.equal(collected.code, 0, collected.stderr);
      const table = JSON.parse(fs.readFileSync(path.join(out, 'compare.json'), 'utf8')) as CompareTable;
      assert.deepEqual(
        table.rows.map((r) => [r.variant, r.seeds]),
        [
          ['base', 2],
          ['late', 2],
        ],
      );
      for (const v of ['base', 'late'])
        for (const s of [0, 1]) {
          const log = fs
            .readFileSync(path.join(out, v, `seed-${s}`, 'metrics.jsonl'), 'utf8')
            .trim()
            .split('\n');
          const epochs = log.map((l) => JSON.parse(l) as { kind: string; epoch: number }).filter((r) => r.kind === 'epoch');
          assert.deepEqual(
            epochs.map((r) => r.epoch),
            [1, 2],
            `${v} seed ${s}: each epoch logged once`,
          );
        }
    } finally {
      for (const w of workers) w.kill('SIGKILL');
      redis.kill('SIGTERM');
      await exited(redis);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);
