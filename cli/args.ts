/** Strict flag parsing: unknown flags and malformed values are ConfigErrors naming the flag. */
import { ConfigError } from '../src/errors';

export type FlagKind = 'int' | 'number' | 'string' | 'boolean';

export interface FlagSpec {
  readonly kind: FlagKind;
  readonly help: string;
  /** Allowed values for string flags. */
  readonly choices?: readonly string[];
  readonly min?: number;
}

export type FlagValues = Record<string, string | number | boolean | undefined>;

function parseValue(flag: string, spec: FlagSpec, raw: string): string | number {
  if (spec.kind === 'string') {
    if (spec.choices && !spec.choices.includes(raw)) throw new ConfigError(`--${flag} must be one of ${spec.choices.join(', ')}, got '${raw}'`);
    return raw;
  }
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || (spec.kind === 'int' && !Number.isInteger(value))) {
    throw new ConfigError(`--${flag} expects ${spec.kind === 'int' ? 'an integer' : 'a number'}, got '${raw}'`);
  }
  if (spec.min !== undefined && value < spec.min) throw new ConfigError(`--${flag} must be >= ${spec.min}, got ${value}`);
  return value;
}

export function parseFlags(argv: readonly string[], specs: Readonly<Record<string, FlagSpec>>, command: string): FlagValues {
  const out: FlagValues = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument '${arg}' for 'latephase ${command}'; see --help`);
    const eq = arg.indexOf('=');
    const flag = arg.slice(2, eq < 0 ? undefined : eq);
    const spec = specs[flag];
    if (!spec) throw new ConfigError(`unknown flag --${flag} for 'latephase ${command}'; see 'latephase ${command} --help'`);
    if (spec.kind === 'boolean') {
      if (eq >= 0) throw new ConfigError(`--${flag} takes no value`);
      out[flag] = true;
      continue;
    }
    const raw = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (raw === undefined) throw new ConfigError(`--${flag} needs a value`);
    out[flag] = parseValue(flag, spec, raw);
  }
  return out;
}

export function flagHelp(specs: Readonly<Record<string, FlagSpec>>): string {
  return Object.entries(specs)
    .map(([flag, s]) => `  --${flag}${s.kind === 'boolean' ? '' : ` <${s.choices ? s.choices.join('|') : s.kind}>`}`.padEnd(34) + s.help)
    .join('\n');
}
