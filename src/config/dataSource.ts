/** The data a job config names: its training and test sets, read by the data module's readers. */
import * as fs from 'fs';
import * as path from 'path';
import { Dataset, splitDataset, subset } from '../data/dataset';
import { loadMnist } from '../data/mnist';
import { readIdxDataset } from '../data/idx';
import { readCifarBinary } from '../data/cifar';
import { DataError } from '../errors';
import { JobConfig } from './schema';

export interface JobData {
  readonly train: Dataset;
  /** Held out from training: the data set's own test files, or a seeded split. */
  readonly test: Dataset;
  readonly description: string;
  readonly labels?: readonly string[];
}

export const FASHION_LABELS = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
export const FASHION_INSTALL = 'apt-get install dataset-fashion-mnist';

/** The first `n` examples (all when n is undefined); more than the set holds is an error. */
function firstN(d: Dataset, n: number | undefined, what: string): Dataset {
  if (n === undefined) return d;
  if (n > d.y.length) throw new DataError(`${what}: ${n} examples asked for, the data has ${d.y.length}`);
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
      return {
        train: t,
        test: heldOut,
        description: `${t.y.length} training / ${heldOut.y.length} held-out MNIST digits (mnist package, split seed ${cfg.splitSeed})`,
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
