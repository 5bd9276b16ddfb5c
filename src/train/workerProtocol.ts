/** Messages between the trainer and its gradient workers (dataParallel.ts <-> gradientWorker.ts). */
import * as tf from '@tensorflow/tfjs-core';
import { ModelRecipe } from '../nn/modelRecipe';
import type { SeededAugmentation } from './gradients';

/** A host copy of a tensor's values that owns its buffer (dataSync may return a view), so it can be transferred. */
export function transferableCopy(t: tf.Tensor): Float32Array {
  return new Float32Array(t.dataSync());
}

/** What a worker is started with. */
export interface WorkerSetup {
  readonly recipe: ModelRecipe;
  /** The tfjs backend the trainer runs on (`wasm`, `cpu`, `tensorflow`); the worker starts the same one. */
  readonly backend: string;
  /** K when the model is already released at start (1 otherwise). */
  readonly members: number;
  readonly featureShape: readonly number[];
  readonly labelShape: readonly number[];
  readonly classes: number;
  /** Training-time augmentation: the worker draws for its rows exactly as this thread would. */
  readonly augment?: SeededAugmentation;
}

export type ToWorker =
  | {
      readonly kind: 'step';
      readonly member: number;
      /** Names of the parameters to differentiate, with their current values. */
      readonly params: readonly string[];
      readonly values: readonly Float32Array[];
      /** Names of the state tensors (running statistics) the step may update, with their current values. */
      readonly stateNames: readonly string[];
      readonly state: readonly Float32Array[];
      /** The worker's shard of the minibatch. */
      readonly x: Float32Array;
      readonly y: Int32Array;
      /** The shard's rows (training-set indices) and the epoch: what the augmentation draws derive from. */
      readonly rows: Int32Array;
      readonly epoch: number;
    }
  | { readonly kind: 'release'; readonly k: number }
  /**
   * Every parameter and state tensor's value, after start and after release: a step sends only
   * what it differentiates, so a tensor that no step sends (a frozen parameter, loaded from a
   * pretrained model or a checkpoint) must still match. Answered with 'ready'.
   */
  | { readonly kind: 'sync'; readonly names: readonly string[]; readonly values: readonly Float32Array[] };

export type FromWorker =
  | { readonly kind: 'ready'; readonly signature: readonly string[] }
  | { readonly kind: 'grads'; readonly loss: number; readonly grads: readonly Float32Array[]; readonly state: readonly Float32Array[] }
  | { readonly kind: 'error'; readonly name: string; readonly message: string };
