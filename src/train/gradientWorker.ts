/**
 * Entry point of a data-parallel gradient worker (a worker_thread started by dataParallel.ts). It
 * rebuilds the model from its recipe, and for each request loads the trainer's current parameter and
 * state values, computes loss and gradients on its shard of the minibatch, and sends them back with
 * its updated running statistics. It owns no optimizer state: the trainer's thread does every update.
 */
import { parentPort, workerData } from 'worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../backend/selectBackend';
import { buildFromRecipe, modelSignature } from '../nn/modelRecipe';
import { Model } from '../nn/model';
import { NamedVariable, Param } from '../nn/layer';
import { MemberGroups, releaseMembers } from '../latephase/members';
import { oneHotLabels } from '../data/dataset';
import { lossAndGrads } from './gradients';
import { augmentBatch, augmentDraws } from '../data/augment';
import { ConfigError } from '../errors';
import { FromWorker, ToWorker, transferableCopy, WorkerSetup } from './workerProtocol';

const setup = workerData as WorkerSetup;
const port = parentPort;

function reply(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(msg, transfer);
}

function load(v: tf.Variable, values: Float32Array): void {
  tf.tidy(() => v.assign(tf.tensor(values, v.shape, 'float32')));
}

/** The worker's model with its tensors by name and its member groups, looked up once per structure (start, release). */
class WorkerModel {
  private params = new Map<string, Param>();
  private state = new Map<string, NamedVariable>();
  private groups: MemberGroups;

  constructor(readonly model: Model) {
    this.groups = this.index();
  }

  release(k: number): void {
    releaseMembers(this.model, k, 0, 0); // values arrive with every step; only the structure matters here
    this.groups = this.index();
  }

  private index(): MemberGroups {
    this.params = new Map(this.model.params().map((p) => [p.name, p]));
    this.state = new Map(this.model.net.state().map((s) => [s.name, s]));
    return new MemberGroups(this.model);
  }

  /** Every tensor `names` names (parameter or state) takes the trainer's value. */
  sync(msg: Extract<ToWorker, { kind: 'sync' }>): void {
    msg.names.forEach((name, i) => {
      const v = this.params.get(name)?.variable ?? this.state.get(name)?.variable;
      if (!v) throw new ConfigError(`no tensor '${name}' in the worker's model: the recipe builds a different model`);
      load(v, msg.values[i]!);
    });
  }

  /** Selects `member` and returns the named tensors, loaded with the trainer's values. */
  load(msg: Extract<ToWorker, { kind: 'step' }>): { params: Param[]; state: NamedVariable[] } {
    const find = <T>(map: Map<string, T>, name: string, what: string): T => {
      const found = map.get(name);
      if (!found) throw new ConfigError(`no ${what} '${name}' in the worker's model: the recipe builds a different model`);
      return found;
    };
    const params = msg.params.map((name) => find(this.params, name, 'parameter'));
    const state = msg.stateNames.map((name) => find(this.state, name, 'state tensor'));
    params.forEach((p, i) => load(p.variable, msg.values[i]!));
    state.forEach((s, i) => load(s.variable, msg.state[i]!));
    if (this.groups.count > 1) this.groups.select(msg.member);
    return { params, state };
  }
}

function step(worker: WorkerModel, msg: Extract<ToWorker, { kind: 'step' }>): void {
  const { model } = worker;
  const { params, state } = worker.load(msg);
  const rows = msg.y.length / setup.labelShape.reduce((a, b) => a * b, 1);
  // The tidy returns tensors only: tfjs walks a returned container element by element, which for
  // host arrays of millions of gradient values cost seconds per step.
  const { loss, grads } = tf.tidy(() => {
    const raw = tf.tensor(msg.x, [rows, ...setup.featureShape], 'float32');
    const a = setup.augment;
    const xb = a ? augmentBatch(raw, augmentDraws(msg.rows, a.seed, msg.epoch, a.augmentation), a.augmentation) : raw;
    const yb = oneHotLabels({ y: msg.y, labelShape: setup.labelShape, classes: setup.classes });
    const result = lossAndGrads(model, xb, yb, params);
    return { loss: result.loss, grads: result.grads };
  });
  const hostGrads = grads.map(transferableCopy);
  const lossValue = loss.dataSync()[0]!;
  tf.dispose([loss, ...grads]);
  const stateAfter = state.map((s) => transferableCopy(s.variable));
  reply(
    { kind: 'grads', loss: lossValue, grads: hostGrads, state: stateAfter },
    [...hostGrads, ...stateAfter].map((a) => a.buffer as ArrayBuffer),
  );
}

async function main(): Promise<void> {
  if (!port) throw new Error('gradientWorker.js runs as a worker thread only');
  await selectBackend(setup.backend);
  const model = buildFromRecipe(setup.recipe);
  if (setup.members > 1) releaseMembers(model, setup.members, 0, 0);
  const worker = new WorkerModel(model);
  port.on('message', (msg: ToWorker) => {
    try {
      if (msg.kind === 'step') step(worker, msg);
      else {
        if (msg.kind === 'release') worker.release(msg.k);
        else worker.sync(msg);
        reply({ kind: 'ready', signature: modelSignature(model) });
      }
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      reply({ kind: 'error', name: e.name, message: e.message });
    }
  });
  reply({ kind: 'ready', signature: modelSignature(model) });
}

main().catch((err: unknown) => {
  const e = err instanceof Error ? err : new Error(String(err));
  reply({ kind: 'error', name: e.name, message: e.message });
});
