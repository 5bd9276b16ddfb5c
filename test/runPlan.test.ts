/**
 * The run plan: a config is resolved once, every derived value is in the plan, and the schema is
 * the one source of defaults (the preset `run` uses states none of its own, and every default the
 * `run` flags print is the value the job gets without the flag).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planRun, DEFAULT_TRAIN_CONFIG } from '../job/runPlan';
import { RUN_FLAGS, runConfig } from '../cli/runCommand';
import { FlagValues } from '../cli/args';
import { applyOverride, presetConfig, resolveConfig } from '../src/config/resolve';
import { JOB_SCHEMA } from '../src/config/schema';
import { foldOptionSpecs } from '../src/latephase/kindRegistry';

const preset = (...sets: string[]): ReturnType<typeof resolveConfig> =>
  resolveConfig(
    sets.reduce((c, s) => applyOverride(c, s), presetConfig('mnist-cnn')),
    'test',
  );

test("`run` without flags is the mnist-cnn preset, and that preset is the schema's defaults (beside name, model and data it sets nothing)", () => {
  assert.deepEqual(runConfig({}), preset());
  const { name, model, data } = presetConfig('mnist-cnn');
  assert.deepEqual(preset(), resolveConfig({ name, model, data }, 'the schema defaults'));
});

/** What a run does (the plan without its record and recipe builder, which differ only in how a setting was written). */
const effect = (cfg: ReturnType<typeof preset>): object => ({ ...planRun(cfg), model: planRun(cfg).model.description, record: undefined });

test('every default a `run` flag states is what the job gets without the flag', () => {
  const base = runConfig({});
  let checked = 0;
  for (const [flag, spec] of Object.entries(RUN_FLAGS)) {
    const stated = /\(default ([^)\s]+)\)$/.exec(spec.help)?.[1];
    if (stated === undefined || spec.kind === 'boolean') continue;
    const value = spec.kind === 'string' ? stated : Number(stated);
    if (Number.isNaN(value) || flag === 'out' || flag === 'backend') continue; // 'all', a path, the environment's choice
    // --epochs moves t0 along when t0 is not given; name it so the comparison is of the flag alone
    const flags = { [flag]: value, ...(flag === 'epochs' && { t0: base.latePhase.t0 }) } as FlagValues<typeof RUN_FLAGS>;
    assert.deepEqual(effect(runConfig(flags)), effect(base), `--${flag} ${stated} (its stated default) changes the job`);
    checked++;
  }
  assert.ok(checked >= 8, `only ${checked} flags state a default`);
});

test('the plan resolves what the job derives: K and T0 under enabled, ghost batches, fold defaults from the kind registry, minLr', () => {
  const plan = planRun(preset());
  assert.equal(plan.late, true);
  assert.equal(plan.train.k, 5);
  assert.equal(plan.train.t0, 4);
  assert.equal(plan.train.ghostBatches, 2, 'batch 64: two ghost batches');
  const bnFold = foldOptionSpecs().find((s) => s.key === 'batchNorm')!;
  assert.deepEqual(plan.fold, { batchNorm: bnFold.values[0] }, "BatchNorm + head: BatchNorm's fold option, the registry's default");
  assert.deepEqual(plan.train.schedule, { kind: 'cosine', minLr: 0.02 / 50 });
  const minLr = (c: ReturnType<typeof preset>): number => (c.schedule.kind === 'cosine' ? c.schedule.minLr : Number.NaN);
  assert.equal(minLr(preset('optimizer.shared.lr=0.1')), 0.1 / 50, "minLr's default follows the shared lr");
  assert.equal(minLr(preset('schedule.minLr=0.003')), 0.003);

  const plain = planRun(preset('latePhase.enabled=false', 'batchSize=32'));
  assert.equal(plain.late, false);
  assert.equal(plain.train.k, 1);
  assert.equal(plain.train.t0, plain.train.epochs);
  assert.equal(plain.train.ghostBatches, 1);
  assert.deepEqual(plain.fold, {}, 'no late-phase kinds: nothing to fold');

  const rank1 = planRun(preset('latePhase.kinds={"rank1":true}', 'latePhase.fold.rank1=product'));
  assert.equal(rank1.fold['rank1'], 'product');
  assert.throws(() => planRun(preset('latePhase.fold.nope=x')), /fold option 'nope' is unknown/);
});

test('the plan is immutable and leaves the config it came from alone', () => {
  const cfg = preset();
  const plan = planRun(cfg);
  assert.ok(Object.isFrozen(plan) && Object.isFrozen(plan.train) && Object.isFrozen(plan.train.shared) && Object.isFrozen(plan.record));
  assert.throws(() => {
    (plan.train as { k: number }).k = 9;
  }, TypeError);
  assert.ok(!Object.isFrozen(cfg), "the caller's config stays theirs");
  assert.deepEqual(plan.record, cfg);
  assert.ok(plan.outDir.endsWith('out/mnist-cnn'));
});

test('DEFAULT_TRAIN_CONFIG is the schema defaults (ghost batches left to the batch size a caller sets)', () => {
  const schema = JOB_SCHEMA.parse({ model: { zoo: 'mlp' }, data: { source: 'mnist' } });
  assert.equal(DEFAULT_TRAIN_CONFIG.epochs, schema.epochs);
  assert.equal(DEFAULT_TRAIN_CONFIG.k, schema.latePhase.k);
  assert.equal(DEFAULT_TRAIN_CONFIG.t0, schema.latePhase.t0);
  assert.deepEqual(DEFAULT_TRAIN_CONFIG.shared, schema.optimizer.shared);
  assert.deepEqual(DEFAULT_TRAIN_CONFIG.schedule, schema.schedule);
  assert.equal(DEFAULT_TRAIN_CONFIG.ghostBatches, undefined);
});
