/** The data a job config names: its training and test sets, read by the data module's readers. */
import * as fs from 'fs';
import * as path from 'path';
import { Dataset, Examples, exampleCount, rowRange, rowView, splitDataset, splitIndices } from '../data/dataset';
import { decodeImageFolder, defaultImageCache, scanImageFolder } from '../data/imageFolder';
import { readCsv } from '../data/csv';
import { npyDataset, NpyArray, openNpy, openNpz } from '../data/npy';
import { readTextCorpora, sequenceDataset, splitCorpus } from '../data/text';
import { loadMnist } from '../data/mnist';
import { readIdxDataset } from '../data/idx';
import { readCifarBinary } from '../data/cifar';
import { ConfigError, DataError } from '../errors';
import { JobConfig } from './schema';

export interface JobData {
  readonly train: Examples;
  /** Held out from training: the data set's own test files, or a seeded split. */
  readonly test: Examples;
  readonly description: string;
  readonly labels?: readonly string[];
  /** What a deployer must do to an input before the model (image folders: decode, orient, resize, scale). */
  readonly preprocessing?: string;
  /** Inputs left out, counted (unreadable images with skipUnreadable, CSV rows with missing values). */
  readonly skipped?: { readonly count: number; readonly what: string; readonly examples: readonly string[] };
}

/** A data source's config, read-only as the run plan holds it. */
type DataConfig = JobConfig['data'];
type DeepReadonly<T> = T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

const FASHION_LABELS = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
const DIGIT_LABELS = Array.from({ length: 10 }, (_, d) => String(d));
const FASHION_INSTALL = 'apt-get install dataset-fashion-mnist';

/** The first `n` examples (all when n is undefined); more than the set holds is an error. */
function firstN<D extends Examples>(d: D, n: number | undefined, what: string): D {
  if (n === undefined) return d;
  if (n > exampleCount(d)) throw new DataError(`${what}: ${n} examples asked for, the data has ${exampleCount(d)}`);
  return rowView(d, rowRange(0, n)) as D;
}

/** The training and test sets a data config names (image folders are decoded into their cache first). */
export async function loadJobData(cfg: DeepReadonly<DataConfig>): Promise<JobData> {
  switch (cfg.source) {
    case 'imageFolder':
      return loadImageFolder(cfg);
    case 'csv':
      return loadCsv(cfg);
    case 'npy':
      return loadNpy(cfg);
    case 'mnist': {
      const { train, heldOut } = splitDataset(loadMnist(), cfg.trainCount, cfg.splitSeed);
      const t = firstN(train, cfg.trainSize, 'data.trainSize');
      const test = firstN(heldOut, cfg.testSize, 'data.testSize');
      return {
        train: t,
        test,
        description: `${t.y.length} training / ${test.y.length} held-out MNIST digits (mnist package, split seed ${cfg.splitSeed})`,
        labels: DIGIT_LABELS,
      };
    }
    case 'fashion-mnist': {
      const file = (name: string): string => path.join(cfg.dir, name);
      if (!fs.existsSync(file('train-images-idx3-ubyte.gz')))
        throw new DataError(`Fashion-MNIST is not installed in ${cfg.dir}: install it with \`${FASHION_INSTALL}\` (or set data.dir)`);
      const train = firstN(readIdxDataset(file('train-images-idx3-ubyte.gz'), file('train-labels-idx1-ubyte.gz')), cfg.trainSize, 'data.trainSize');
      const test = firstN(readIdxDataset(file('t10k-images-idx3-ubyte.gz'), file('t10k-labels-idx1-ubyte.gz')), cfg.testSize, 'data.testSize');
      return {
        train,
        test,
        description: `${train.y.length} training / ${test.y.length} test Fashion-MNIST images (${cfg.dir})`,
        labels: FASHION_LABELS,
      };
    }
    case 'idx': {
      const train = firstN(readIdxDataset(cfg.trainImages, cfg.trainLabels, cfg.classes), cfg.trainSize, 'data.trainSize');
      const test = firstN(readIdxDataset(cfg.testImages, cfg.testLabels, cfg.classes), cfg.testSize, 'data.testSize');
      return { train, test, description: `${train.y.length} training / ${test.y.length} test images from IDX files` };
    }
    case 'text': {
      const corpora = readTextCorpora(cfg.testFile ? [cfg.file, cfg.testFile] : [cfg.file], { bytes: cfg.bytes });
      const parts = corpora.length === 2 ? { train: corpora[0]!, test: corpora[1]! } : splitCorpus(corpora[0]!, cfg.testFraction);
      const windows = (c: typeof parts.train, what: string): Dataset => {
        try {
          return sequenceDataset(c, cfg.seqLen, cfg.stride ?? cfg.seqLen);
        } catch (err) {
          throw new DataError(`${what}: ${(err as Error).message}`, { cause: err });
        }
      };
      const train = firstN(windows(parts.train, `text '${cfg.file}' (training part)`), cfg.trainSize, 'data.trainSize');
      const test = firstN(windows(parts.test, `text '${cfg.testFile ?? cfg.file}' (held-out part)`), cfg.testSize, 'data.testSize');
      const vocab = parts.train.vocab;
      return {
        train,
        test,
        description: `${exampleCount(train)} training / ${exampleCount(test)} held-out windows of ${cfg.seqLen} symbols (vocabulary ${vocab.length}) from ${cfg.testFile ? `'${cfg.file}' and '${cfg.testFile}'` : `'${cfg.file}' (last ${cfg.testFraction} held out)`}`,
        labels: vocab,
      };
    }
    case 'cifar': {
      const files =
        cfg.variant === 'cifar10'
          ? { train: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`), test: ['test_batch.bin'] }
          : { train: ['train.bin'], test: ['test.bin'] };
      const at = (names: string[]): string[] => names.map((n) => path.join(cfg.dir, n));
      const train = firstN(readCifarBinary(at(files.train), { variant: cfg.variant }), cfg.trainSize, 'data.trainSize');
      const test = firstN(readCifarBinary(at(files.test), { variant: cfg.variant }), cfg.testSize, 'data.testSize');
      return { train, test, description: `${train.y.length} training / ${test.y.length} test ${cfg.variant} images (${cfg.dir})` };
    }
  }
}

/**
 * The data as the model takes it: flat pixels viewed as the model's [H, W, 1] image when the
 * sizes agree (IDX and the mnist package ship row-major single-channel pixels; several channels
 * in a flat row have no order to trust), and single-channel images as a flat-input model's rows, and the model's classes must be the data's. Anything else
 * is a ConfigError naming both shapes.
 */
export function dataForModel(
  data: JobData,
  model: { readonly name: string; readonly inputShape: readonly number[]; readonly outputShape: readonly number[] },
): JobData {
  const want = model.inputShape;
  const have = data.train.featureShape;
  const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
  const classes = model.outputShape[model.outputShape.length - 1];
  if (model.outputShape.length === 1 && classes !== data.train.classes)
    throw new ConfigError(`model '${model.name}' predicts ${classes} classes, the data has ${data.train.classes}`);
  if (have.join() === want.join()) return data;
  const oneChannel = (image: readonly number[], flat: readonly number[]): boolean =>
    image.length === 3 && image[2] === 1 && flat.length === 1 && size(image) === size(flat);
  if (oneChannel(want, have) || oneChannel(have, want)) {
    const view = (d: Examples): Examples => ({ ...d, featureShape: [...want] });
    return { ...data, train: view(data.train), test: view(data.test) };
  }
  throw new ConfigError(`model '${model.name}' takes examples of shape [${want.join(', ')}], the data's are [${have.join(', ')}]`);
}

/** A held-out part: the config's own test set, or a seeded `fraction` of the training set. */
function heldOut<D extends Examples>(
  train: D,
  test: D | undefined,
  fraction: number,
  seed: number,
): { train: Examples; test: Examples; split: string } {
  if (test) return { train, test, split: '' };
  const n = exampleCount(train);
  const keep = Math.round(n * (1 - fraction));
  if (keep < 1 || keep >= n)
    throw new DataError(`testFraction ${fraction} of ${n} examples leaves no ${keep < 1 ? 'training' : 'test'} examples; give a test set`);
  const parts = splitIndices(n, keep, seed);
  return { train: rowView(train, parts.train), test: rowView(train, parts.heldOut), split: ` (a seeded ${fraction} held out)` };
}

function sized(
  parts: { train: Examples; test: Examples },
  cfg: { readonly trainSize?: number; readonly testSize?: number },
): { train: Examples; test: Examples } {
  return { train: firstN(parts.train, cfg.trainSize, 'data.trainSize'), test: firstN(parts.test, cfg.testSize, 'data.testSize') };
}

async function loadImageFolder(cfg: Extract<DeepReadonly<DataConfig>, { source: 'imageFolder' }>): Promise<JobData> {
  const opts = {
    size: cfg.size,
    channels: cfg.channels,
    resize: cfg.resize,
    cache: cfg.cache === true ? defaultImageCache() : cfg.cache,
    skipUnreadable: cfg.skipUnreadable,
  };
  const scan = scanImageFolder(cfg.train);
  const train = await decodeImageFolder(scan, opts);
  const testScan = cfg.test ? scanImageFolder(cfg.test, scan.classNames) : undefined;
  const test = testScan ? await decodeImageFolder(testScan, opts) : undefined;
  const parts = sized(heldOut(train.data, test?.data, cfg.testFraction, cfg.splitSeed), cfg);
  const skipped = [...train.skipped, ...(test?.skipped.map((f) => `${cfg.test}/${f}`) ?? [])];
  const decoded = train.decoded + (test?.decoded ?? 0);
  const [h, w] = cfg.size;
  return {
    ...parts,
    description:
      `${exampleCount(parts.train)} training / ${exampleCount(parts.test)} held-out images of ${scan.classNames.length} classes from '${cfg.train}'` +
      `${cfg.test ? ` and '${cfg.test}'` : ` (a seeded ${cfg.testFraction} held out)`}, ${h}x${w}x${cfg.channels}; ` +
      (decoded
        ? `decoded ${decoded} in ${(train.seconds + (test?.seconds ?? 0)).toFixed(1)} s (${Math.round(decoded / Math.max(train.seconds + (test?.seconds ?? 0), 1e-3))} images/s)`
        : 'decoded images from the cache') +
      `, cache ${opts.cache === false ? 'off (a temporary folder)' : train.cacheDir}` +
      (scan.ignored ? `; ${scan.ignored} file(s) without an image extension ignored` : ''),
    labels: scan.classNames,
    preprocessing:
      `decode (PNG/JPEG/WebP...), apply EXIF orientation, flatten alpha on white, convert to ${cfg.channels === 1 ? 'grayscale (luminance)' : 'sRGB, RGB order'}, ` +
      (cfg.resize === 'crop'
        ? `resize the shorter side to ${Math.max(h, w)} keeping the aspect ratio and take the centre ${h}x${w}`
        : `resize to exactly ${h}x${w}`) +
      `, scale the 0-255 pixels by 1/255 to [0, 1] as float32 in the input's layout (normalisation beyond that is inside the graph)`,
    ...(skipped.length && { skipped: { count: skipped.length, what: 'unreadable images', examples: skipped.slice(0, 10) } }),
  };
}

async function loadCsv(cfg: Extract<DeepReadonly<DataConfig>, { source: 'csv' }>): Promise<JobData> {
  const opts = { label: cfg.label, missing: cfg.missing, ...(cfg.features && { features: cfg.features }) };
  const train = readCsv(cfg.train, opts);
  const test = cfg.test ? readCsv(cfg.test, { ...opts, classNames: train.classNames }) : undefined;
  const parts = sized(heldOut(train.data, test?.data, cfg.testFraction, cfg.splitSeed), cfg);
  const skipped = train.skipped + (test?.skipped ?? 0);
  return {
    ...parts,
    description: `${exampleCount(parts.train)} training / ${exampleCount(parts.test)} held-out rows of ${train.featureNames.length} features, ${train.classNames.length} classes ('${cfg.label}') from '${cfg.train}'${cfg.test ? ` and '${cfg.test}'` : ` (a seeded ${cfg.testFraction} held out)`}`,
    labels: train.classNames,
    preprocessing: `the ${train.featureNames.length} numeric columns in this order: ${train.featureNames.join(', ')}`,
    ...(skipped && { skipped: { count: skipped, what: 'CSV rows with a missing value', examples: [] } }),
  };
}

async function loadNpy(cfg: Extract<DeepReadonly<DataConfig>, { source: 'npy' }>): Promise<JobData> {
  const arrays = (given: string | { readonly x: string; readonly y: string }): { x: NpyArray; y: NpyArray; from: string } => {
    if (typeof given !== 'string') return { x: openNpy(given.x), y: openNpy(given.y), from: `'${given.x}' and '${given.y}'` };
    const all = openNpz(given);
    const x = all.get('x');
    const y = all.get('y');
    if (!x || !y)
      throw new DataError(
        `'${given}': an .npz with arrays 'x' and 'y' expected, it has ${[...all.keys()].join(', ') || 'none'} (np.savez(file, x=..., y=...))`,
      );
    return { x, y, from: `'${given}'` };
  };
  const opts = { ...(cfg.shape && { shape: cfg.shape }), ...(cfg.classes && { classes: cfg.classes }), ...(cfg.scale && { scale: cfg.scale }) };
  const a = arrays(cfg.train);
  const train = npyDataset(a.x, a.y, opts);
  const t = cfg.test ? arrays(cfg.test) : undefined;
  const test = t ? npyDataset(t.x, t.y, { ...opts, classes: train.classes }) : undefined;
  if (test && test.featureShape.join() !== train.featureShape.join())
    throw new DataError(`the test arrays' examples are [${test.featureShape.join(', ')}], the training arrays' [${train.featureShape.join(', ')}]`);
  const parts = sized(heldOut(train, test, cfg.testFraction, cfg.splitSeed), cfg);
  return {
    ...parts,
    description: `${exampleCount(parts.train)} training / ${exampleCount(parts.test)} held-out examples [${train.featureShape.join(', ')}], ${train.classes} classes, streamed from ${a.from}${t ? ` and ${t.from}` : ` (a seeded ${cfg.testFraction} held out)`}`,
    preprocessing: `x as stored${a.x.dtype === 'u1' && !cfg.scale ? ' (uint8) scaled by 1/255' : cfg.scale ? `, scaled by ${cfg.scale}` : ''}, channels last`,
  };
}
