/**
 * Divergence checks: the training losses since the last check, kept on the device and read back
 * together (one sync), with every parameter and running statistic scanned for NaN/Inf.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Model } from '../nn/model';
import { uniqueByVariable } from '../nn/layer';
import { TrainingError } from '../errors';

/** Where a minibatch was: for naming the step at which training diverged. */
interface StepPlace {
  readonly epoch: number;
  readonly step: number;
  readonly member: number;
}

/** Losses added since the last check: their sum weighted by rows (finite), the rows, and where each was. */
export interface PendingLosses {
  readonly sum: number;
  readonly rows: number;
  readonly places: readonly StepPlace[];
}

const where = (p: StepPlace): string => `epoch ${p.epoch + 1}, minibatch ${p.step + 1} (member ${p.member})`;

/**
 * The training losses since the last check, kept on the device and read back together (one sync)
 * every `every` minibatches and at each epoch's end. A check also scans every parameter and
 * running statistic for NaN/Inf, so divergence that the loss does not show (a BatchNorm running
 * variance overflowing while train-mode losses stay finite) stops the run too, naming the tensor.
 */
export class DivergenceMonitor {
  /** Sum of the losses since the last check, and the index of the first non-finite one (Inf if none): constant memory. */
  private sum: tf.Scalar = tf.scalar(0);
  private firstBad: tf.Scalar = tf.scalar(Number.POSITIVE_INFINITY);
  private places: StepPlace[] = [];
  private rows = 0;
  private lastChecked: StepPlace | null = null;

  constructor(
    private readonly every: number,
    private readonly model: Model,
  ) {}

  /** A minibatch's mean loss over its `rows` (weighted by them: a short last minibatch counts for what it holds). */
  add(loss: tf.Scalar, place: StepPlace, rows: number): void {
    const index = this.places.length;
    this.places.push(place);
    this.rows += rows;
    const [sum, firstBad] = tf.tidy(() => [
      tf.add(this.sum, tf.mul(loss, rows)) as tf.Scalar,
      tf.minimum(this.firstBad, tf.where(tf.isFinite(loss), tf.scalar(Number.POSITIVE_INFINITY), tf.scalar(index))) as tf.Scalar,
    ]);
    tf.dispose([this.sum, this.firstBad, loss]);
    [this.sum, this.firstBad] = [sum!, firstBad!];
  }

  due(endOfEpoch: boolean): boolean {
    return this.places.length >= this.every || (endOfEpoch && this.places.length > 0);
  }

  /** Mean loss per row since the last check, with the rows and their sum; TrainingError naming the step, member or tensor on NaN/Inf. */
  check(): { mean: number; sum: number; rows: number } {
    const { sum, rows } = this.settle();
    this.reset();
    return { mean: sum / rows, sum, rows };
  }

  /**
   * The losses since the last check, checked finite (and every tensor with them) but kept pending:
   * a checkpoint stores them, so that where its run checks the loss next, and the mean it logs
   * there, do not depend on where it was stopped (see `restore`).
   */
  settle(): PendingLosses {
    const places = this.places;
    if (!places.length) return { sum: 0, rows: 0, places: [] };
    const [sum, firstBad] = tf.tidy(() => tf.stack([this.sum, this.firstBad]).dataSync());
    if (Number.isFinite(firstBad)) {
      this.reset();
      throw new TrainingError(`training diverged: the loss became non-finite (NaN/Inf) at ${where(places[firstBad!]!)}; ${ADVICE}`);
    }
    const now = places[places.length - 1]!;
    const tensor = firstNonFinite(this.model);
    if (tensor) {
      this.reset();
      const since = this.lastChecked ? `after ${where(this.lastChecked)} and by ${where(now)}` : `by ${where(now)}`;
      throw new TrainingError(`training diverged ${since}: tensor '${tensor}' holds NaN/Inf; ${ADVICE}`);
    }
    this.lastChecked = now;
    return { sum: sum!, rows: this.rows, places: [...places] };
  }

  /** Continue with the pending losses a checkpoint stored (their float32 sum is exact in a number). */
  restore(pending: PendingLosses): void {
    tf.dispose(this.sum);
    this.sum = tf.scalar(pending.sum);
    this.rows = pending.rows;
    this.places = [...pending.places];
  }

  private reset(): void {
    tf.dispose([this.sum, this.firstBad]);
    this.sum = tf.scalar(0);
    this.firstBad = tf.scalar(Number.POSITIVE_INFINITY);
    this.places = [];
    this.rows = 0;
  }

  dispose(): void {
    tf.dispose([this.sum, this.firstBad]);
  }
}

const ADVICE = 'lower the learning rate (or sigma0), or check the data for NaN/Inf';

/** The name of the first parameter or state tensor (running statistic) holding NaN or Inf, if any. */
function firstNonFinite(model: Model): string | null {
  const vars = uniqueByVariable([...model.params(), ...model.net.state()]);
  if (!vars.length) return null;
  const finite = tf.tidy(() => tf.stack(vars.map((v) => tf.all(tf.isFinite(v.variable)))).dataSync());
  const bad = finite.findIndex((f) => !f);
  return bad >= 0 ? vars[bad]!.name : null;
}
