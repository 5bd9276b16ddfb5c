/**
 * Strict flag parsing on Node's util.parseArgs: unknown flags, a flag given twice, a missing value,
 * a value that looks like the next flag (`--out --seed 3`) and malformed values are ConfigErrors
 * naming the flag. Integers are decimal only (no 0x3, 0b10, 1e3); values come back typed from the
 * flag table.
 */
import { parseArgs } from 'util';
import { ConfigError } from '../src/errors';

type FlagKind = 'int' | 'number' | 'string' | 'boolean';

interface FlagSpec {
  readonly kind: FlagKind;
  readonly help: string;
  /** Allowed values for string flags. */
  readonly choices?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  /** A string flag that may be given several times (its values in order). */
  readonly multiple?: boolean;
}

export type FlagTable = Readonly<Record<string, FlagSpec>>;

type ValueOf<S extends FlagSpec> = S['multiple'] extends true
  ? string[]
  : S['kind'] extends 'int' | 'number'
    ? number
    : S['kind'] extends 'boolean'
      ? boolean
      : string;

/** Parsed flags, typed by the table: ints and numbers are numbers, booleans booleans, the rest strings. */
export type FlagValues<T extends FlagTable> = { -readonly [K in keyof T]?: ValueOf<T[K]> };

const DECIMAL_INT = /^-?\d+$/;
const DECIMAL_NUMBER = /^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

function parseValue(flag: string, spec: FlagSpec, raw: string): string | number {
  if (spec.kind === 'string') {
    if (raw === '') throw new ConfigError(`--${flag} needs a non-empty value`);
    if (spec.choices && !spec.choices.includes(raw)) throw new ConfigError(`--${flag} must be one of ${spec.choices.join(', ')}, got '${raw}'`);
    return raw;
  }
  const ok = spec.kind === 'int' ? DECIMAL_INT.test(raw) : DECIMAL_NUMBER.test(raw);
  const value = Number(raw);
  if (!ok || !Number.isFinite(value) || (spec.kind === 'int' && !Number.isSafeInteger(value))) {
    throw new ConfigError(`--${flag} expects ${spec.kind === 'int' ? 'a decimal integer' : 'a decimal number'}, got '${raw}'`);
  }
  if (spec.min !== undefined && value < spec.min) throw new ConfigError(`--${flag} must be >= ${spec.min}, got ${value}`);
  if (spec.max !== undefined && value > spec.max) throw new ConfigError(`--${flag} must be <= ${spec.max}, got ${value}`);
  return value;
}

export function parseFlags<T extends FlagTable>(argv: readonly string[], specs: T, command: string): FlagValues<T> {
  const options = Object.fromEntries(
    Object.entries(specs).map(([flag, s]) => [flag, { type: s.kind === 'boolean' ? ('boolean' as const) : ('string' as const) }]),
  );
  let tokens;
  try {
    ({ tokens } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false, tokens: true }));
  } catch (err) {
    throw new ConfigError(`${parseArgsProblem(err as Error & { code?: string })} for 'latephase ${command}'; see 'latephase ${command} --help'`);
  }
  const out: Record<string, string | number | boolean | string[]> = {};
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const spec = specs[token.name]!;
    if (spec.multiple) {
      out[token.name] = [...((out[token.name] as string[] | undefined) ?? []), String(parseValue(token.name, spec, token.value ?? ''))];
      continue;
    }
    if (token.name in out) throw new ConfigError(`--${token.name} is given twice`);
    out[token.name] = spec.kind === 'boolean' ? true : parseValue(token.name, spec, token.value ?? '');
  }
  return out as FlagValues<T>;
}

/** util.parseArgs's error, said in this CLI's words. */
function parseArgsProblem(err: Error & { code?: string }): string {
  const text = err.message;
  const flag = /'(-[^' ]+)/.exec(text)?.[1] ?? '';
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown flag ${flag}`;
  if (err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return `unexpected argument '${/'([^']*)'/.exec(text)?.[1] ?? ''}'`;
  if (/argument is ambiguous/.test(text))
    return `${flag} needs a value, and the next argument is a flag (write ${flag}=VALUE for a value starting with '-')`;
  if (/argument missing/.test(text)) return `${flag} needs a value`;
  if (/does not take an argument/.test(text)) return `${flag} takes no value`;
  return text.split('\n')[0]!;
}

export function flagHelp(specs: FlagTable): string {
  return Object.entries(specs)
    .map(([flag, s]) => `  --${flag}${s.kind === 'boolean' ? '' : ` <${s.choices ? s.choices.join('|') : s.kind}>`}`.padEnd(34) + s.help)
    .join('\n');
}
