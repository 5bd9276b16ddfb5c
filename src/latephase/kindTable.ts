/**
 * The table of late-phase kinds and what a kind module needs to register itself: the kind's
 * interface, `registerLatePhaseKind` and the parse helpers for common settings. It imports no
 * kind; kindRegistry.ts loads the built-in ones (kinds/index.ts) and answers questions about them.
 */
import { Layer } from '../nn/layer';
import { Rng } from '../nn/rng';
import { Weight, WeightRequest } from '../nn/weight';
import { ConfigError } from '../errors';
import { NamePatterns } from '../nn/namePattern';
import { FoldOptions } from './latePhaseLayer';
import type { BatchNormConfig } from '../nn/batchNorm';

/** Which weights are late-phase: kind key -> setting, e.g. `{ batchNorm: true, head: true }`, `{ templates: 7 }`. */
export type LatePhaseChoice = { readonly [kindKey: string]: unknown };

/** What a kind does while a model is built; each method may decline by returning undefined. */
export interface KindBuilder {
  /** Supply a late-phase weight for this request (conv/dense/head/LSTM weights, biases, tables). */
  weight?(request: WeightRequest): Weight | undefined;
  /** Supply a late-phase BatchNorm layer (`config`: epsilon and momentum other than the defaults, e.g. an imported model's). */
  batchNorm?(name: string, channels: number, config?: Partial<BatchNormConfig>): Layer | undefined;
  /** After the model is built, with every layer name: reject settings that matched nothing. */
  finish?(layerNames: ReadonlySet<string>): void;
}

export interface FoldOptionSpec {
  /** The FoldOptions key the kind reads. */
  readonly key: string;
  /** Allowed values, the default first. */
  readonly values: readonly [string, ...string[]];
  readonly help: string;
}

export interface LatePhaseKind<C = unknown> {
  /** Its key in a LatePhaseChoice; lower-cased, its word in the CLI's `--late-phase`. */
  readonly key: string;
  readonly help: string;
  /** Kinds that claim the same weights share a group; at most one of a group may be chosen. */
  readonly group?: string;
  /** Builders are asked in descending priority (a named `full` layer before `head` before `rank1`). */
  readonly priority: number;
  /**
   * The setting, validated: undefined when the kind is off. `value` comes from code or a config
   * file, or as a string from the command line ('true' for a bare word, else the text after '=').
   * Throws a ConfigError naming the field, the value and what is allowed.
   */
  parse(value: unknown): C | undefined;
  describe(config: C): string;
  readonly fold?: FoldOptionSpec;
  builder(config: C, rng: Rng): KindBuilder;
}

const registry = new Map<string, LatePhaseKind>();

export function registerLatePhaseKind<C>(kind: LatePhaseKind<C>): void {
  if (registry.has(kind.key)) throw new ConfigError(`late-phase kind '${kind.key}' is registered twice`);
  registry.set(kind.key, kind as LatePhaseKind);
}

/** Every registered kind (in registration order; kindRegistry.ts sorts them and loads the built-ins first). */
export function registeredKinds(): LatePhaseKind[] {
  return [...registry.values()];
}

/** The value of a kind's fold option (its default when unset). */
export function foldOption(options: FoldOptions, spec: FoldOptionSpec): string {
  return options[spec.key] ?? spec.values[0];
}

/** Parse helpers for the common setting shapes, with errors naming `late-phase.<key>`. */
export function parseSwitch(key: string, value: unknown): true | undefined {
  if (value === undefined || value === false || value === 'false') return undefined;
  if (value === true || value === 'true') return true;
  throw new ConfigError(`late-phase.${key} must be true or false, got ${JSON.stringify(value)}`);
}

export function parsePositiveInt(key: string, value: unknown): number | undefined {
  if (value === undefined || value === false || value === 0) return undefined;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n === 'number' && Number.isInteger(n) && n > 0) return n;
  throw new ConfigError(`late-phase.${key} must be a positive integer, got ${JSON.stringify(value)}`);
}

/** Layer names or patterns (`*`, `?`; see src/nn/namePattern.ts): a list, or `a+b*` from the command line. */
export function parseNameList(key: string, value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  const names = typeof value === 'string' ? value.split('+') : value;
  if (!Array.isArray(names) || names.some((n) => typeof n !== 'string' || !n.trim()))
    throw new ConfigError(`late-phase.${key} must be a list of layer names or patterns, got ${JSON.stringify(value)}`);
  return names.length ? names.map((n: string) => n.trim()) : undefined;
}

/** `true` (every layer the kind applies to), or the layers whose names match these patterns. */
export type LayerSelection = true | readonly string[];

/** A kind that applies to every candidate layer, or only to those named by pattern: true, false, or a name list. */
export function parseLayerSelection(key: string, value: unknown): LayerSelection | undefined {
  if (value === undefined || value === false || value === 'false') return undefined;
  if (value === true || value === 'true') return true;
  if (typeof value === 'string' || Array.isArray(value)) return parseNameList(key, value);
  throw new ConfigError(`late-phase.${key} must be true, false or a list of layer names or patterns, got ${JSON.stringify(value)}`);
}

/** How a selection reads in a run's description: `rank1`, `rank1(layer4*,fc)`. */
export function describeSelection(word: string, selection: LayerSelection): string {
  return selection === true ? word : `${word}(${selection.join(',')})`;
}

/**
 * The matcher a builder asks while one model is built: every candidate when the selection is
 * `true`; else the patterns, each of which must match some candidate (checked by `finish`).
 */
export function selectionMatcher(key: string, selection: LayerSelection, what: string): { matches(name: string): boolean; finish(): void } {
  if (selection === true) return { matches: () => true, finish: () => undefined };
  const patterns = new NamePatterns(selection, `latePhase.kinds.${key}`);
  const seen = new Set<string>();
  return {
    matches: (name) => {
      seen.add(name);
      return patterns.matches(name);
    },
    finish: () => patterns.checkAllMatched(what, [...seen]),
  };
}
