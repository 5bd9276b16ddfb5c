/**
 * The operations layers and the optimizer ask the backend for. Each decides how it runs: a fused
 * native kernel where the active backend has one registered (src/backend/native*.ts, from the
 * table in nativeKernelTable.ts), else tfjs ops; both give the same bits. Nothing above
 * src/backend names a native kernel (a dependency rule holds it).
 */
export { batchNormTrain } from './operations/batchNormTrain';
export type { BatchNormTrainArgs, OnBatchStatistics } from './operations/batchNormTrain';
export { relu } from './operations/relu';
export { maxPool } from './operations/maxPool';
export { convReluMaxPool } from './operations/convReluMaxPool';
export type { ConvAttrs } from './operations/convReluMaxPool';
export { globalAvgPool } from './operations/globalAvgPool';
export { softmaxCrossEntropy } from './operations/softmaxCrossEntropy';
export type { MaxPoolAttrs } from './operations/maxPool';
export { sgdStep } from './operations/sgdStep';
export type { SgdStepGroup } from './operations/sgdStep';
