/**
 * `latephase/internal`: building blocks the public API is made of, for tests, tools and kind
 * authors who need to go below it. No stability promise: these change with the implementation.
 */
export { MemberSet } from '../src/latephase/memberSet';
export { mapLayerTree } from '../src/nn/model';
export { uniqueByVariable, makeParam, makeState, cloneParam, cloneVariable } from '../src/nn/layer';
export { lstmForward } from '../src/nn/lstm';
export { denseForward } from '../src/nn/dense';
export { conv2dForward } from '../src/nn/conv2d';
export { convGeometry, convOutputShape, filterShape, fanIn } from '../src/nn/convGeometry';
export { batchNormForward, batchNormEval } from '../src/nn/batchNorm';
export { softmaxCrossEntropy } from '../src/nn/loss';
export { kaimingNormal, constant, uniform, normal } from '../src/nn/init';
export { checkFoldOptions, foldOption, parseLatePhaseChoice } from '../src/latephase/kindRegistry';
export { stepState } from '../src/latephase/members';
export { rank1Mask } from '../src/latephase/kinds/rank1';
export { orthonormalVectors } from '../src/latephase/kinds/templates';
export { Sgd } from '../src/train/sgd';
export { learningRate } from '../src/train/schedule';
export { resolveGammaTheta } from '../src/train/trainer';
export { checkpointVariables } from '../src/train/checkpoint';
export { checkDataset, featureTensor, oneHotLabels } from '../src/data/dataset';
export { readIdx } from '../src/data/idx';
export { crossEntropy } from '../src/eval/crossEntropy';
export { writeFileAtomic } from '../src/io/atomicWrite';
export { parseBackendChoice, BACKEND_LADDER } from '../src/backend/selectBackend';
export { chooseProvider } from '../export/verify/executionProvider';
export { buildManifest } from '../export/bundle/bundle';
export { GraphBuilder } from '../export/onnx/graph';
export { LOWERINGS, findLowering } from '../export/onnx/registry';
export { OutputFolder } from '../src/io/outputFolder';
export { combineShards, shardSizes, defaultGhostBatches } from '../src/train/gradients';
export { WASM_KERNEL_OVERRIDES, registerWasmKernels, restoreStockKernels } from '../src/backend/kernels/registry';
export { OPSET, IR_VERSION, encodeModel, float32Tensor, int64Tensor } from '../src/onnx/proto';
