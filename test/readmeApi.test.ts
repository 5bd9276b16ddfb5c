/** The README's API example, extracted from README.md and run as written through the package's own name. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { readmeExampleScript, readmeExampleSource, typeErrors } from './readmeExample';

const ROOT = path.join(__dirname, '..', '..');

test('the README example type-checks against the public API', () => {
  // Placed in the repository so that `latephase` resolves to this package (exports map, self-reference).
  const dir = fs.mkdtempSync(path.join(ROOT, 'dist', 'readme-'));
  const errors = typeErrors(dir, { 'example.mts': readmeExampleSource() }); // an ES module: top-level await is allowed
  fs.rmSync(dir, { recursive: true });
  assert.deepEqual(errors, []);
});

test('the README example runs: build, train, fold, export, verify, bundle', () => {
  const dir = fs.mkdtempSync(path.join(ROOT, 'dist', 'readme-'));
  fs.writeFileSync(path.join(dir, 'example.js'), readmeExampleScript());
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-readme-'));
  const r = spawnSync(process.execPath, [path.join(dir, 'example.js')], {
    cwd: work,
    encoding: 'utf8',
    env: { ...process.env, LATEPHASE_BACKEND: 'wasm' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(fs.readdirSync(path.join(work, 'out', 'tiny')).sort(), ['manifest.json', 'model.onnx', 'verification.json']);
  const manifest = JSON.parse(fs.readFileSync(path.join(work, 'out', 'tiny', 'manifest.json'), 'utf8')) as { verification: { pass: boolean } };
  assert.equal(manifest.verification.pass, true);
  fs.rmSync(dir, { recursive: true });
  fs.rmSync(work, { recursive: true });
});
