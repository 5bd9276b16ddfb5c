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
import { memberCount, releaseMembers, selectMember } from '../latephase/members';
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

function step(model: Model, msg: Extract<ToWorker, { kind: 'step' }>): void {
  const byName = new Map(model.params().map((p) => [p.name, p]));
  const params: Param[] = msg.params.map((name) => {
    const p = byName.get(name);
    if (!p) throw new ConfigError(`no parameter '${name}' in the worker's model: the recipe builds a different model`);
    return p;
  });
  params.forEach((p, i) => load(p.variable, msg.values[i]!));
  const stateByName = new Map(model.net.state().map((s) => [s.name, s]));
  const state: NamedVariable[] = msg.stateNames.map((name) => {
    const s = stateByName.get(name);
    if (!s) throw new ConfigError(`no state tensor '${name}' in the worker's model: the recipe builds a different model`);
    return s;
  });
  state.forEach((s, i) => load(s.variable, msg.state[i]!));
  if (memberCount(model) > 1) selectMember(model, msg.member);
  const rows = msg.y.length / setup.labelShape.reduce((a, b) => a * b, 1);
  // The tidy returns tensors only: tfjs walks a returned container element by element, which for
  // host arrays of millions of gradient values cost seconds per step.
  const { loss, grads } = tf.tidy(() => {
    const raw = tf.tensor(msg.x, [rows, ...setup.featureShape], 'float32');
    const a = setup.augment;
    const xb = a ? augmentBatch(raw, augmentDraws(msg.rows, a.seed, msg.epoch, a.augmentation), a.augmentation) : raw;
    const yb = oneHotLabels({ x: msg.x, y: msg.y, featureShape: setup.featureShape, labelShape: setup.labelShape, classes: setup.classes });
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
  port.on('message', (msg: ToWorker) => {
    try {
      if (msg.kind === 'step') step(model, msg);
      else {
        releaseMembers(model, msg.k, 0, 0); // values arrive with every step; only the structure matters here
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
