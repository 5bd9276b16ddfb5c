/**
 * Every layer case through checkLayer (gradients against finite differences, ONNX export against
 * onnxruntime at batch 1 and 9, optimisation levels disabled and all, atol 1e-4 / rtol 1e-3), and
 * the coverage checks that make a missing case fail CI.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { Layer, walkLayers } from '../src/nn/layer';
import { LOWERINGS, MERGE_LOWERINGS } from '../export/onnx/registry';
import { Graph } from '../src/nn/graph';
import { Merge } from '../src/nn/merge';
import { latePhaseKinds } from '../src/latephase/kindRegistry';
import * as api from '../api/index';
import { checkLayer } from './checkLayer';
import { LATE_PHASE_CASES, LAYER_CASES } from './layerCases';
import * as fs from 'fs';
import * as path from 'path';
import { useBackend } from './helpers';

before(async () => {
  await useBackend('wasm');
});

for (const c of LAYER_CASES) {
  test(`checkLayer: ${c.name}`, async () => {
    await checkLayer(c.make, c.shape, c.opts);
  });
}

/** Every class in a case's layer tree (the layers checkLayer checks). */
function coveredClasses(): Set<unknown> {
  const seen = new Set<unknown>();
  for (const c of LAYER_CASES) {
    const layer = c.make();
    for (const l of walkLayers(layer)) seen.add(l.constructor);
    layer.dispose();
  }
  return seen;
}

test('coverage: every lowering in the registry has a checkLayer case (gradient and parity together)', () => {
  const covered = coveredClasses();
  assert.deepEqual(
    LOWERINGS.filter((e) => !covered.has(e.type)).map((e) => e.type.name),
    [],
  );
});

test('coverage: every merge a Graph node can hold has a checkLayer case', () => {
  const merges = new Set<unknown>();
  for (const c of LAYER_CASES) {
    const layer = c.make();
    for (const l of walkLayers(layer)) if (l instanceof Graph) l.nodes.forEach((n) => n.op instanceof Merge && merges.add(n.op.constructor));
    layer.dispose();
  }
  assert.deepEqual(
    MERGE_LOWERINGS.filter((e) => !merges.has(e.type)).map((e) => e.type.name),
    [],
  );
  const publicMerges = Object.values(api).filter((v) => typeof v === 'function' && v.prototype instanceof Merge);
  assert.deepEqual(
    publicMerges.filter((m) => !merges.has(m)).map((m) => (m as { name: string }).name),
    [],
    'a merge of the public API without a case',
  );
});

test('coverage: every layer class of the public API has a checkLayer case', () => {
  const covered = coveredClasses();
  const abstractBases = new Set<unknown>([api.StatelessLayer, api.WeightedLayer, api.MemberLayer, api.MemberUnit]);
  const layerClasses = Object.values(api).filter(
    (v): v is abstract new (...args: never[]) => Layer =>
      typeof v === 'function' &&
      v !== Merge &&
      !(v.prototype instanceof Merge) && // merges are covered above
      typeof (v.prototype as Partial<Layer> | undefined)?.forward === 'function' &&
      typeof (v.prototype as Partial<Layer>).outputShape === 'function',
  );
  assert.ok(layerClasses.length >= 15, `found ${layerClasses.length} layer classes`);
  assert.deepEqual(
    layerClasses.filter((c) => !abstractBases.has(c) && !covered.has(c)).map((c) => c.name),
    [],
  );
});

test('coverage: every built-in late-phase kind has a checkLayer case', () => {
  const used = new Set(LATE_PHASE_CASES.flatMap((c) => Object.keys(c.choice ?? {})));
  assert.deepEqual(
    latePhaseKinds()
      .map((k) => k.key)
      .filter((k) => !used.has(k)),
    [],
  );
});

test('explicit lists: the kinds index and the kind test-case index name every module of their folders, and nothing else', () => {
  const root = path.join(__dirname, '..', '..');
  for (const folder of ['src/latephase/kinds', 'test/kinds']) {
    const modules = fs
      .readdirSync(path.join(root, folder))
      .filter((f) => f.endsWith('.ts') && f !== 'index.ts')
      .map((f) => f.slice(0, -3))
      .sort();
    const index = fs.readFileSync(path.join(root, folder, 'index.ts'), 'utf8');
    const listed = [...index.matchAll(/^import (?:\{[^}]*\} from )?'\.\/([^']+)';$/gm)].map((m) => m[1]).sort();
    assert.deepEqual(listed, modules, `${folder}/index.ts lists the folder's modules`);
  }
});
