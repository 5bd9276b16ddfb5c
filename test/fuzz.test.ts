/**
 * Seeded fuzzing of everything a user hands the training job: configs (mutated fields, types,
 * unknown keys), progress checkpoints (flipped bytes, truncations, re-signed header edits) and data
 * files (IDX gzipped or not, CIFAR, text). Each input must be accepted or rejected with a named
 * error of the toolkit (ConfigError / DataError / ShapeError), never a crash with another error;
 * a rejected checkpoint leaves the model exactly as it was.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../src/nn/rng';
import { presetConfig, resolveConfig } from '../src/config/resolve';
import { JobConfigInput } from '../src/config/schema';
import { planRun } from '../job/runPlan';
import { checkTrainConfig } from '../src/train/trainer';
import { checkpointVariables, loadCheckpoint, saveCheckpoint } from '../src/train/checkpoint';
import { mlp } from '../models/mlp';
import { releaseMembers } from '../src/latephase/members';
import { readIdxDataset } from '../src/data/idx';
import { readCifarBinary } from '../src/data/cifar';
import { readTextCorpus, sequenceDataset } from '../src/data/text';
import { checkDataset } from '../src/data/dataset';
import { LatePhaseError } from '../src/errors';
import { idxFile, useBackend } from './helpers';

before(async () => {
  await useBackend('wasm');
});

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-fuzz-'));

/** Run `attempt`; any error must be one of the toolkit's named errors. Returns whether it was accepted. */
function acceptedOrNamed(attempt: () => void, what: string): boolean {
  try {
    attempt();
    return true;
  } catch (err) {
    assert.ok(err instanceof LatePhaseError, `${what}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    assert.ok(err.message.length > 10, `${what}: the error says something`);
    return false;
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
const ODD_VALUES: Json[] = [null, -1, 0, 0.5, 1e12, Number.MAX_SAFE_INTEGER, 'x', '', true, [], [1, 'a'], {}, { extra: 1 }, 'NaN', -0.0001];

/** Every path to a value in the config (sections and leaves). */
function paths(v: Json, at: string[] = []): string[][] {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return [at];
  return [at, ...Object.entries(v).flatMap(([k, child]) => paths(child, [...at, k]))];
}

function mutate(config: Json, rng: Rng): Json {
  const copy = structuredClone(config) as { [key: string]: Json };
  const all = paths(copy).filter((p) => p.length > 0);
  const target = all[Math.floor(rng.next() * all.length)]!;
  let node = copy;
  for (const key of target.slice(0, -1)) node = node[key] as { [key: string]: Json };
  const last = target[target.length - 1]!;
  const r = rng.next();
  if (r < 0.2) delete node[last];
  else if (r < 0.3) node[`${last}_typo`] = node[last] ?? 1;
  else if (r < 0.35) {
    // As JSON.parse and YAML make them: an own property, which plain assignment to __proto__ is not.
    const key = HOSTILE_KEYS[Math.floor(rng.next() * HOSTILE_KEYS.length)]!;
    Object.defineProperty(node, key, { value: { polluted: 1 }, enumerable: true, writable: true, configurable: true });
  } else node[last] = ODD_VALUES[Math.floor(rng.next() * ODD_VALUES.length)]!;
  return copy;
}

const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype'];
const hasHostileKey = (v: Json): boolean =>
  v !== null && typeof v === 'object' && Object.keys(v).some((k) => HOSTILE_KEYS.includes(k) || hasHostileKey((v as Record<string, Json>)[k]!));

test('fuzzed configs: each resolves, or fails with a ConfigError naming the problem', () => {
  const rng = new Rng(21);
  // resolved: every field written out, so mutations reach the defaults too
  const seeds: Json[] = ['mnist-cnn', 'fashion-cnn', 'cifar10_bn_swa'].map((n) => resolveConfig(presetConfig(n), n) as unknown as Json);
  let accepted = 0;
  let hostile = 0;
  for (let i = 0; i < 400; i++) {
    let cfg: Json = seeds[i % seeds.length] ?? null;
    for (let m = 0; m <= i % 3; m++) cfg = mutate(cfg, rng);
    const ok = acceptedOrNamed(
      () => {
        const resolved = resolveConfig(cfg as unknown as JobConfigInput, `fuzz #${i}`);
        checkTrainConfig(planRun(resolved).train);
      },
      `config mutation #${i} ${JSON.stringify(cfg).slice(0, 200)}`,
    );
    if (ok) accepted++;
    if (hasHostileKey(cfg)) {
      hostile++;
      assert.ok(!ok, `config mutation #${i} with a hostile key is refused`);
    }
  }
  assert.ok(hostile > 5, `hostile keys were among the mutations (${hostile})`);
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined, 'Object.prototype untouched');
  assert.ok(accepted > 20 && accepted < 380, `a mix of accepted (${accepted}) and rejected mutations`);
});

test('fuzzed progress checkpoints: each loads, or fails by name leaving the model unchanged', () => {
  const dir = tmp();
  const source = mlp({ inputs: 4, hidden: [5], classes: 3, seed: 1 });
  releaseMembers(source, 2, 0.3, 1);
  const file = path.join(dir, 'good.ckpt');
  const momentum = tf.ones([4, 5]);
  const position = {
    epoch: 2,
    step: 1,
    minibatches: 9,
    sharedSteps: 3,
    memberSteps: [4, 3],
    released: true,
    member: 1,
    epochSum: 1.5,
    epochCount: 2,
    recentLoss: 0.7,
    epochLoss: [1, 0.8],
    swaSnapshots: 0,
    pendingLoss: { sum: 1.25, rows: 32, places: [{ epoch: 2, step: 0, member: 0 }] },
  };
  saveCheckpoint(source, file, { config: '{}' }, { position, tensors: [{ name: 'opt.shared/fc1.weight', tensor: momentum }] });
  const good = fs.readFileSync(file);
  const headerLength = good.readUInt32LE(8);
  const rng = new Rng(5);
  let loaded = 0;
  for (let i = 0; i < 240; i++) {
    let bytes = Buffer.from(good);
    const kind = i % 4;
    if (kind === 0) bytes[Math.floor(rng.next() * bytes.length)]! ^= 1 << Math.floor(rng.next() * 8);
    else if (kind === 1) bytes = bytes.subarray(0, Math.floor(rng.next() * bytes.length));
    else {
      // A deliberate edit of one header value, re-signed so that only validation can catch it.
      const header = JSON.parse(good.toString('utf8', 44, 44 + headerLength)) as Json;
      const headerBytes = Buffer.from(JSON.stringify(mutate(header, rng)), 'utf8');
      const payload = good.subarray(44 + headerLength);
      const prefix = Buffer.from(good.subarray(0, 44));
      prefix.writeUInt32LE(headerBytes.length, 8);
      crypto.createHash('sha256').update(headerBytes).update(payload).digest().copy(prefix, 12);
      bytes = Buffer.concat([prefix, headerBytes, payload]);
    }
    const mutated = path.join(dir, `m${i}.ckpt`);
    fs.writeFileSync(mutated, bytes);
    const model = mlp({ inputs: 4, hidden: [5], classes: 3, seed: 9 }); // K = 1: a bad file must not restructure it
    const before = checkpointVariables(model).map((v) => [v.name, v.variable.dataSync().slice()] as const);
    const ok = acceptedOrNamed(() => {
      const info = loadCheckpoint(model, mutated);
      if (info.training) tf.dispose(info.training.tensors.map((t) => t.tensor));
    }, `checkpoint mutation #${i}`);
    if (ok) loaded++;
    else
      assert.deepEqual(
        checkpointVariables(model).map((v) => [v.name, v.variable.dataSync()] as const),
        before,
        `mutation #${i}: a rejected file changed the model`,
      );
    model.dispose();
  }
  assert.ok(loaded < 240, 'most mutations are rejected');
  tf.dispose(momentum);
  source.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('fuzzed data files (IDX raw and gzipped, CIFAR, text): each reads as a valid data set, or fails with a DataError', () => {
  const dir = tmp();
  const rng = new Rng(8);
  const n = 12;
  const images = idxFile(
    [n, 28, 28],
    Array.from({ length: n * 784 }, (_, i) => i % 256),
  );
  const labels = idxFile(
    [n],
    Array.from({ length: n }, (_, i) => i % 10),
  );
  const cifar = Buffer.concat(Array.from({ length: 4 }, (_, r) => Buffer.concat([Buffer.from([r % 10]), Buffer.alloc(3072, r * 20)])));
  const text = Buffer.from('late-phase weights average members in weight space. '.repeat(20));
  const flip = (b: Buffer): Buffer => {
    const out = Buffer.from(b);
    const kind = rng.next();
    if (kind < 0.4)
      out[Math.floor(rng.next() * Math.min(out.length, 64))]! ^= 0xff; // the header, mostly
    else if (kind < 0.7) return out.subarray(0, Math.floor(rng.next() * out.length));
    else out[Math.floor(rng.next() * out.length)]! = Math.floor(rng.next() * 256);
    return out;
  };
  for (let i = 0; i < 150; i++) {
    const [img, lab] = [path.join(dir, `i${i}`), path.join(dir, `l${i}`)];
    const gz = i % 2 === 1;
    const pick = rng.next() < 0.5;
    fs.writeFileSync(img, gz ? (pick ? zlib.gzipSync(flip(images)) : flip(zlib.gzipSync(images))) : flip(images));
    fs.writeFileSync(lab, pick ? labels : flip(labels));
    acceptedOrNamed(() => checkDataset(readIdxDataset(img, lab), 'idx'), `IDX mutation #${i}`);
    const c = path.join(dir, `c${i}.bin`);
    fs.writeFileSync(c, flip(cifar));
    acceptedOrNamed(() => checkDataset(readCifarBinary([c], { variant: i % 3 ? 'cifar10' : 'cifar100' }), 'cifar'), `CIFAR mutation #${i}`);
    const t = path.join(dir, `t${i}.txt`);
    fs.writeFileSync(t, flip(text));
    acceptedOrNamed(() => checkDataset(sequenceDataset(readTextCorpus(t), 16), 'text'), `text mutation #${i}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});
