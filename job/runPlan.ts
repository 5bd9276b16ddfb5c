/**
 * A validated job config becomes one immutable run plan: every setting train, bundle, compare and
 * the post-training steps read, with what is derived resolved once (K and T0 under
 * `latePhase.enabled`, ghost batches, the fold options with the kind registry's defaults, the
 * output folder, the model recipe). After `planRun` nothing reads the
 * config's fields again: it travels only as the run's record (config.json, checkpoints) and is
 * compared on resume. The defaults themselves are the schema's (src/config/schema.ts).
 *
 * It lives in job/ rather than src/config because the model recipe names the zoo (models/), which
 * src/ never imports.
 */
import * as path from 'path';
import { zooRecipe } from '../models/index';
import { ModelRecipe } from '../src/nn/modelRecipe';
import { TrainConfig } from '../src/train/trainer';
import { defaultGhostBatches } from '../src/train/gradients';
import { Augmentation } from '../src/data/augment';
import { LatePhaseChoice, resolvedFoldOptions } from '../src/latephase/kindRegistry';
import { FoldOptions } from '../src/latephase/latePhaseLayer';
import { ConfigError } from '../src/errors';
import { JOB_SCHEMA, JobConfig, JobConfigInput } from '../src/config/schema';

/** Plain data made read-only all the way down (mapped types keep tuples tuples). */
type DeepReadonly<T> = T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

export interface ModelPlan {
  /**
   * For reports: 'the mnist-cnn model', 'the model built by /abs/net.js (buildModel)', 'the model
   * imported from /abs/net.onnx', each followed by ', initialised from /abs/pretrained.onnx' with an init.
   */
  readonly description: string;
  /**
   * The recipe for a data set of `dataClasses` classes (the config's `classes` wins when given),
   * with the run's late-phase kinds or `latePhase` (`{}`: the plain model, whose tensors an init fills).
   */
  readonly recipe: (dataClasses: number, latePhase?: LatePhaseChoice) => ModelRecipe;
  /** Pretrained weights to start from (job/pretrainedWeights.ts), absolute. */
  readonly init?: { readonly from: string; readonly exclude: readonly string[] };
}

export interface RunPlan {
  readonly name: string;
  /** The output folder, absolute. */
  readonly outDir: string;
  readonly backend: string | undefined;
  readonly data: DeepReadonly<JobConfig['data']>;
  readonly model: ModelPlan;
  /** Whether the run has a late phase; when not, `train.k` is 1 and `train.t0` the run's epochs. */
  readonly late: boolean;
  readonly kinds: LatePhaseChoice;
  /** Every fold option the chosen kinds read, defaults filled in from the kind registry. */
  readonly fold: Readonly<FoldOptions>;
  /** Algorithm 1's settings, without augmentation (that needs the data's shape: `trainConfigFor`). */
  readonly train: TrainConfig;
  readonly augment: DeepReadonly<NonNullable<JobConfig['augment']>> | undefined;
  readonly workers: 'auto' | number;
  /** Minibatches between progress checkpoints (0: epoch ends only). */
  readonly checkpointEvery: number;
  readonly evaluation: DeepReadonly<JobConfig['evaluation']>;
  readonly export: DeepReadonly<JobConfig['export']>;
  readonly verify: DeepReadonly<JobConfig['verify']>;
  /** The resolved config this plan was made from: written to the bundle and checkpoints, compared on resume. */
  readonly record: JobConfig;
}

/** The one step from a validated config to what a run does. */
export function planRun(config: JobConfig): RunPlan {
  const cfg = structuredClone(config); // the plan is frozen; the caller's object is not
  const late = cfg.latePhase.enabled;
  const kinds = late ? cfg.latePhase.kinds : {};
  return deepFreeze({
    name: cfg.name,
    outDir: path.resolve(cfg.output ?? path.join('out', cfg.name)),
    backend: cfg.backend,
    data: cfg.data,
    model: modelPlan(cfg),
    late,
    kinds: cfg.latePhase.kinds,
    fold: resolvedFoldOptions(kinds, cfg.latePhase.fold),
    train: trainConfigOf(cfg),
    augment: cfg.augment && (cfg.augment.crop > 0 || cfg.augment.flip || cfg.augment.resizedCrop) ? cfg.augment : undefined,
    workers: cfg.workers,
    checkpointEvery: cfg.checkpoint.everySteps,
    evaluation: cfg.evaluation,
    export: cfg.export,
    verify: cfg.verify,
    record: cfg,
  });
}

/** Algorithm 1's settings from the config (plain training: t0 = epochs, K = 1). */
function trainConfigOf(cfg: JobConfig): TrainConfig {
  const late = cfg.latePhase.enabled;
  const s = cfg.schedule;
  return {
    epochs: cfg.epochs,
    t0: late ? cfg.latePhase.t0 : cfg.epochs,
    k: late ? cfg.latePhase.k : 1,
    sigma0: cfg.latePhase.sigma0,
    gammaTheta: cfg.latePhase.gammaTheta,
    batchSize: cfg.batchSize,
    seed: cfg.seed,
    shared: cfg.optimizer.shared,
    member: cfg.optimizer.members,
    schedule: s,
    lossCheckEvery: cfg.lossCheckEvery,
    ghostBatches: cfg.ghostBatches ?? defaultGhostBatches(cfg.batchSize),
    ...(cfg.swa && { swa: cfg.swa }),
    ...(cfg.optimizer.groups && {
      paramGroups: cfg.optimizer.groups.map((g) => ({ ...g, match: typeof g.match === 'string' ? [g.match] : g.match })),
    }),
  };
}

/** The importers' modules, which gradient workers load to rebuild an imported model. */
const IMPORTERS = {
  onnx: { module: require.resolve('../import/onnx/importOnnx'), exportName: 'buildImportedModel' },
  tfjs: { module: require.resolve('../import/tfjs/importTfjs'), exportName: 'buildImportedTfjsModel' },
} as const;

/** How the config's model is built, here and in every gradient worker: a zoo entry, the user's module, or an imported file. */
function modelPlan(cfg: JobConfig): ModelPlan {
  const built = builtModel(cfg);
  const given = cfg.model.init;
  if (!given) return built;
  const init =
    typeof given === 'string' ? { from: path.resolve(given), exclude: [] } : { from: path.resolve(given.from), exclude: given.exclude ?? [] };
  return { ...built, description: `${built.description}, initialised from ${init.from}`, init };
}

function builtModel(cfg: JobConfig): ModelPlan {
  const m = cfg.model;
  const kinds = cfg.latePhase.kinds;
  if ('onnx' in m || 'tfjs' in m) {
    const [format, given] = 'onnx' in m ? (['onnx', m.onnx] as const) : (['tfjs', m.tfjs] as const);
    const file = path.resolve(given);
    return {
      description: `the model imported from ${file}`,
      recipe: (_, latePhase = kinds) => ({ ...IMPORTERS[format], args: [file, { latePhase, seed: cfg.seed }] }),
    };
  }
  const seqLen = cfg.data.source === 'text' ? { seqLen: cfg.data.seqLen } : {};
  const options = (dataClasses: number, latePhase: LatePhaseChoice): Record<string, unknown> => ({
    seed: cfg.seed,
    latePhase,
    classes: m.classes ?? dataClasses,
    ...seqLen,
  });
  if ('zoo' in m) return { description: `the ${m.zoo} model`, recipe: (classes, latePhase = kinds) => zooRecipe(m.zoo, options(classes, latePhase)) };
  const module = path.resolve(m.module);
  return {
    description: `the model built by ${module} (${m.export})`,
    recipe: (classes, latePhase = kinds) => ({ module, exportName: m.export, args: [...m.args, options(classes, latePhase)] }),
  };
}

/** The plan's training settings for data of `featureShape` (augmentation needs the image shape). */
export function trainConfigFor(plan: RunPlan, featureShape: readonly number[]): TrainConfig {
  const augment = augmentationFor(plan, featureShape);
  return augment ? { ...plan.train, augment } : plan.train;
}

/** The plan's augmentation for examples of `featureShape` (the image shape from the data or the config); undefined when off. */
export function augmentationFor(plan: RunPlan, featureShape: readonly number[]): Augmentation | undefined {
  const a = plan.augment;
  if (!a) return undefined;
  const shape = a.imageShape ?? (featureShape.length === 3 ? (featureShape as [number, number, number]) : undefined);
  if (!shape) throw new ConfigError(`augment: the examples are flat [${featureShape.join(', ')}]; give augment.imageShape, e.g. [28, 28, 1]`);
  if (shape[0] * shape[1] * shape[2] !== featureShape.reduce((x, y) => x * y, 1))
    throw new ConfigError(`augment.imageShape [${shape.join(', ')}] does not hold the examples' [${featureShape.join(', ')}]`);
  if (a.crop >= Math.min(shape[0], shape[1]))
    throw new ConfigError(
      `augment.crop ${a.crop} is too large for ${shape[0]}x${shape[1]} images: the padding must be smaller than the image's sides`,
    );
  const r = a.resizedCrop;
  if (r && (r.scale[0] > r.scale[1] || r.ratio[0] > r.ratio[1]))
    throw new ConfigError(`augment.resizedCrop: scale [${r.scale.join(', ')}] and ratio [${r.ratio.join(', ')}] must each be [low, high]`);
  if (r && Math.min(shape[0], shape[1]) < 8)
    throw new ConfigError(`augment.resizedCrop: ${shape[0]}x${shape[1]} images are too small to crop and resize (8 pixels a side at least)`);
  return {
    crop: a.crop,
    flip: a.flip,
    imageShape: [shape[0], shape[1], shape[2]],
    ...(r && { resizedCrop: { scale: [r.scale[0], r.scale[1]], ratio: [r.ratio[0], r.ratio[1]] } }),
  };
}

/**
 * Algorithm 1's settings a job gets when it sets nothing: the schema's defaults (for code that calls
 * `trainLatePhase` directly and wants the CLI's behaviour).
 */
export const DEFAULT_TRAIN_CONFIG: TrainConfig = defaultTrainConfig();

function defaultTrainConfig(): TrainConfig {
  // ghost batches stay unset: trainLatePhase applies the same rule to whatever batch size a caller sets
  const { ghostBatches: _, ...train } = planRun(
    JOB_SCHEMA.parse({ model: { zoo: 'mlp' }, data: { source: 'mnist' } } satisfies JobConfigInput),
  ).train;
  return train;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
