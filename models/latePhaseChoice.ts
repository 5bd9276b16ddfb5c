import { Layer } from '../src/nn/layer';
import { BatchNorm } from '../src/nn/batchNorm';
import { Dense } from '../src/nn/dense';
import { Rng } from '../src/nn/rng';
import { LatePhaseBatchNorm } from '../src/latephase/latePhaseBatchNorm';
import { LatePhaseDense } from '../src/latephase/latePhaseDense';

/** Which of a model's weights are late-phase: configuration, not code edits. */
export interface LatePhaseChoice {
  /** Every BatchNorm layer's gamma/beta (and running statistics) per member. */
  readonly batchNorm: boolean;
  /** The classifier head's weight and bias per member. */
  readonly head: boolean;
}

export const BN_AND_HEAD: LatePhaseChoice = { batchNorm: true, head: true };
export const NO_LATE_PHASE: LatePhaseChoice = { batchNorm: false, head: false };

export function batchNormLayer(name: string, channels: number, choice: LatePhaseChoice): Layer {
  return choice.batchNorm ? new LatePhaseBatchNorm(name, channels) : new BatchNorm(name, channels);
}

export function headLayer(name: string, inUnits: number, classes: number, choice: LatePhaseChoice, rng: Rng): Layer {
  return choice.head ? new LatePhaseDense(name, inUnits, classes, { rng }) : new Dense(name, inUnits, classes, { rng });
}
