/**
 * Character-level LSTM language model: embedding -> LSTM -> dense over the vocabulary at every
 * step. Input: [T] character ids (float-coded); output: [T, vocab] next-character logits. The
 * paper's enwik8 model uses rank-1 late-phase weights on the LSTM (latePhase: { rank1: true }).
 */
import { Model } from '../src/nn/model';
import { Sequential } from '../src/nn/sequential';
import { Embedding } from '../src/nn/embedding';
import { walkLayers } from '../src/nn/layer';
import { Rng } from '../src/nn/rng';
import { LayerFactory } from '../src/latephase/layerFactory';
import { LatePhaseChoice } from '../src/latephase/kindRegistry';

interface CharLstmOptions {
  readonly vocab: number;
  readonly seqLen: number;
  readonly embed?: number;
  readonly hidden?: number;
  readonly seed?: number;
  readonly latePhase?: LatePhaseChoice;
  readonly labels?: readonly string[];
}

export const RANK1_LSTM: LatePhaseChoice = { rank1: true };

export function charLstm(opts: CharLstmOptions): Model {
  const make = new LayerFactory(opts.latePhase ?? RANK1_LSTM, new Rng(opts.seed ?? 0));
  const embed = opts.embed ?? 32;
  const hidden = opts.hidden ?? 128;
  const net = new Sequential('char_lstm', [
    new Embedding('embed', opts.vocab, embed, { rng: make.rng }),
    make.lstm('lstm', embed, hidden),
    make.head('head', hidden, opts.vocab),
  ]);
  make.checkAllUsed(walkLayers(net));
  return new Model('char_lstm', net, [opts.seqLen], {
    inputLayout: `[N, ${opts.seqLen}] character ids as float32 (integers in [0, ${opts.vocab}))`,
    preprocessing: 'map characters to ids with the vocabulary in labels',
    ...(opts.labels ? { labels: opts.labels } : {}),
  });
}
