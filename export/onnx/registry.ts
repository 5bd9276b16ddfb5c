/** The one table of plain layer kinds the exporter can lower. Adding a kind = one file + one line here. */
import { Dense } from '../../src/nn/dense';
import { Conv2d } from '../../src/nn/conv2d';
import { BatchNorm } from '../../src/nn/batchNorm';
import { ReLU } from '../../src/nn/activation';
import { AvgPool, GlobalAvgPool, MaxPool } from '../../src/nn/pooling';
import { Flatten, ImageReshape } from '../../src/nn/reshape';
import { Standardize } from '../../src/nn/standardize';
import { Sequential } from '../../src/nn/sequential';
import { Residual } from '../../src/nn/residual';
import { Embedding } from '../../src/nn/embedding';
import { LSTM } from '../../src/nn/lstm';
import { Layer } from '../../src/nn/layer';
import { lowering, LoweringEntry } from './lowering';
import { lowerDense } from './lowerings/dense';
import { lowerConv2d } from './lowerings/conv2d';
import { lowerBatchNorm } from './lowerings/batchNorm';
import { lowerReLU } from './lowerings/activation';
import { lowerAvgPool, lowerGlobalAvgPool, lowerMaxPool } from './lowerings/pooling';
import { lowerFlatten, lowerImageReshape } from './lowerings/reshape';
import { lowerStandardize } from './lowerings/standardize';
import { lowerResidual, lowerSequential } from './lowerings/containers';
import { lowerEmbedding } from './lowerings/embedding';
import { lowerLSTM } from './lowerings/lstm';

export const LOWERINGS: readonly LoweringEntry[] = [
  lowering(Dense, lowerDense),
  lowering(Conv2d, lowerConv2d),
  lowering(BatchNorm, lowerBatchNorm),
  lowering(ReLU, lowerReLU),
  lowering(MaxPool, lowerMaxPool),
  lowering(AvgPool, lowerAvgPool),
  lowering(GlobalAvgPool, lowerGlobalAvgPool),
  lowering(Flatten, lowerFlatten),
  lowering(ImageReshape, lowerImageReshape),
  lowering(Standardize, lowerStandardize),
  lowering(Sequential, lowerSequential),
  lowering(Residual, lowerResidual),
  lowering(Embedding, lowerEmbedding),
  lowering(LSTM, lowerLSTM),
];

export function findLowering(layer: Layer): LoweringEntry | undefined {
  return LOWERINGS.find((entry) => layer.constructor === entry.type);
}

export function supportedKinds(): string[] {
  return LOWERINGS.map((e) => e.type.name);
}
