/**
 * Which of a model's weights are late-phase is configuration, not code: model builders ask this
 * factory for each conv, dense, BatchNorm and head layer, and it returns the plain layer or the
 * late-phase kind the choice names.
 */
import { Layer } from '../src/nn/layer';
import { BatchNorm } from '../src/nn/batchNorm';
import { Dense } from '../src/nn/dense';
import { Conv2d, Conv2dOptions } from '../src/nn/conv2d';
import { Rng } from '../src/nn/rng';
import { ConfigError } from '../src/errors';
import { LatePhaseBatchNorm } from '../src/latephase/latePhaseBatchNorm';
import { LatePhaseDense } from '../src/latephase/latePhaseDense';
import { LatePhaseConv2d } from '../src/latephase/latePhaseConv2d';
import { Rank1Conv2d, Rank1Dense } from '../src/latephase/rank1';
import { TemplateBank, TemplateConv2d, TemplateDense } from '../src/latephase/templateBank';
import { LSTM } from '../src/nn/lstm';
import { Rank1LSTM } from '../src/latephase/rank1Lstm';
import { LatePhaseLSTM } from '../src/latephase/latePhaseLstm';

export interface LatePhaseChoice {
  /** Every BatchNorm layer's gamma/beta (and running statistics) per member. */
  readonly batchNorm: boolean;
  /** The classifier head's weight and bias per member. */
  readonly head: boolean;
  /** Rank-1 factors (r, s) per member on every conv and hidden dense layer. */
  readonly rank1?: boolean;
  /** Template banks of this many templates, shared by same-shaped conv/dense layers; coefficients per member. */
  readonly templates?: number;
  /** Names of layers whose full weights are late-phase (ablation). */
  readonly full?: readonly string[];
}

export const BN_AND_HEAD: LatePhaseChoice = { batchNorm: true, head: true };
export const NO_LATE_PHASE: LatePhaseChoice = { batchNorm: false, head: false };

export function describeChoice(c: LatePhaseChoice): string {
  const parts = [c.batchNorm && 'batchnorm', c.head && 'head', c.rank1 && 'rank1', c.templates && `templates(T=${c.templates})`, c.full?.length && `full(${c.full.join(',')})`];
  return parts.filter(Boolean).join('+') || 'none';
}

export class LayerFactory {
  private readonly banks = new Map<string, TemplateBank>();
  private readonly fullNames: Set<string>;

  constructor(
    readonly choice: LatePhaseChoice,
    readonly rng: Rng,
  ) {
    if ([choice.rank1, choice.templates].filter(Boolean).length > 1) throw new ConfigError('late-phase choice: rank1 and templates both reparametrise conv/dense weights; pick one');
    if (choice.templates !== undefined && !(Number.isInteger(choice.templates) && choice.templates > 0)) throw new ConfigError(`late-phase choice: templates must be a positive integer, got ${choice.templates}`);
    this.fullNames = new Set(choice.full ?? []);
  }

  conv(name: string, inChannels: number, outChannels: number, opts: Conv2dOptions): Layer {
    if (this.fullNames.has(name)) return new LatePhaseConv2d(name, inChannels, outChannels, { ...opts, rng: this.rng });
    if (this.choice.templates) {
      const k = opts.kernelSize;
      return new TemplateConv2d(name, inChannels, outChannels, this.bank([k, k, inChannels, outChannels], k * k * inChannels), opts);
    }
    if (this.choice.rank1) return new Rank1Conv2d(name, inChannels, outChannels, { ...opts, rng: this.rng });
    return new Conv2d(name, inChannels, outChannels, { ...opts, rng: this.rng });
  }

  dense(name: string, inUnits: number, outUnits: number, opts: { bias?: boolean } = {}): Layer {
    if (this.fullNames.has(name)) return new LatePhaseDense(name, inUnits, outUnits, { rng: this.rng, role: 'full' });
    if (this.choice.templates) return new TemplateDense(name, inUnits, outUnits, this.bank([inUnits, outUnits], inUnits), opts);
    if (this.choice.rank1) return new Rank1Dense(name, inUnits, outUnits, { ...opts, rng: this.rng });
    return new Dense(name, inUnits, outUnits, { ...opts, rng: this.rng });
  }

  /** Rank-1 factors on the input and recurrent matrices when `rank1` is chosen; otherwise plain. */
  lstm(name: string, inputSize: number, hidden: number): Layer {
    if (this.fullNames.has(name)) return new LatePhaseLSTM(name, inputSize, hidden, { rng: this.rng });
    return this.choice.rank1 ? new Rank1LSTM(name, inputSize, hidden, { rng: this.rng }) : new LSTM(name, inputSize, hidden, { rng: this.rng });
  }

  batchNorm(name: string, channels: number): Layer {
    return this.choice.batchNorm || this.fullNames.has(name) ? new LatePhaseBatchNorm(name, channels) : new BatchNorm(name, channels);
  }

  /** The classifier: late-phase when `head` is chosen, else a dense layer under the other rules. */
  head(name: string, inUnits: number, classes: number): Layer {
    return this.choice.head ? new LatePhaseDense(name, inUnits, classes, { rng: this.rng, role: 'head' }) : this.dense(name, inUnits, classes);
  }

  /** Names given in `full` that no layer used: a typo should not pass silently. */
  checkAllUsed(built: Iterable<Layer>): void {
    const names = new Set([...built].map((l) => l.name));
    const unknown = [...this.fullNames].filter((n) => !names.has(n));
    if (unknown.length) throw new ConfigError(`late-phase choice: no layer named ${unknown.map((n) => `'${n}'`).join(', ')} (full)`);
  }

  private bank(shape: number[], fanIn: number): TemplateBank {
    const key = shape.join('x');
    let bank = this.banks.get(key);
    if (!bank) {
      bank = new TemplateBank(`templates_${key}`, this.choice.templates!, shape, fanIn, this.rng);
      this.banks.set(key, bank);
    }
    return bank;
  }
}
