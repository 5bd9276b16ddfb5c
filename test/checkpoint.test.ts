/** Checkpoints: exact round trip with late-phase members, and clear errors that change nothing on bad files. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'crypto';
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

/** The file with its header replaced: `resign` recomputes the checksum (a deliberate edit), else the old one stays. */
function withHeader(good: Buffer, edit: (h: Record<string, unknown>) => void, resign: boolean): Buffer {
  const headerLength = good.readUInt32LE(8);
  const header = JSON.parse(good.toString('utf8', 44, 44 + headerLength)) as Record<string, unknown>;
  edit(header);
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const payload = good.subarray(44 + headerLength);
  const prefix = Buffer.from(good.subarray(0, 44));
  prefix.writeUInt32LE(headerBytes.length, 8);
  if (resign) crypto.createHash('sha256').update(headerBytes).update(payload).digest().copy(prefix, 12);
  return Buffer.concat([prefix, headerBytes, payload]);
}

test('every header field is covered: an edited field is rejected by name, and the model (values and K) is unchanged', () => {
  const dir = tmp();
  const source = trainedCnn();
  const file = path.join(dir, 'good.ckpt');
  saveCheckpoint(source, file);
  const good = fs.readFileSync(file);
  const target = mnistCnn({ seed: 5, widths: [3, 4] }); // K = 1: a bad file must not restructure it
  const names = (): string[] => checkpointVariables(target).map((v) => v.name);
  const [namesBefore, valuesBefore] = [names(), values(target)];
  type Edit = [string, (h: Record<string, unknown>) => void, RegExp];
  const tensor = (h: Record<string, unknown>, i: number): Record<string, unknown> => (h['tensors'] as Array<Record<string, unknown>>)[i]!;
  const edits: Edit[] = [
    ['format', (h) => (h['format'] = 'other'), /unsupported format/],
    ['version', (h) => (h['version'] = 4), /unsupported format/],
    ['training position', (h) => (h['training'] = { position: { epoch: -1 }, tensors: [] }), /training position: epoch is -1, not a count/],
    ['training tensor table', (h) => (h['training'] = { position: 'x', tensors: 'none' }), /training position: missing/],
    ['members', (h) => (h['members'] = 4), /has no tensor '.*\[3\]'/],
    ['members (not an integer)', (h) => (h['members'] = 2.5), /member count 2\.5 is not a positive integer/],
    ['payloadBytes', (h) => (h['payloadBytes'] = 12), /payload is \d+ bytes, header says 12/],
    ['tensor name', (h) => (tensor(h, 0)['name'] = 'renamed'), /has no tensor/],
    ['tensor dtype', (h) => (tensor(h, 1)['dtype'] = 'int32'), /dtype "int32"; only float32/],
    ['tensor shape', (h) => (tensor(h, 0)['shape'] = [9, 9]), /do not fit its shape|the model expects/],
    ['tensor offset', (h) => (tensor(h, 2)['offset'] = Number(tensor(h, 2)['offset']) + 1), /gap or overlap|expected \d+/],
    ['tensor length', (h) => (tensor(h, 2)['length'] = 1), /do not fit its shape/],
    ['tensor table', (h) => (h['tensors'] = 'none'), /no tensor table/],
  ];
  for (const [field, edit, message] of edits) {
    for (const resign of [false, true]) {
      const p = path.join(dir, 'edited.ckpt');
      fs.writeFileSync(p, withHeader(good, edit, resign));
      assert.throws(
        () => loadCheckpoint(target, p),
        (e: unknown) => (e instanceof DataError || e instanceof ShapeError) && (resign ? message : /checksum mismatch/).test(e.message),
        `${field} (${resign ? 're-signed' : 'old checksum'})`,
      );
      assert.equal(memberCount(target), 1, `${field}: K unchanged`);
      assert.deepEqual(names(), namesBefore, `${field}: structure unchanged`);
    }
  }
  assert.deepEqual(values(target), valuesBefore);
  assert.equal(loadCheckpoint(target, file).members, 3, 'the untouched file still loads');
  [source, target].forEach((m) => m.dispose());
  fs.rmSync(dir, { recursive: true });
});
