/**
 * The public API of latephase, as documented in README.md:
 * build -> train (late phase) -> fold -> export ONNX -> verify -> bundle.
 * Internals that tests and tools need live behind `latephase/internal` (api/internal.ts).
 */
export {
  LatePhaseError,
  ConfigError,
  ShapeError,
  DataError,
  TrainingError,
  TrainingInterrupted,
  ExportError,
  VerificationError,
  UnsupportedModelError,
  WriteError,
} from '../src/errors';
export { selectBackend } from '../src/backend/selectBackend';
export type { BackendChoice, BackendReport } from '../src/backend/selectBackend';
export { useKernelThreads } from '../src/backend/kernelThreads';

// Layers and models
export { Rng } from '../src/nn/rng';
export { StatelessLayer } from '../src/nn/layer';
export type { Layer, Param, NamedVariable, ForwardContext } from '../src/nn/layer';
export { PlainWeight, plainWeight } from '../src/nn/weight';
export type { Weight, WeightRequest, WeightSource } from '../src/nn/weight';
export { WeightedLayer } from '../src/nn/weightedLayer';
export { Model } from '../src/nn/model';
export type { ModelMeta } from '../src/nn/model';
export { Dense } from '../src/nn/dense';
export type { DenseOptions } from '../src/nn/dense';
export { Conv2d } from '../src/nn/conv2d';
export type { Conv2dOptions, ConvGeometry, Padding } from '../src/nn/convGeometry';
export { BatchNorm } from '../src/nn/batchNorm';
export type { BatchNormConfig } from '../src/nn/batchNorm';
export { ReLU, Clip, LeakyReLU, Sigmoid, Tanh, HardSigmoid, HardSwish } from '../src/nn/activation';
export { MaxPool, AvgPool, GlobalAvgPool } from '../src/nn/pooling';
export { Flatten, ChannelsFirstFlatten, ImageReshape } from '../src/nn/reshape';
export { Pad2d } from '../src/nn/pad';
export { Standardize } from '../src/nn/standardize';
export { Sequential } from '../src/nn/sequential';
export { Residual } from '../src/nn/residual';
export { Graph, GRAPH_INPUT } from '../src/nn/graph';
export type { GraphNode } from '../src/nn/graph';
export { Merge, Add, Multiply, Concatenate } from '../src/nn/merge';
export { Embedding } from '../src/nn/embedding';
export { LSTM } from '../src/nn/lstm';
export { buildModel, zooRecipe, mnistCnn, mlp, wideResNet, resNet, charLstm } from '../models/index';
export type { ZooOptions } from '../models/index';
export { importOnnx } from '../import/onnx/importOnnx';
export { importTfjs } from '../import/tfjs/importTfjs';
export type { ImportOptions, ImportedModel, ImportReport, ImportedNode } from '../import/onnx/importOnnx';

// Late-phase weights: the kinds, the registry a new kind joins, members and folding
export type { LatePhaseLayer, LatePhaseWeight, FoldOptions } from '../src/latephase/latePhaseLayer';
export {
  registerLatePhaseKind,
  describeChoice,
  foldOptionSpecs,
  parseSwitch,
  parseLayerSelection,
  selectionMatcher,
} from '../src/latephase/kindRegistry';
export type { LayerSelection } from '../src/latephase/kindRegistry';
export type { LatePhaseKind, KindBuilder, FoldOptionSpec, LatePhaseChoice } from '../src/latephase/kindRegistry';
export { MemberWeight } from '../src/latephase/memberWeight';
export { MemberUnit } from '../src/latephase/memberUnit';
export { MemberLayer } from '../src/latephase/memberLayer';
export type { MemberTensorSpec } from '../src/latephase/memberSet';
export { LayerFactory } from '../src/latephase/layerFactory';
export { LatePhaseBatchNorm } from '../src/latephase/kinds/batchNorm';
export { latePhaseHead } from '../src/latephase/kinds/head';
export { FullWeight } from '../src/latephase/kinds/full';
export { Rank1Weight } from '../src/latephase/kinds/rank1';
export { TemplateBank, TemplateWeight } from '../src/latephase/kinds/templates';
export { selectMember, sharedParams, memberParams } from '../src/latephase/members';
export { foldMembers, foldMember } from '../src/latephase/fold';

// Training
export { trainLatePhase } from '../src/train/trainer';
export { DEFAULT_TRAIN_CONFIG, planRun } from '../job/runPlan';
export type { RunPlan, ModelPlan } from '../job/runPlan';
export type { TrainConfig, TrainOptions, TrainHooks, TrainControl, TrainResult, StepInfo, EpochInfo, CheckpointReason } from '../src/train/trainer';
export type { ParamGroupRule, LearningRate } from '../src/train/paramGroups';
export type { TrainSnapshot, TrainPosition, NamedTensor } from '../src/train/trainingState';
export type { SwaConfig } from '../src/train/swa';
export { autoWorkers } from '../src/train/dataParallel';
export type { DataParallelOptions } from '../src/train/dataParallel';
export { buildFromRecipe } from '../src/nn/modelRecipe';
export type { ModelRecipe } from '../src/nn/modelRecipe';
export type { SgdConfig } from '../src/train/sgd';
export type { Schedule } from '../src/train/schedule';
export { saveCheckpoint, loadCheckpoint, readCheckpointHeader } from '../src/train/checkpoint';
export type { CheckpointInfo } from '../src/train/checkpoint';

// Data and evaluation
export { loadMnist } from '../src/data/mnist';
export { splitDataset, subset, featureRows, rowView } from '../src/data/dataset';
export type { Dataset, StreamedDataset, Examples } from '../src/data/dataset';
export { scanImageFolder, decodeImageFolder } from '../src/data/imageFolder';
export type { ImageFolderOptions, ImageFolderScan, DecodedImages } from '../src/data/imageFolder';
export { readCsv } from '../src/data/csv';
export type { CsvOptions, CsvData } from '../src/data/csv';
export { openNpy, openNpz, npyDataset } from '../src/data/npy';
export type { NpyArray, NpyDataOptions } from '../src/data/npy';
export { readTextCorpus, sequenceDataset } from '../src/data/text';
export type { TextCorpus } from '../src/data/text';
export { readCifarBinary } from '../src/data/cifar';
export { readIdxDataset } from '../src/data/idx';
export { accuracy } from '../src/eval/accuracy';
export { evaluateMembers } from '../src/eval/ensemble';
export type { EnsembleReport } from '../src/eval/ensemble';
export { bitsPerCharacter } from '../src/eval/crossEntropy';

// The training job: one validated config in, a bundle out
export { JOB_SCHEMA } from '../src/config/schema';
export type { JobConfig, JobConfigInput } from '../src/config/schema';
export { resolveConfig, loadConfigFile, presetConfig, applyOverride } from '../src/config/resolve';
export { PRESETS } from '../src/config/presets';
export type { Preset } from '../src/config/presets';
export { runTrainJob } from '../job/trainJob';
export type { RunSummary, JobMetrics, JobOptions } from '../job/trainJob';
export { classMetrics, auroc, entropy, probabilities, memberProbabilities } from '../src/eval/metrics';
export type { ClassMetrics, ReliabilityBin } from '../src/eval/metrics';

// Export, verification, bundle
export { exportOnnx, OPSET, IR_VERSION } from '../export/onnx/exportOnnx';
export type { ExportOptions, OnnxExport, TensorSignature, OutputSignature, OutputRole } from '../export/onnx/exportOnnx';
export { verifyExport, assertVerified } from '../export/verify/verify';
export type { VerificationReport, VerifyOptions, InputSet, CaseResult } from '../export/verify/verify';
export { writeBundle } from '../export/bundle/bundle';
export type { Manifest, BundleExtras, BundleEvaluation, RunRecord, ModelFacts } from '../export/bundle/bundle';
export { verifyPrecision } from '../export/verify/verifyPrecision';
export type { PrecisionReport } from '../export/verify/verifyPrecision';
export { splitExternalData, writeModelFiles } from '../export/onnx/passes/externalData';
export { exportEnsemble } from '../export/onnx/exportEnsemble';
export type { EnsembleExportOptions } from '../export/onnx/exportEnsemble';
export { verifyEnsembleExport, ensembleInvariants } from '../export/verify/verifyEnsemble';
export type { EnsembleInvariants } from '../export/verify/verifyEnsemble';
export { verifyOnnxFile } from '../export/verify/verifyFile';
export type { VerifyFileOptions, FileVerificationReport, FileCase } from '../export/verify/verifyFile';
export type { OutputStats } from '../export/verify/outputStats';
export { inspectOnnx } from '../export/verify/inspect';
export type { Inspection, ValueSignature } from '../export/verify/inspect';
export type { GoldenSet, NamedArray } from '../export/verify/golden';
export { verifyBundle } from '../export/bundle/verifyBundle';
export type { BundleCheck } from '../export/bundle/verifyBundle';
