/**
 * The output-folder transaction over every write point of a bundle: a fake bundle with every
 * entry of the layout (fakeBundle.ts) is published through the real OutputFolder and writeBundle
 * with a full disk (ENOSPC) at each file operation in turn, the number of points taken from the
 * layout (bundleWritePoints), not from a fixed bound: the folder holds the old bundle or the new
 * one, entirely, its manifest verifying. (SIGKILL at every point, in a child that only publishes,
 * and at four points of real training runs: faults.e2e.ts.)
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkBundleFiles, Manifest } from '../export/bundle/bundle';
import { BUNDLE_ORDER, bundleWritePoints, isLayoutPath, MANIFEST_FILE } from '../export/bundle/layout';
import { injectFault } from '../src/io/faultPoints';
import { WriteError } from '../src/errors';
import { useBackend } from './helpers';
import { FakeBundleParts, fakeBundleParts, publishFakeBundle } from './fakeBundle';

let parts: FakeBundleParts;
before(async () => {
  await useBackend('cpu');
  parts = await fakeBundleParts();
});

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-transaction-'));

/** The seed of the bundle in `out`, after checking every file against the manifest. */
function liveSeed(out: string): string {
  assert.deepEqual(checkBundleFiles(out), [], `bundle at ${out} is inconsistent`);
  const manifest = JSON.parse(fs.readFileSync(path.join(out, MANIFEST_FILE), 'utf8')) as Manifest;
  return manifest.provenance['seed']!;
}

/** Write points of publishing over an existing bundle: from the layout and the files the bundle has. */
function writePoints(out: string): number {
  const manifest = JSON.parse(fs.readFileSync(path.join(out, MANIFEST_FILE), 'utf8')) as Manifest;
  return bundleWritePoints(Object.keys(manifest.files).length + 1, true);
}

test('every file of a bundle is a name of the layout, and the fake bundle has every entry the layout orders', () => {
  const out = path.join(tmp(), 'out');
  publishFakeBundle(parts, out, 0);
  const manifest = JSON.parse(fs.readFileSync(path.join(out, MANIFEST_FILE), 'utf8')) as Manifest;
  const files = Object.keys(manifest.files);
  assert.deepEqual(
    files.filter((f) => !isLayoutPath(f)),
    [],
  );
  const tops = new Set(files.map((f) => f.split('/')[0]!));
  assert.deepEqual(
    BUNDLE_ORDER.filter((entry) => entry !== MANIFEST_FILE && !tops.has(entry)),
    [],
    'the fake bundle misses an entry',
  );
  assert.ok(!isLayoutPath('model.onnx.tmp') && !isLayoutPath('triton/x/2/model.onnx') && isLayoutPath('triton/x/1/model.onnx'));
});

test('a full disk at each write point: a WriteError before the switch leaves the old bundle; after it, the new one is live', () => {
  const dir = tmp();
  const out = path.join(dir, 'out');
  publishFakeBundle(parts, out, 0);
  const points = writePoints(out);
  let failed = 0;
  try {
    for (let n = 1; n <= points + 1; n++) {
      const old = liveSeed(out);
      injectFault(`enospc@bundle:${n}`);
      let error: unknown;
      try {
        publishFakeBundle(parts, out, n);
      } catch (err) {
        error = err;
      }
      injectFault(undefined);
      if (error) {
        failed++;
        assert.ok(error instanceof WriteError && /ENOSPC/.test(error.message), `point ${n}: ${String(error)}`);
        assert.equal(liveSeed(out), old, `point ${n}: the old bundle stays`);
      } else assert.equal(liveSeed(out), String(n), `point ${n}: published`);
      const beside = fs.readdirSync(dir).filter((f) => f !== 'out');
      assert.ok(beside.length <= 2, `point ${n}: leftovers ${beside.join(' ')}`); // the live version, at most one old one
    }
  } finally {
    injectFault(undefined);
  }
  // every point but the last two (the old version's removal, after the switch; one past the end) fails the write
  assert.equal(failed, points - 1, `${points} write points from the layout`);
});
