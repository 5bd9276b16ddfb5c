/**
 * Data-parallel gradients over worker threads. tfjs's wasm backend runs one thread in Node, so a
 * second core only helps if another thread computes part of each minibatch: every step, this
 * thread sends the current values of the differentiated parameters and all state to each worker,
 * with the worker's shard of the rows; computes its own shard meanwhile; then combines.
 *
 * - Gradients and loss: the shards' values weighted by their share of the rows, which is the
 *   full-minibatch mean-loss gradient up to float summation order.
 * - BatchNorm: each shard normalises with its own batch statistics (as PyTorch DataParallel without
 *   SyncBatchNorm), and the running statistics become the shards' updated values weighted by share:
 *   exact for the running mean, the mean of the shards' variances for the running variance.
 * - Shards smaller than MIN_SHARD_ROWS (8) are never made: BatchNorm statistics of a few rows are
 *   noise (of one row, no variance at all), and so many threads would not pay. A minibatch of r
 *   rows uses max(1, min(1 + workers, floor(r / 8))) shards, a rule of r and the worker count
 *   only, so results stay deterministic.
 */
import * as path from 'path';
import { Worker } from 'worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { availableCores } from '../backend/kernelThreads';
import { Model } from '../nn/model';
import { uniqueByVariable } from '../nn/layer';
import { describeRecipe, ModelRecipe, checkSameSignature, modelSignature } from '../nn/modelRecipe';
import { ConfigError, NAMED_ERRORS, TrainingError } from '../errors';
import { Examples, subset } from '../data/dataset';
import { memberCount } from '../latephase/members';
import {
  combineShards,
  disposeShards,
  GradientSource,
  LocalGradients,
  LossAndGrads,
  MinibatchStep,
  SeededAugmentation,
  ShardOutput,
  shardSizes,
} from './gradients';
import { FromWorker, ToWorker, transferableCopy, WorkerSetup } from './workerProtocol';

export interface DataParallelOptions {
  /** Worker threads besides this one (0: train in this thread only). */
  readonly workers: number;
  /** How the workers rebuild the model (see nn/modelRecipe.ts). */
  readonly recipe: ModelRecipe;
}

/**
 * The worker count `auto` means: one per extra core on the single-threaded backends (wasm, cpu);
 * none on the native backends, which already use every core. With the native kernels, workers
 * still win on this project's bench models (bench/README.md); a run without workers (`workers: 0`,
 * or a minibatch of one ghost batch) splits each native kernel over the cores instead.
 */
export function autoWorkers(tfjsBackend: string): number {
  return tfjsBackend === 'wasm' || tfjsBackend === 'cpu' ? Math.max(0, availableCores() - 1) : 0;
}

export { availableCores } from '../backend/kernelThreads';
export { MIN_SHARD_ROWS, shardSizes } from './gradients';

/** One worker thread with at most one request in flight. */
class GradientWorker {
  private pending: { resolve: (m: FromWorker) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;
  /** The reply to the last request sent (at first, the start-up 'ready'). */
  private ready: Promise<FromWorker> | null = null;
  private readonly thread: Worker;

  constructor(
    readonly index: number,
    setup: WorkerSetup,
  ) {
    this.thread = new Worker(path.join(__dirname, 'gradientWorker.js'), { workerData: setup });
    this.thread.on('message', (msg: FromWorker) => this.settle((p) => p.resolve(msg)));
    this.thread.on('error', (err) => this.fail(err));
    this.thread.on('exit', (code) => this.fail(new TrainingError(`gradient worker ${index} exited with code ${code}`)));
    this.awaitReply(); // the first message is 'ready' (or the error that stopped the worker)
  }

  private awaitReply(): void {
    this.ready = new Promise<FromWorker>((resolve, reject) => {
      if (this.failure) reject(this.failure);
      else this.pending = { resolve, reject };
    });
    this.ready.catch(() => undefined); // observed by reply(); not an unhandled rejection meanwhile
  }

  private settle(fn: (p: { resolve: (m: FromWorker) => void; reject: (e: Error) => void }) => void): void {
    const p = this.pending;
    this.pending = null;
    if (p) fn(p);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.settle((p) => p.reject(err));
  }

  /** The reply to the previous request (or the start-up 'ready'), as a value or a TrainingError naming this worker. */
  async reply(expect: FromWorker['kind']): Promise<FromWorker> {
    let msg: FromWorker;
    try {
      msg = await this.ready!;
    } catch (err) {
      throw new TrainingError(`gradient worker ${this.index}: ${(err as Error).message}`);
    }
    if (msg.kind === 'error') {
      const Typed = NAMED_ERRORS[msg.name]; // our typed errors keep their type across the thread boundary
      throw Typed
        ? new Typed(`gradient worker ${this.index}: ${msg.message}`)
        : new TrainingError(`gradient worker ${this.index}: ${msg.name}: ${msg.message}`);
    }
    if (msg.kind !== expect) throw new TrainingError(`gradient worker ${this.index}: expected '${expect}', got '${msg.kind}'`);
    return msg;
  }

  send(msg: ToWorker, transfer: ArrayBuffer[]): void {
    this.awaitReply();
    this.thread.postMessage(msg, transfer);
  }

  async close(): Promise<void> {
    this.thread.removeAllListeners('exit');
    await this.thread.terminate();
  }
}

export class DataParallelGradients implements GradientSource {
  private constructor(
    private readonly local: LocalGradients,
    private readonly data: Examples,
    private readonly workers: GradientWorker[],
    private readonly ghostBatches: number,
    /** Members the workers' models hold: they start with the model's (a resumed run's model is already released). */
    private workerMembers: number,
  ) {}

  /** Start `opts.workers` workers and check that each rebuilt the model's exact tensors. */
  static async start(
    model: Model,
    data: Examples,
    opts: DataParallelOptions,
    ghostBatches: number,
    augment?: SeededAugmentation,
  ): Promise<DataParallelGradients> {
    if (!Number.isInteger(opts.workers) || opts.workers < 1) throw new ConfigError(`workers must be a positive integer, got ${opts.workers}`);
    if (!opts.recipe) throw new ConfigError('data-parallel workers need a model recipe (parallel.recipe) to rebuild the model');
    const setup: WorkerSetup = {
      recipe: opts.recipe,
      backend: tf.getBackend(),
      members: memberCount(model),
      featureShape: [...data.featureShape],
      labelShape: [...(data.labelShape ?? [])],
      classes: data.classes,
      ...(augment ? { augment } : {}),
    };
    const workers = Array.from({ length: opts.workers }, (_, i) => new GradientWorker(i + 1, setup));
    const pool = new DataParallelGradients(new LocalGradients(data, ghostBatches, augment), data, workers, ghostBatches, setup.members);
    try {
      await pool.checkWorkers(model, `the model rebuilt from recipe ${describeRecipe(opts.recipe)}`);
      await pool.sync(model);
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  private async checkWorkers(model: Model, what: string): Promise<void> {
    const mine = modelSignature(model);
    const replies = await Promise.allSettled(this.workers.map((w) => w.reply('ready')));
    for (const r of replies) if (r.status === 'rejected') throw r.reason;
    for (const r of replies) if (r.status === 'fulfilled' && r.value.kind === 'ready') checkSameSignature(mine, r.value.signature, what);
  }

  /** Bring the workers' models to the released structure (unless they started with it: a resumed run) and values. */
  async released(model: Model, k: number): Promise<void> {
    if (this.workerMembers === k) return;
    this.workerMembers = k;
    for (const w of this.workers) w.send({ kind: 'release', k }, []);
    await this.checkWorkers(model, `the workers' model after release`);
    await this.sync(model);
  }

  /** Every worker's tensors take this model's values (what no step sends: frozen parameters). */
  private async sync(model: Model): Promise<void> {
    const tensors = uniqueByVariable([...model.params(), ...model.net.state()]);
    const names = tensors.map((t) => t.name);
    const current = tensors.map((t) => transferableCopy(t.variable));
    for (const w of this.workers) {
      const values = current.map((a) => a.slice());
      w.send(
        { kind: 'sync', names, values },
        values.map((a) => a.buffer as ArrayBuffer),
      );
    }
    const replies = await Promise.allSettled(this.workers.map((w) => w.reply('ready')));
    for (const r of replies) if (r.status === 'rejected') throw r.reason;
  }

  /**
   * The minibatch's ghost batches: shards 1..W go to the W workers, this thread computes shard 0
   * (meanwhile) and any shards beyond the workers, then all are combined in shard order, so the
   * result is the same with any worker count.
   */
  async compute(model: Model, step: MinibatchStep): Promise<LossAndGrads> {
    const sizes = shardSizes(step.rows.length, this.ghostBatches);
    if (sizes.length === 1) return this.local.computeNow(model, step.rows, step.params, step.epoch);
    const toWorkers = Math.min(this.workers.length, sizes.length - 1);
    const busy = this.dispatch(step, sizes, toWorkers);
    const mine = [0, ...Array.from({ length: sizes.length - 1 - toWorkers }, (_, i) => toWorkers + 1 + i)];
    const local = this.local.computeShards(model, step, sizes, mine);
    let replies: FromWorker[];
    try {
      replies = await Promise.all(busy.map((w) => w.reply('grads')));
    } catch (err) {
      disposeShards(local);
      throw err;
    }
    const shards: ShardOutput[] = new Array<ShardOutput>(sizes.length);
    mine.forEach((s, n) => (shards[s] = local[n]!));
    replies.forEach((r, j) => {
      if (r.kind !== 'grads') throw new TrainingError(`gradient worker: expected gradients, got '${r.kind}'`);
      shards[1 + j] = { loss: r.loss, grads: r.grads, state: r.state };
    });
    const combined = combineShards(step.state, step.params, shards, sizes);
    disposeShards(local);
    return combined;
  }

  /** Send shards 1..count to the workers; returns the workers that got one. */
  private dispatch(step: MinibatchStep, sizes: readonly number[], count: number): GradientWorker[] {
    const { rows, params, member, state, epoch } = step;
    const busy: GradientWorker[] = [];
    const names = params.map((p) => p.name);
    const stateNames = state.map((s) => s.name);
    // Read each tensor once; every worker then gets its own copy (a transfer moves the buffer).
    const current = params.map((p) => transferableCopy(p.variable));
    const currentState = state.map((v) => transferableCopy(v.variable));
    let start = sizes[0]!;
    for (let s = 1; s <= count; s++) {
      const shardRows = rows.slice(start, start + sizes[s]!);
      const shard = subset(this.data, shardRows);
      start += sizes[s]!;
      const values = current.map((a) => a.slice());
      const stateValues = currentState.map((a) => a.slice());
      const worker = this.workers[s - 1]!;
      worker.send(
        { kind: 'step', member, params: names, values, stateNames, state: stateValues, x: shard.x, y: shard.y, rows: shardRows, epoch },
        [...values, ...stateValues, shard.x, shard.y, shardRows].map((a) => a.buffer as ArrayBuffer),
      );
      busy.push(worker);
    }
    return busy;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
  }
}
