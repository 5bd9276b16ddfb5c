/**
 * Which of a model's weights are late-phase is configuration, not code: model builders ask this
 * factory for each conv, dense, LSTM, BatchNorm and head layer. The layers are always the plain
 * ones; the chosen kinds (see kindRegistry) claim the weights, or BatchNorm layers, they make
 * late-phase, highest priority first, and whatever no kind claims stays plain.
 */
import { Layer } from '../nn/layer';
import { BatchNorm, BatchNormConfig } from '../nn/batchNorm';
import { Dense } from '../nn/dense';
import { Conv2d, Conv2dOptions } from '../nn/conv2d';
import { LSTM } from '../nn/lstm';
import { Rng } from '../nn/rng';
import { plainWeights, Weight, WeightRequest } from '../nn/weight';
import { KindBuilder, LatePhaseChoice, parseLatePhaseChoice } from './kindRegistry';

export const BN_AND_HEAD: LatePhaseChoice = { batchNorm: true, head: true };
export const NO_LATE_PHASE: LatePhaseChoice = {};

export class LayerFactory {
  private readonly builders: KindBuilder[];

  constructor(
    readonly choice: LatePhaseChoice,
    readonly rng: Rng,
  ) {
    this.builders = parseLatePhaseChoice(choice).map(({ kind, config }) => kind.builder(config, rng));
  }

  /** The weight source handed to every layer: the first kind that claims a request supplies it. */
  readonly source = (request: WeightRequest): Weight => {
    for (const b of this.builders) {
      const w = b.weight?.(request);
      if (w) return w;
    }
    return plainWeights(request);
  };

  conv(name: string, inChannels: number, outChannels: number, opts: Conv2dOptions): Layer {
    return new Conv2d(name, inChannels, outChannels, { ...opts, rng: this.rng, source: this.source });
  }

  dense(name: string, inUnits: number, outUnits: number, opts: { bias?: boolean } = {}): Layer {
    return new Dense(name, inUnits, outUnits, { ...opts, rng: this.rng, source: this.source });
  }

  /** The classifier: what the late-phase head kind claims; otherwise a dense layer under the other kinds. */
  head(name: string, inUnits: number, classes: number): Layer {
    return new Dense(name, inUnits, classes, { rng: this.rng, source: this.source, role: 'head' });
  }

  lstm(name: string, inputSize: number, hidden: number): Layer {
    return new LSTM(name, inputSize, hidden, { rng: this.rng, source: this.source });
  }

  batchNorm(name: string, channels: number, config: Partial<BatchNormConfig> = {}): Layer {
    for (const b of this.builders) {
      const layer = b.batchNorm?.(name, channels, config);
      if (layer) return layer;
    }
    return new BatchNorm(name, channels, config);
  }

  /** Settings that matched no layer (a `full` name with a typo) are ConfigErrors. */
  checkAllUsed(built: Iterable<Layer>): void {
    const names = new Set([...built].map((l) => l.name));
    for (const b of this.builders) b.finish?.(names);
  }
}
