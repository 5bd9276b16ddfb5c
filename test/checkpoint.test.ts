/** Checkpoints: exact round trip with late-phase members, and clear errors that change nothing on bad files. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { mnistCnn } from '../models/mnistCnn';
import { mlp } from '../models/mlp';
import { Model } from '../src/nn/model';
import { TRAIN } from '../src/nn/layer';
import { releaseMembers, memberCount, selectMember } from '../src/latephase/members';
import { checkpointVariables, loadCheckpoint, saveCheckpoint } from '../src/train/checkpoint';
import { DataError, ShapeError } from '../src/errors';
import { seededTensor, useBackend } from './helpers';

before(async () => {
  await useBackend('wasm');
});

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-ckpt-'));
const values = (m: Model): Float32Array[] => checkpointVariables(m).map((v) => v.variable.dataSync().slice() as Float32Array);

function trainedCnn(): Model {
  const model = mnistCnn({ seed: 1, widths: [3, 4] });
  releaseMembers(model, 3, 0.4, 2);
  for (let k = 0; k < 3; k++) {
    selectMember(model, k);
    tf.tidy(() => model.forward(seededTensor([8, 784], k), TRAIN)); // member-specific running stats
  }
  return model;
}

test('a checkpoint restores every member, parameter and running statistic exactly', () => {
  const dir = tmp();
  const file = path.join(dir, 'model.ckpt');
  const source = trainedCnn();
  saveCheckpoint(source, file, { note: 'test' });
  const fresh = mnistCnn({ seed: 99, widths: [3, 4] }); // other init, not released
  const info = loadCheckpoint(fresh, file);
  assert.equal(info.members, 3);
  assert.equal(memberCount(fresh), 3);
  assert.equal(info.meta['note'], 'test');
  assert.deepEqual(values(fresh), values(source));
  assert.deepEqual(fs.readdirSync(dir), ['model.ckpt']);
  source.dispose();
  fresh.dispose();
  fs.rmSync(dir, { recursive: true });
});

test('corrupt, truncated, foreign or mismatched checkpoints are rejected by name and change no weight', () => {
  const dir = tmp();
  const file = path.join(dir, 'model.ckpt');
  const source = trainedCnn();
  saveCheckpoint(source, file);
  const good = fs.readFileSync(file);
  const target = trainedCnn();
  const before = values(target);
  const write = (name: string, bytes: Uint8Array): string => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, bytes);
    return p;
  };
  const flipped = Buffer.from(good);
  flipped[flipped.length - 5]! ^= 0xff;
  const cases: Array<[string, RegExp, new (...a: never[]) => Error]> = [
    [write('flipped.ckpt', flipped), /checksum mismatch/, DataError],
    [write('truncated.ckpt', good.subarray(0, good.length - 40)), /truncated/, DataError],
    [write('foreign.ckpt', Buffer.from('PK\x03\x04 definitely not a checkpoint')), /bad magic/, DataError],
    [path.join(dir, 'missing.ckpt'), /cannot read/, DataError],
  ];
  for (const [p, message, type] of cases) {
    assert.throws(
      () => loadCheckpoint(target, p),
      (e: unknown) => e instanceof type && message.test(e.message),
      p,
    );
  }
  const wider = mnistCnn({ seed: 1, widths: [3, 5] });
  assert.throws(
    () => loadCheckpoint(wider, file),
    (e: unknown) => e instanceof ShapeError && /tensor 'conv2.weight' has shape \[3, 3, 3, 4\], the model expects \[3, 3, 3, 5\]/.test(e.message),
  );
  const other = mlp({ inputs: 784, hidden: [4], classes: 10 });
  assert.throws(
    () => loadCheckpoint(other, file),
    (e: unknown) => e instanceof DataError && /has no tensor 'fc1.weight'/.test(e.message),
  );
  assert.deepEqual(values(target), before);
  [source, target, wider, other].forEach((m) => m.dispose());
  fs.rmSync(dir, { recursive: true });
});
