/**
 * The registry of late-phase kinds. A kind registers itself once, from its own module: its key in
 * a LatePhaseChoice, how it validates and describes its setting, its fold option, and a builder
 * that claims the weights (or BatchNorm layers) it makes late-phase (kindTable.ts). Everything else
 * (the layer factory, `describeChoice`, fold-option checks, the CLI's `--late-phase` words,
 * parameter counts) asks this module, so a new kind is one module: `src/latephase/kinds/<kind>.ts`
 * listed in kinds/index.ts or, outside this package, any module that calls `registerLatePhaseKind`.
 */
import { ConfigError } from '../errors';
import { FoldOptions } from './latePhaseLayer';
import { FoldOptionSpec, foldOption, LatePhaseChoice, LatePhaseKind, registeredKinds } from './kindTable';
import './kinds/index'; // the built-in kinds register themselves

export type { FoldOptionSpec, KindBuilder, LatePhaseChoice, LatePhaseKind } from './kindTable';
export type { LayerSelection } from './kindTable';
export {
  describeSelection,
  foldOption,
  parseLayerSelection,
  parseNameList,
  parsePositiveInt,
  parseSwitch,
  registerLatePhaseKind,
  selectionMatcher,
} from './kindTable';

/** Every registered kind (the built-in ones and any a module registered), highest priority first. */
export function latePhaseKinds(): LatePhaseKind[] {
  return registeredKinds().sort((a, b) => b.priority - a.priority || a.key.localeCompare(b.key));
}

interface ParsedKind {
  readonly kind: LatePhaseKind;
  readonly config: unknown;
}

/** The chosen kinds with their validated settings, in claim order. */
export function parseLatePhaseChoice(choice: LatePhaseChoice): ParsedKind[] {
  const kinds = latePhaseKinds();
  const unknown = Object.keys(choice).filter((key) => !kinds.some((k) => k.key === key));
  if (unknown.length)
    throw new ConfigError(`late-phase choice: unknown kind ${unknown.map((k) => `'${k}'`).join(', ')}; known: ${kinds.map((k) => k.key).join(', ')}`);
  const chosen: ParsedKind[] = [];
  for (const kind of kinds) {
    const config = kind.parse(choice[kind.key]);
    if (config !== undefined) chosen.push({ kind, config });
  }
  const groups = new Map<string, string>();
  for (const { kind } of chosen) {
    if (!kind.group) continue;
    const other = groups.get(kind.group);
    if (other) throw new ConfigError(`late-phase choice: ${other} and ${kind.key} both reparametrise the same weights (${kind.group}); pick one`);
    groups.set(kind.group, kind.key);
  }
  return chosen;
}

export function describeChoice(choice: LatePhaseChoice): string {
  return (
    parseLatePhaseChoice(choice)
      .map(({ kind, config }) => kind.describe(config))
      .join('+') || 'none'
  );
}

/** The fold options every registered kind reads. */
export function foldOptionSpecs(): FoldOptionSpec[] {
  return latePhaseKinds().flatMap((k) => (k.fold ? [k.fold] : []));
}

/**
 * The fold options a run uses: every option the chosen kinds read (their defaults filled in), and
 * any other option set explicitly (validated, kept for the record).
 */
export function resolvedFoldOptions(choice: LatePhaseChoice, set: FoldOptions): FoldOptions {
  checkFoldOptions(set);
  const chosen = parseLatePhaseChoice(choice).flatMap(({ kind }) => (kind.fold ? [kind.fold] : []));
  return { ...Object.fromEntries(chosen.map((spec) => [spec.key, foldOption(set, spec)])), ...set };
}

/** Unknown keys and values are ConfigErrors naming the allowed ones. */
export function checkFoldOptions(options: FoldOptions): void {
  const specs = foldOptionSpecs();
  for (const [key, value] of Object.entries(options)) {
    const spec = specs.find((s) => s.key === key);
    if (!spec) throw new ConfigError(`fold option '${key}' is unknown; known: ${specs.map((s) => s.key).join(', ')}`);
    if (!spec.values.includes(value)) throw new ConfigError(`fold option ${key} must be one of ${spec.values.join(', ')}, got '${value}'`);
  }
}
