/**
 * Stochastic weight averaging combined with late-phase weights, as the authors run it
 * (../shared/docs/paper-notes.md section 1 item 6): from epoch `start` (0-based) on, the weights at
 * each epoch's end join an equal average, avg <- avg * (1 - a) + w * a with a = 1 / (n + 1).
 * Every parameter is averaged on its own, so each member's late-phase weights are averaged over
 * time separately; running statistics are not averaged (they are recomputed afterwards, see
 * batchNormRecompute.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Param } from '../nn/layer';
import { ConfigError, DataError } from '../errors';
import { NamedTensor } from './trainingState';

export interface SwaConfig {
  /** The first epoch (0-based) whose end joins the average. */
  readonly start: number;
}

export class SwaAverage {
  private readonly averages = new Map<string, tf.Variable>();
  /** Snapshots averaged so far. */
  private snapshots = 0;

  constructor(readonly config: SwaConfig) {}

  get count(): number {
    return this.snapshots;
  }

  /** Whether the end of `epoch` (0-based) joins the average. */
  due(epoch: number): boolean {
    return epoch >= this.config.start;
  }

  /** Add the weights as they are now. The parameter set must not change between snapshots. */
  add(params: readonly Param[]): void {
    if (this.snapshots > 0 && params.length !== this.averages.size)
      throw new ConfigError(
        `SWA: the model has ${params.length} parameters now, ${this.averages.size} when averaging began (release after swa.start?)`,
      );
    const a = 1 / (this.snapshots + 1);
    tf.tidy(() => {
      for (const p of params) {
        const avg = this.averages.get(p.name);
        if (avg) avg.assign(tf.add(tf.mul(avg, 1 - a), tf.mul(p.variable, a)));
        else if (this.snapshots === 0) this.averages.set(p.name, tf.variable(tf.clone(p.variable), false));
        else throw new ConfigError(`SWA: parameter '${p.name}' was not there when averaging began`);
      }
    });
    this.snapshots++;
  }

  /** Replace the weights by their averages (a no-op before the first snapshot). */
  apply(params: readonly Param[]): void {
    if (!this.snapshots) return;
    for (const p of params) {
      const avg = this.averages.get(p.name);
      if (!avg) throw new ConfigError(`SWA: no average for parameter '${p.name}'`);
      p.variable.assign(avg);
    }
  }

  /** The averages and their count, for a checkpoint. */
  state(): { tensors: NamedTensor[]; count: number } {
    return { tensors: [...this.averages].map(([name, v]) => ({ name, tensor: v })), count: this.snapshots };
  }

  /** Continue from a checkpoint's averages (copied). */
  restore(tensors: readonly NamedTensor[], count: number): void {
    if (count > 0 && !tensors.length) throw new DataError(`SWA state: ${count} snapshot(s) but no averages`);
    this.dispose();
    for (const t of tensors) this.averages.set(t.name, tf.variable(tf.clone(t.tensor), false));
    this.snapshots = count;
  }

  dispose(): void {
    for (const v of this.averages.values()) v.dispose();
    this.averages.clear();
    this.snapshots = 0;
  }
}
