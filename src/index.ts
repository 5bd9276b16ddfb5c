/** Public API of latephase: build -> train (late phase) -> fold -> export ONNX -> verify -> bundle. */
export * from './errors';
export { selectBackend, describeBackend, parseBackendChoice, BACKEND_LADDER } from './backend/selectBackend';
export type { BackendChoice, BackendReport, BackendAttempt } from './backend/selectBackend';

export { Rng } from './nn/rng';
export { TRAIN, EVAL, walkLayers, StatelessLayer } from './nn/layer';
export type { Layer, Param, ForwardContext } from './nn/layer';
export { Model, mapLayerTree } from './nn/model';
export type { ModelMeta } from './nn/model';
export { Dense } from './nn/dense';
export { Conv2d } from './nn/conv2d';
export type { Conv2dOptions, Padding } from './nn/conv2d';
export { BatchNorm, BN_EPSILON, BN_MOMENTUM } from './nn/batchNorm';
export type { BatchNormConfig } from './nn/batchNorm';
export { ReLU } from './nn/activation';
export { MaxPool, AvgPool, GlobalAvgPool } from './nn/pooling';
export { Flatten, ImageReshape } from './nn/reshape';
export { Standardize } from './nn/standardize';
export { Sequential } from './nn/sequential';
export { Residual } from './nn/residual';
export { Embedding } from './nn/embedding';
export { LSTM, lstmForward } from './nn/lstm';

export { isLatePhase } from './latephase/latePhaseLayer';
export type { LatePhaseLayer, FoldOptions, MemberSelection } from './latephase/latePhaseLayer';
export { MemberSet } from './latephase/memberSet';
export { LatePhaseBatchNorm } from './latephase/latePhaseBatchNorm';
export { LatePhaseDense } from './latephase/latePhaseDense';
export { latePhaseLayers, memberCount, releaseMembers, selectMember, sharedParams, memberParams } from './latephase/members';
export { foldMembers, isPlain } from './latephase/fold';
export { MemberLayer } from './latephase/memberLayer';
export { Rank1Dense, Rank1Conv2d, foldRank1 } from './latephase/rank1';
export { Rank1LSTM } from './latephase/rank1Lstm';
export { TemplateBank, TemplateConv2d, TemplateDense } from './latephase/templateBank';
export { LatePhaseConv2d } from './latephase/latePhaseConv2d';
export { LatePhaseLSTM } from './latephase/latePhaseLstm';

export { trainLatePhase, DEFAULT_TRAIN_CONFIG, checkTrainConfig, resolveGammaTheta } from './train/trainer';
export type { TrainConfig, TrainHooks, TrainResult, StepInfo } from './train/trainer';
export { autoWorkers } from './train/dataParallel';
export type { DataParallelOptions } from './train/dataParallel';
export { buildFromRecipe } from './nn/modelRecipe';
export type { ModelRecipe } from './nn/modelRecipe';
export { Sgd } from './train/sgd';
export type { SgdConfig } from './train/sgd';
export { learningRate } from './train/schedule';
export type { Schedule } from './train/schedule';
export { softmaxCrossEntropy } from './nn/loss';
export { saveCheckpoint, loadCheckpoint, checkpointVariables } from './train/checkpoint';
export type { CheckpointInfo } from './train/checkpoint';

export { loadMnist } from './data/mnist';
export { splitDataset, subset, checkDataset, featureTensor, oneHotLabels } from './data/dataset';
export { readTextCorpus, sequenceDataset } from './data/text';
export { readCifarBinary } from './data/cifar';
export { readIdx, readIdxDataset } from './data/idx';
export type { TextCorpus } from './data/text';
export type { Dataset } from './data/dataset';
export { accuracy } from './eval/accuracy';
export { evaluateMembers } from './eval/ensemble';
export { crossEntropy, bitsPerCharacter } from './eval/crossEntropy';
export { parameterCounts } from './eval/parameterCounts';
export type { ParameterCounts } from './eval/parameterCounts';
export type { EnsembleReport } from './eval/ensemble';
export { writeFileAtomic } from './io/atomicWrite';

export { buildModel, zooRecipe, mnistCnn, mlp, wideResNet, resNet, LayerFactory, BN_AND_HEAD, NO_LATE_PHASE } from '../models/index';
export { charLstm } from '../models/charLstm';
export type { LatePhaseChoice } from '../models/index';

export { exportOnnx, OPSET, IR_VERSION } from '../export/onnx/exportOnnx';
export type { ExportOptions, OnnxExport, TensorSignature } from '../export/onnx/exportOnnx';
export { verifyExport, assertVerified } from '../export/verify/verify';
export type { VerificationReport, VerifyOptions, InputSet, CaseResult } from '../export/verify/verify';
export { chooseProvider } from '../export/verify/executionProvider';
export { writeBundle, buildManifest } from '../export/bundle/bundle';
export type { Manifest } from '../export/bundle/bundle';
