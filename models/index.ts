/** The model zoo by name, for the CLI and for users who pick architectures from configuration. */
import { Model } from '../src/nn/model';
import { ModelRecipe } from '../src/nn/modelRecipe';
import { ConfigError } from '../src/errors';
import { BN_AND_HEAD } from '../src/latephase/layerFactory';
import { LatePhaseChoice } from '../src/latephase/kindRegistry';
import { mnistCnn } from './mnistCnn';
import { mlp } from './mlp';
import { wideResNet } from './wideResNet';
import { resNet } from './resNet';
import { charLstm, RANK1_LSTM } from './charLstm';

export interface ZooOptions {
  readonly latePhase?: LatePhaseChoice;
  readonly seed?: number;
  readonly classes?: number;
  /** Sequence length of sequence models (char-lstm; default 100). */
  readonly seqLen?: number;
}

export const MODEL_NAMES = [
  'mnist-cnn',
  'mlp',
  'wrn-<depth>-<widen> (e.g. wrn-28-10)',
  'resnet-<depth> (e.g. resnet-20)',
  'char-lstm (byte-level, 500 units)',
] as const;

export function buildModel(name: string, opts: ZooOptions = {}): Model {
  const latePhase = opts.latePhase ?? BN_AND_HEAD;
  const common = { latePhase, seed: opts.seed ?? 0 };
  if (name === 'mnist-cnn') return mnistCnn({ ...common, ...(opts.classes !== undefined && { classes: opts.classes }) });
  if (name === 'mlp') return mlp({ ...common, inputs: 784, hidden: [256, 256], classes: opts.classes ?? 10 });
  const wrn = /^wrn-(\d+)-(\d+)$/.exec(name);
  if (wrn) return wideResNet({ ...common, depth: Number(wrn[1]), widen: Number(wrn[2]), classes: opts.classes ?? 10 });
  if (name === 'char-lstm')
    return charLstm({
      vocab: opts.classes ?? 256,
      seqLen: opts.seqLen ?? 100,
      embed: 64,
      hidden: 500,
      seed: common.seed,
      latePhase: opts.latePhase ?? RANK1_LSTM,
    });
  const res = /^resnet-(\d+)$/.exec(name);
  if (res) return resNet({ ...common, depth: Number(res[1]), classes: opts.classes ?? 10 });
  throw new ConfigError(`unknown model '${name}'; known: ${MODEL_NAMES.join(', ')}`);
}

/** How another thread rebuilds `buildModel(name, opts)` (data-parallel training workers). */
export function zooRecipe(name: string, opts: ZooOptions = {}): ModelRecipe {
  return { module: __filename, exportName: 'buildModel', args: [name, opts] };
}

export { mnistCnn, mlp, wideResNet, resNet, charLstm };
export { LayerFactory, BN_AND_HEAD, NO_LATE_PHASE } from '../src/latephase/layerFactory';
export { describeChoice } from '../src/latephase/kindRegistry';
export type { LatePhaseChoice } from '../src/latephase/kindRegistry';
