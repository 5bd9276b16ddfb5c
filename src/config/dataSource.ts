/** The data a job config names: its training and test sets, read by the data module's readers. */
import * as fs from 'fs';
import * as path from 'path';
import { Dataset, exampleCount, splitDataset, subset } from '../data/dataset';
import { readTextCorpora, sequenceDataset, splitCorpus } from '../data/text';
import { loadMnist } from '../data/mnist';
import { readIdxDataset } from '../data/idx';
import { readCifarBinary } from '../data/cifar';
import { ConfigError, DataError } from '../errors';
import { JobConfig } from './schema';

export interface JobData {
  readonly train: Dataset;
  /** Held out from training: the data set's own test files, or a seeded split. */
  readonly test: Dataset;
  readonly description: string;
  readonly labels?: readonly string[];
}

const FASHION_LABELS = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
const DIGIT_LABELS = Array.from({ length: 10 }, (_, d) => String(d));
const FASHION_INSTALL = 'apt-get install dataset-fashion-mnist';

/** The first `n` examples (all when n is undefined); more than the set holds is an error. */
function firstN(d: Dataset, n: number | undefined, what: string): Dataset {
  if (n === undefined) return d;
  if (n > exampleCount(d)) throw new DataError(`${what}: ${n} examples asked for, the data has ${exampleCount(d)}`);
  return subset(
    d,
    Array.from({ length: n }, (_, i) => i),
  );
}

export function loadJobData(cfg: JobConfig['data']): JobData {
  switch (cfg.source) {
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
 * in a flat row have no order to trust), and the model's classes must be the data's. Anything else
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
  if (have.length === 1 && want.length === 3 && want[2] === 1 && size(have) === size(want)) {
    const view = (d: Dataset): Dataset => ({ ...d, featureShape: [...want] });
    return { ...data, train: view(data.train), test: view(data.test) };
  }
  throw new ConfigError(`model '${model.name}' takes examples of shape [${want.join(', ')}], the data's are [${have.join(', ')}]`);
}
