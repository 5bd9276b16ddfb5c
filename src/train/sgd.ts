/**
 * SGD with momentum, optional Nesterov and L2 (PyTorch-style, added to the gradient) weight decay,
 * one instance per parameter group so that each group has its own momentum buffers and settings:
 *   g = scale * grad + wd * p          (wd only for params with decay = true)
 *   buf = momentum * buf + g           (buf starts at 0, so the first step has buf = g)
 *   p -= lr * (nesterov ? g + momentum * buf : buf)
 */
import * as tf from '@tensorflow/tfjs-core';
import { Param } from '../nn/layer';
import { ConfigError, DataError } from '../errors';
import { NamedTensor } from './trainingState';
import { sgdStep } from '../backend/operations';
import { LearningRate } from './paramGroups';

export interface SgdConfig {
  readonly lr: number;
  readonly momentum: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;
}

export function checkSgdConfig(cfg: SgdConfig, field: string): void {
  if (!(cfg.lr > 0) || !Number.isFinite(cfg.lr)) throw new ConfigError(`${field}.lr must be a positive number, got ${cfg.lr}`);
  if (!(cfg.momentum >= 0 && cfg.momentum < 1)) throw new ConfigError(`${field}.momentum must be in [0, 1), got ${cfg.momentum}`);
  if (!(cfg.weightDecay >= 0)) throw new ConfigError(`${field}.weightDecay must be >= 0, got ${cfg.weightDecay}`);
  if (cfg.nesterov && cfg.momentum === 0) throw new ConfigError(`${field}.nesterov needs momentum > 0`);
}

export class Sgd {
  private readonly buffers = new Map<tf.Variable, tf.Variable>();

  constructor(readonly config: SgdConfig) {}

  /**
   * One step on `params` with gradients `grads[i]` (same order), scaled by `gradScale`, at learning
   * rate `lr` (one for all, or per parameter: parameters of one rate step together).
   */
  step(params: readonly Param[], grads: readonly tf.Tensor[], lr: LearningRate, gradScale = 1): void {
    if (typeof lr === 'number') return this.stepAt(params, grads, lr, gradScale);
    const byRate = new Map<number, number[]>();
    params.forEach((p, i) => {
      const rate = lr(p);
      byRate.set(rate, [...(byRate.get(rate) ?? []), i]);
    });
    for (const [rate, idx] of byRate)
      this.stepAt(
        idx.map((i) => params[i]!),
        idx.map((i) => grads[i]!),
        rate,
        gradScale,
      );
  }

  private stepAt(params: readonly Param[], grads: readonly tf.Tensor[], lr: number, gradScale: number): void {
    const { momentum, nesterov, weightDecay } = this.config;
    sgdStep({
      params: params.map((p) => p.variable),
      grads,
      buffers: momentum > 0 ? tf.tidy(() => params.map((p) => this.buffer(p.variable))) : [],
      lr,
      momentum,
      nesterov,
      weightDecays: params.map((p) => (p.decay ? weightDecay : 0)),
      gradScale,
    });
  }

  private buffer(v: tf.Variable): tf.Variable {
    let buf = this.buffers.get(v);
    if (!buf) {
      buf = tf.variable(tf.zerosLike(v), false);
      this.buffers.set(v, buf);
    }
    return buf;
  }

  /** The momentum buffers of `params` that have one, by parameter name (for a checkpoint). */
  momentum(params: readonly Param[]): NamedTensor[] {
    return params.flatMap((p) => {
      const buf = this.buffers.get(p.variable);
      return buf ? [{ name: p.name, tensor: buf }] : [];
    });
  }

  /** Continue with a checkpoint's momentum buffers (copied), matched to `params` by name. */
  restoreMomentum(params: readonly Param[], tensors: readonly NamedTensor[]): void {
    const byName = new Map(params.map((p) => [p.name, p]));
    for (const t of tensors) {
      const p = byName.get(t.name);
      if (!p) throw new DataError(`optimizer state names parameter '${t.name}', which this optimizer does not train`);
      if (p.variable.shape.join() !== t.tensor.shape.join())
        throw new DataError(
          `optimizer state for '${t.name}' has shape [${t.tensor.shape.join(', ')}], the parameter [${p.variable.shape.join(', ')}]`,
        );
      this.buffer(p.variable).assign(t.tensor);
    }
  }

  /** Drop momentum buffers of variables no longer trained here (e.g. the tied copy after release). */
  retainOnly(params: readonly Param[]): void {
    const keep = new Set(params.map((p) => p.variable));
    for (const [v, buf] of this.buffers) {
      if (!keep.has(v)) {
        buf.dispose();
        this.buffers.delete(v);
      }
    }
  }

  dispose(): void {
    for (const b of this.buffers.values()) b.dispose();
    this.buffers.clear();
  }
}
