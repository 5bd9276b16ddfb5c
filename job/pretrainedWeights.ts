/**
 * `model.init`: start a run from pretrained weights, the paper's fine-tuning regime. The source is
 * an ONNX file or a tfjs model.json (imported as a plain model), or a latephase bundle folder or
 * checkpoint (its run's model rebuilt from the stored config, loaded, and its members folded with
 * that run's fold options). Its tensors fill the tensors of the *plain* version of this run's model
 * (the same recipe without late-phase kinds), before release: by name when every name is there,
 * else by position when every shape agrees (the same architecture named otherwise, e.g. a
 * latephase model from its own ONNX export). Late-phase kinds then start from these values; what
 * only a kind adds (rank-1 factors) keeps its initial value. Every tensor on either side must be
 * used or excluded by pattern: a silently partial load is the fine-tuning bug this guards against.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { Model } from '../src/nn/model';
import { NamedVariable } from '../src/nn/layer';
import { NamePatterns } from '../src/nn/namePattern';
import { buildFromRecipe } from '../src/nn/modelRecipe';
import { foldMembers } from '../src/latephase/fold';
import { checkpointVariables, loadCheckpoint, readCheckpointHeader } from '../src/train/checkpoint';
import { resolveConfig } from '../src/config/resolve';
import { JobConfigInput } from '../src/config/schema';
import { loadJobData } from '../src/config/dataSource';
import { ConfigError, DataError } from '../src/errors';
import { importModelFile } from '../import/importModel';
import { CHECKPOINT_FILE } from '../export/bundle/layout';
import { ModelPlan, planRun } from './runPlan';

/** The tensors of a pretrained model: names, shapes and values, in model order. */
interface Pretrained {
  readonly description: string;
  readonly tensors: ReadonlyArray<{ readonly name: string; readonly shape: readonly number[]; readonly values: Float32Array }>;
}

/**
 * Fill `model` (this run's, not yet released) from `plan.model.init`; returns the log line. The
 * plain twin comes from `plan.model.recipe(classes, {})`. A ConfigError names what does not fit,
 * before anything in `model` changes.
 */
export async function initFromPretrained(model: Model, plan: ModelPlan, classes: number): Promise<string> {
  const init = plan.init;
  if (!init) throw new ConfigError('no model.init to load');
  const source = await readPretrained(init.from);
  const twin = buildFromRecipe(plan.recipe(classes, {}));
  let targets: NamedVariable[];
  try {
    targets = checkpointVariables(twin);
  } finally {
    twin.dispose();
  }
  const exclude = init.exclude.length ? new NamePatterns(init.exclude, 'model.init.exclude') : null;
  const wanted = targets.filter((t) => !exclude?.matches(t.name));
  const offered = source.tensors.filter((t) => !exclude?.matches(t.name));
  exclude?.checkAllMatched(
    'tensor',
    targets.map((t) => t.name),
  );
  const { pairs, how } = matchTensors(wanted, offered, source.description);
  const mine = new Map(checkpointVariables(model).map((v) => [v.name, v.variable]));
  const assignments = pairs.map(({ target, values }) => {
    const variable = mine.get(target.name);
    if (!variable)
      throw new ConfigError(
        `model.init: '${target.name}' of the plain model is not a tensor of the late-phase one (a kind such as templates replaces it); choose other late-phase kinds to fine-tune from pretrained weights`,
      );
    return { variable, values };
  });
  for (const { variable, values } of assignments) tf.tidy(() => variable.assign(tf.tensor(values, variable.shape, 'float32')));
  const kept = [...mine.keys()].filter((n) => !pairs.some((p) => p.target.name === n));
  return (
    `init: ${pairs.length} tensors from ${source.description} (matched ${how})` +
    (kept.length ? `; ${kept.length} keep their initial values (${kept.slice(0, 4).join(', ')}${kept.length > 4 ? ', ...' : ''})` : '')
  );
}

interface Pair {
  readonly target: NamedVariable;
  readonly values: Float32Array;
}

/** Pairs by name, else by position; a ConfigError naming the first tensors that do not fit. */
function matchTensors(wanted: readonly NamedVariable[], offered: Pretrained['tensors'], what: string): { pairs: Pair[]; how: string } {
  const byName = new Map(offered.map((t) => [t.name, t]));
  const shape = (s: readonly number[]): string => `[${s.join(', ')}]`;
  if (wanted.every((t) => byName.has(t.name))) {
    const unused = offered.filter((t) => !wanted.some((w) => w.name === t.name)).map((t) => t.name);
    if (unused.length)
      throw new ConfigError(
        `model.init: ${what} has tensors this model lacks: ${unused.slice(0, 5).join(', ')}${unused.length > 5 ? ', ...' : ''} (exclude them with model.init.exclude if that is meant)`,
      );
    const pairs = wanted.map((target) => {
      const t = byName.get(target.name)!;
      if (shape(t.shape) !== shape(target.variable.shape))
        throw new ConfigError(
          `model.init: '${target.name}' is ${shape(t.shape)} in ${what}, ${shape(target.variable.shape)} in this model (a head of another class count? exclude it: model.init.exclude)`,
        );
      return { target, values: t.values };
    });
    return { pairs, how: 'by name' };
  }
  const sameShapes = wanted.length === offered.length && wanted.every((t, i) => shape(t.variable.shape) === shape(offered[i]!.shape));
  if (sameShapes)
    return { pairs: wanted.map((target, i) => ({ target, values: offered[i]!.values })), how: 'by position: the names differ, every shape agrees' };
  const missing = wanted.filter((t) => !byName.has(t.name)).map((t) => `${t.name} ${shape(t.variable.shape)}`);
  const batchNorm = wanted.some((t) => /runningVar$/.test(t.name)) && !offered.some((t) => /runningVar$/.test(t.name));
  throw new ConfigError(
    `model.init: ${what} does not fit this model: ${wanted.length} tensors wanted, ${offered.length} offered; not found by name: ${missing.slice(0, 4).join(', ')}${missing.length > 4 ? ', ...' : ''}, and the shapes differ in order` +
      (batchNorm
        ? '. The source has no BatchNorm statistics: an eval-mode export folds BatchNorm into the convolutions; export it keeping BatchNormalization (torch.onnx.export(..., training=TrainingMode.PRESERVE, do_constant_folding=False), latephase: export.foldBatchNorm false)'
        : ''),
  );
}

/** The plain tensors of the model `from` names; a ConfigError/DataError naming it when it cannot be read. */
async function readPretrained(from: string): Promise<Pretrained> {
  if (!fs.existsSync(from)) throw new ConfigError(`model.init: '${from}' does not exist`);
  const isDir = fs.statSync(from).isDirectory();
  if (isDir || from.endsWith('.ckpt')) return fromCheckpoint(isDir ? path.join(from, CHECKPOINT_FILE) : from);
  const model = importModelFile(from, {}).model;
  try {
    return { description: from, tensors: tensorsOf(model) };
  } finally {
    model.dispose();
  }
}

/** A latephase run's checkpoint: its model rebuilt from the stored config, loaded, folded as that run folds. */
async function fromCheckpoint(file: string): Promise<Pretrained> {
  if (!fs.existsSync(file))
    throw new ConfigError(`model.init: '${path.dirname(file)}' is a folder without ${CHECKPOINT_FILE} (not a latephase bundle)`);
  const { meta } = readCheckpointHeader(file);
  const stored = meta['config'];
  if (typeof stored !== 'string') throw new DataError(`model.init: checkpoint '${file}' holds no config (write it with a training run)`);
  const plan = planRun(resolveConfig(JSON.parse(stored) as JobConfigInput, `stored in '${file}'`));
  // Checkpoints record their class count; older ones need the source run's data to know it.
  const classes = typeof meta['classes'] === 'number' ? meta['classes'] : (await loadJobData(plan.data)).train.classes;
  const model = buildFromRecipe(plan.model.recipe(classes));
  try {
    loadCheckpoint(model, file);
    const folded = foldMembers(model, plan.fold);
    try {
      return { description: file, tensors: tensorsOf(folded) };
    } finally {
      folded.dispose();
    }
  } finally {
    model.dispose();
  }
}

function tensorsOf(model: Model): Pretrained['tensors'] {
  return checkpointVariables(model).map((v) => ({ name: v.name, shape: v.variable.shape, values: new Float32Array(v.variable.dataSync()) }));
}
