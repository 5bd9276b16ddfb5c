/**
 * Text corpora from local files for character-level language models: a vocabulary (the sorted
 * distinct characters, or all 256 byte values for byte-level data such as enwik8) and sequences
 * of T ids whose targets are the next T ids.
 */
import * as fs from 'fs';
import { Dataset } from './dataset';
import { DataError } from '../errors';

export interface TextCorpus {
  /** Symbol of each id: characters, or byte values as strings for byte-level corpora. */
  readonly vocab: readonly string[];
  readonly ids: Int32Array;
}

export function readTextCorpus(file: string, opts: { bytes?: boolean } = {}): TextCorpus {
  return readTextCorpora([file], opts)[0]!;
}

/** Several files over one vocabulary (a training text and its test text): the same symbol has the same id in each. */
export function readTextCorpora(files: readonly string[], opts: { bytes?: boolean } = {}): TextCorpus[] {
  const raws = files.map(readFile);
  if (opts.bytes) {
    const vocab = Array.from({ length: 256 }, (_, b) => String(b));
    return raws.map((raw) => ({ vocab, ids: Int32Array.from(raw) }));
  }
  const texts = raws.map((raw, i) => Array.from(decodeText(raw, files[i]!)));
  const vocab = [...new Set(texts.flat())].sort();
  const index = new Map(vocab.map((c, i) => [c, i]));
  return texts.map((chars) => ({ vocab, ids: Int32Array.from(chars, (c) => index.get(c)!) }));
}

/** The corpus cut in two at `1 - testFraction` of its symbols: training text first, held-out text after. */
export function splitCorpus(corpus: TextCorpus, testFraction: number): { train: TextCorpus; test: TextCorpus } {
  const cut = Math.round(corpus.ids.length * (1 - testFraction));
  return { train: { ...corpus, ids: corpus.ids.subarray(0, cut) }, test: { ...corpus, ids: corpus.ids.subarray(cut) } };
}

function readFile(file: string): Buffer {
  let raw: Buffer;
  try {
    raw = fs.readFileSync(file);
  } catch (err) {
    throw new DataError(`text corpus '${file}': cannot read (${err instanceof Error ? err.message : String(err)})`);
  }
  if (raw.length === 0) throw new DataError(`text corpus '${file}' is empty`);
  return raw;
}

function decodeText(raw: Buffer, file: string): string {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(raw);
  // Binary data read as text would become a vocabulary of thousands of replacement and control symbols.
  // eslint-disable-next-line no-control-regex -- control characters are what is being counted
  const nonText = (text.match(/[\uFFFD\u0000-\u0008\u000E-\u001F]/g) ?? []).length;
  if (nonText > Math.max(8, text.length / 1000))
    throw new DataError(`text corpus '${file}' is not UTF-8 text (${nonText} invalid or control bytes); read binary corpora with { bytes: true }`);
  return text;
}

/** Consecutive windows of `seqLen` ids (every `stride` ids) with next-id targets. */
export function sequenceDataset(corpus: TextCorpus, seqLen: number, stride = seqLen): Dataset {
  if (!(Number.isInteger(seqLen) && seqLen > 0 && Number.isInteger(stride) && stride > 0))
    throw new DataError(`sequence length and stride must be positive integers, got ${seqLen}, ${stride}`);
  const count = Math.floor((corpus.ids.length - 1 - seqLen) / stride) + 1;
  if (count < 1) throw new DataError(`text corpus has ${corpus.ids.length} symbols, too few for one sequence of ${seqLen} plus its target`);
  const x = new Float32Array(count * seqLen);
  const y = new Int32Array(count * seqLen);
  for (let s = 0; s < count; s++) {
    const start = s * stride;
    for (let t = 0; t < seqLen; t++) {
      x[s * seqLen + t] = corpus.ids[start + t]!;
      y[s * seqLen + t] = corpus.ids[start + t + 1]!;
    }
  }
  return { x, y, featureShape: [seqLen], labelShape: [seqLen], classes: corpus.vocab.length };
}
