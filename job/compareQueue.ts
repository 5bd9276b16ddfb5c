/**
 * Compare runs past one machine, on BullMQ (a Redis-backed queue): `compare --queue redis://h:p`
 * enqueues every unfinished run (job id = its output folder, so enqueueing twice adds nothing);
 * `latephase worker --queue ...` on any number of machines sharing the output storage takes runs
 * off the queue and trains each as a separate process; `compare --queue ... --collect` builds the
 * table once every run is finished. A worker killed mid-run stops renewing its job's lock: after
 * `lockDuration` another worker's stalled check puts the job back, and whoever takes it finds the
 * run finished (skips it), still running elsewhere (waits for that process's folder lock), or
 * interrupted (the same config continues from its progress). Failed runs are retried with backoff.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Job } from 'bullmq';

/** bullmq (and ioredis) load only when a queue is used: 0.15 s that every other command would pay at start. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const bullmq = (): typeof import('bullmq') => require('bullmq') as typeof import('bullmq');
import { ConfigError } from '../src/errors';
import { JobConfig } from '../src/config/schema';
import { OutputFolder } from '../src/io/outputFolder';
import { executeRun, isFinished, Run } from './compareJob';

const QUEUE_NAME = 'latephase-compare';

interface QueueTiming {
  /** How long a job's lock lives without renewal (ms): the time to notice a killed worker. */
  readonly lockDuration: number;
  /** How often each worker looks for stalled jobs (ms). */
  readonly stalledInterval: number;
}

export const DEFAULT_TIMING: QueueTiming = { lockDuration: 60_000, stalledInterval: 30_000 };

/** `redis://host:port` -> BullMQ connection options. */
function parseQueueUrl(url: string): { host: string; port: number } {
  const m = /^redis:\/\/([^:/]+)(?::(\d+))?\/?$/.exec(url);
  if (!m) throw new ConfigError(`--queue expects redis://host:port, got '${url}'`);
  return { host: m[1]!, port: Number(m[2] ?? 6379) };
}

interface RunData {
  readonly variant: string;
  readonly seed: number;
  readonly dir: string;
  readonly config: JobConfig;
}

/** Enqueue the runs not finished yet; returns how many were added. */
export async function enqueueRuns(url: string, runs: readonly Run[]): Promise<number> {
  const queue = new (bullmq().Queue)<RunData>(QUEUE_NAME, { connection: parseQueueUrl(url) });
  try {
    const todo = runs.filter((r) => !isFinished(r));
    await queue.addBulk(
      todo.map((r) => ({
        name: `${r.variant} seed ${r.seed}`,
        data: { variant: r.variant, seed: r.seed, dir: r.dir, config: r.config },
        // The folder is the run's identity: enqueueing the same compare again adds nothing.
        opts: { jobId: r.dir.replace(/[^A-Za-z0-9_.-]/g, '_'), attempts: 5, backoff: { type: 'fixed', delay: 3000 }, removeOnComplete: false },
      })),
    );
    return todo.length;
  } finally {
    await queue.close();
  }
}

/** Job counts by state (for collect's message and the tests). */
export async function queueCounts(url: string): Promise<Record<string, number>> {
  const queue = new (bullmq().Queue)(QUEUE_NAME, { connection: parseQueueUrl(url) });
  try {
    return await queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
  } finally {
    await queue.close();
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Wait while another process on this machine holds the run's output folder (a killed worker's orphaned run). */
async function waitForFolder(dir: string, log: (line: string) => void): Promise<void> {
  const lock = path.join(path.dirname(dir), `.${path.basename(dir)}.lock`);
  for (let said = false; ; said = true) {
    let holder: { pid?: number; host?: string } = {};
    try {
      holder = JSON.parse(fs.readFileSync(lock, 'utf8')) as typeof holder;
    } catch {
      return;
    }
    if (holder.host !== os.hostname() || typeof holder.pid !== 'number' || !alive(holder.pid)) return;
    if (!said) log(`worker: ${dir} is in use by process ${holder.pid}; waiting for it`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

interface WorkerOptions {
  readonly url: string;
  readonly cli: string;
  readonly concurrency?: number;
  /** Exit after the queue has had nothing to do for this many seconds (0: run until signalled). */
  readonly idleExit?: number;
  readonly timing?: QueueTiming;
  readonly log?: (line: string) => void;
}

/** Take runs off the queue until signalled (or idle for `idleExit` seconds); resolves with the count done. */
export async function runWorker(opts: WorkerOptions): Promise<number> {
  const log = opts.log ?? console.log;
  const timing = opts.timing ?? DEFAULT_TIMING;
  let done = 0;
  let lastActivity = Date.now();
  let busy = 0;
  const worker = new (bullmq().Worker)<RunData>(
    QUEUE_NAME,
    async (job: Job<RunData>) => {
      busy++;
      try {
        const run: Run = { variant: job.data.variant as Run['variant'], seed: job.data.seed, dir: job.data.dir, config: job.data.config };
        await waitForFolder(run.dir, log);
        if (isFinished(run)) {
          log(`worker: ${run.dir} is finished already (another worker completed it)`);
          return 'skipped';
        }
        log(`worker: running ${job.name} -> ${run.dir}`);
        await executeRun(run, opts.cli, path.join(path.dirname(OutputFolder.workDirOf(run.dir)), '.configs'));
        done++;
        log(`worker: finished ${job.name}`);
        return 'trained';
      } finally {
        busy--;
        lastActivity = Date.now();
      }
    },
    {
      connection: parseQueueUrl(opts.url),
      concurrency: opts.concurrency ?? 1,
      lockDuration: timing.lockDuration,
      stalledInterval: timing.stalledInterval,
      maxStalledCount: 3,
    },
  );
  worker.on('failed', (job, err) => log(`worker: ${job?.name ?? 'a run'} failed (attempt ${job?.attemptsMade ?? '?'}): ${err.message}`));
  const stop = new Promise<void>((resolve) => {
    const onSignal = (): void => resolve();
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    if (opts.idleExit) {
      const timer = setInterval(() => {
        if (busy === 0 && Date.now() - lastActivity > opts.idleExit! * 1000) {
          clearInterval(timer);
          resolve();
        }
      }, 500);
    }
  });
  log(`worker: taking runs from ${opts.url} (queue ${QUEUE_NAME}, lock ${timing.lockDuration} ms)`);
  await stop;
  await worker.close();
  return done;
}
