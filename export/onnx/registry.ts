/** The one table of plain layer kinds the exporter can lower. Adding a kind = one file + one line here. */
import { Dense } from '../../src/nn/dense';
import { Conv2d } from '../../src/nn/conv2d';
import { BatchNorm } from '../../src/nn/batchNorm';
import { Clip, HardSigmoid, HardSwish, LeakyReLU, ReLU, Sigmoid, Tanh } from '../../src/nn/activation';
import { AvgPool, GlobalAvgPool, MaxPool } from '../../src/nn/pooling';
import { ChannelsFirstFlatten, Flatten, ImageReshape } from '../../src/nn/reshape';
import { Standardize } from '../../src/nn/standardize';
import { Sequential } from '../../src/nn/sequential';
import { Residual } from '../../src/nn/residual';
import { Embedding } from '../../src/nn/embedding';
import { LSTM } from '../../src/nn/lstm';
import { Graph } from '../../src/nn/graph';
import { Pad2d } from '../../src/nn/pad';
import { Add, Concatenate, Merge, Multiply } from '../../src/nn/merge';
import { Layer } from '../../src/nn/layer';
import { ExportError } from '../../src/errors';
import { lowering, LoweringContext, LoweringEntry, OnnxValue } from './lowering';
import { lowerDense } from './lowerings/dense';
import { lowerConv2d } from './lowerings/conv2d';
import { lowerBatchNorm } from './lowerings/batchNorm';
import { lowerClip, lowerHardSigmoid, lowerHardSwish, lowerLeakyReLU, lowerReLU, lowerSigmoid, lowerTanh } from './lowerings/activation';
import { lowerAvgPool, lowerGlobalAvgPool, lowerMaxPool } from './lowerings/pooling';
import { lowerChannelsFirstFlatten, lowerFlatten, lowerImageReshape } from './lowerings/reshape';
import { lowerStandardize } from './lowerings/standardize';
import { lowerResidual, lowerSequential } from './lowerings/containers';
import { lowerEmbedding } from './lowerings/embedding';
import { lowerLSTM } from './lowerings/lstm';
import { lowerPad2d } from './lowerings/pad';
import { graphLowering, lowerAdd, lowerConcatenate, lowerMultiply, MergeLowering } from './lowerings/graph';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type MergeClass<M extends Merge> = abstract new (...args: any[]) => M;

export interface MergeLoweringEntry {
  readonly type: MergeClass<Merge>;
  readonly lower: MergeLowering<Merge>;
}

function mergeLowering<M extends Merge>(type: MergeClass<M>, lower: MergeLowering<M>): MergeLoweringEntry {
  return { type, lower: lower as MergeLowering<Merge> };
}

/** The merges a Graph node can hold (several inputs), beside the layers. */
export const MERGE_LOWERINGS: readonly MergeLoweringEntry[] = [
  mergeLowering(Add, lowerAdd),
  mergeLowering(Multiply, lowerMultiply),
  mergeLowering(Concatenate, lowerConcatenate),
];

function lowerMerge(merge: Merge, inputs: readonly OnnxValue[], ctx: LoweringContext): OnnxValue {
  const entry = MERGE_LOWERINGS.find((e) => merge.constructor === e.type);
  if (!entry)
    throw new ExportError(
      `merge '${merge.name}' (${merge.kind}) has no ONNX lowering; supported: ${MERGE_LOWERINGS.map((e) => e.type.name).join(', ')}`,
    );
  return entry.lower(merge, inputs, ctx);
}

export const LOWERINGS: readonly LoweringEntry[] = [
  lowering(Dense, lowerDense),
  lowering(Conv2d, lowerConv2d),
  lowering(BatchNorm, lowerBatchNorm),
  lowering(ReLU, lowerReLU),
  lowering(Clip, lowerClip),
  lowering(LeakyReLU, lowerLeakyReLU),
  lowering(Sigmoid, lowerSigmoid),
  lowering(Tanh, lowerTanh),
  lowering(HardSigmoid, lowerHardSigmoid),
  lowering(HardSwish, lowerHardSwish),
  lowering(MaxPool, lowerMaxPool),
  lowering(AvgPool, lowerAvgPool),
  lowering(GlobalAvgPool, lowerGlobalAvgPool),
  lowering(Flatten, lowerFlatten),
  lowering(ChannelsFirstFlatten, lowerChannelsFirstFlatten),
  lowering(ImageReshape, lowerImageReshape),
  lowering(Standardize, lowerStandardize),
  lowering(Pad2d, lowerPad2d),
  lowering(Sequential, lowerSequential),
  lowering(Residual, lowerResidual),
  lowering(Graph, graphLowering(lowerMerge)),
  lowering(Embedding, lowerEmbedding),
  lowering(LSTM, lowerLSTM),
];

export function findLowering(layer: Layer): LoweringEntry | undefined {
  return LOWERINGS.find((entry) => layer.constructor === entry.type);
}

export function supportedKinds(): string[] {
  return LOWERINGS.map((e) => e.type.name);
}
