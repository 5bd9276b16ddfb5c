/**
 * From a config file (JSON or YAML) or a preset, plus `--set path=value` overrides, to a validated
 * JobConfig. Every error names the field path, the bad value and what is allowed; unknown keys are
 * errors; defaults are filled in.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as YAML from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../errors';
import { checkFoldOptions, parseLatePhaseChoice } from '../latephase/kindRegistry';
import { JOB_SCHEMA, JobConfig, JobConfigInput } from './schema';
import { PRESETS } from './presets';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * Keys that reach an object's prototype when assigned or merged (`__proto__`), or that shadow what
 * every object inherits: never config fields, so anywhere in a config or a --set path they are an
 * error, not something a later walk or merge may trip over.
 */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

function forbiddenKey(key: string, where: string): ConfigError {
  return new ConfigError(`${where}: the key '${key}' is not allowed in a config (${[...FORBIDDEN_KEYS].join(', ')} are refused anywhere)`);
}

/** ConfigError naming the first forbidden key anywhere in `value` (own keys, as JSON and YAML parsers create them). */
function checkConfigKeys(value: unknown, where: string, at = ''): void {
  if (value === null || typeof value !== 'object') return;
  for (const key of Object.keys(value)) {
    const field = Array.isArray(value) ? `${at}[${key}]` : at ? `${at}.${key}` : key;
    if (!Array.isArray(value) && FORBIDDEN_KEYS.has(key)) throw forbiddenKey(key, `${where}, field '${field}'`);
    checkConfigKeys((value as Record<string, unknown>)[key], where, field);
  }
}

export function loadConfigFile(file: string): JobConfigInput {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`config '${file}': cannot read (${(err as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = /\.ya?ml$/i.test(file) ? YAML.parse(text) : JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config '${file}': not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'} (${(err as Error).message.split('\n')[0]})`);
  }
  checkConfigKeys(parsed, `config '${file}'`);
  return absolutePaths(parsed as JobConfigInput, path.dirname(path.resolve(file)));
}

/** Fields of a data source that name files or folders. */
const DATA_PATH_FIELDS = ['dir', 'trainImages', 'trainLabels', 'testImages', 'testLabels', 'file', 'testFile', 'train', 'test'] as const;

/**
 * The config's paths (model.module, model.onnx, model.tfjs, model.init, output, the data's and the OOD data's files and folders) made
 * absolute against `baseDir`: a config file's own folder for what it says (as tsconfig, eslint and
 * docker compose read theirs), the working folder for --set values and presets. A resolved config
 * therefore holds only absolute paths, and the copy a bundle or checkpoint records runs the same
 * from any folder.
 */
function absolutePaths(input: JobConfigInput, baseDir: string): JobConfigInput {
  const copy = structuredClone(input) as unknown as Record<string, unknown>;
  const section = (v: unknown): Record<string, unknown> | null =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  const fix = (owner: Record<string, unknown> | null, key: string): void => {
    const v = owner?.[key];
    if (owner && typeof v === 'string' && v && !path.isAbsolute(v)) owner[key] = path.resolve(baseDir, v);
  };
  fix(section(copy['model']), 'module');
  fix(section(copy['model']), 'onnx');
  fix(section(copy['model']), 'tfjs');
  fix(section(copy['model']), 'init');
  fix(section(section(copy['model'])?.['init']), 'from');
  fix(copy, 'output');
  for (const data of [section(copy['data']), section(section(copy['evaluation'])?.['ood'])]) {
    for (const f of DATA_PATH_FIELDS) fix(data, f);
    for (const pair of [section(data?.['train']), section(data?.['test'])]) for (const f of ['x', 'y']) fix(pair, f); // npy pairs
    if (data?.['source'] === 'imageFolder') fix(data, 'cache');
  }
  return copy as unknown as JobConfigInput;
}

/** A preset's config by name (a copy); ConfigError listing the presets for an unknown one. */
export function presetConfig(name: string): JobConfigInput {
  const preset = PRESETS[name];
  if (!preset) throw new ConfigError(`unknown preset '${name}'; presets: ${Object.keys(PRESETS).join(', ')}`);
  return structuredClone(preset.config);
}

/** `optimizer.shared.lr=0.05`: the value is JSON where it parses (numbers, booleans, objects), else a string. */
export function applyOverride(config: JobConfigInput, assignment: string): JobConfigInput {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new ConfigError(`--set expects path=value, got '${assignment}'`);
  const keys = assignment.slice(0, eq).split('.');
  if (keys.some((k) => !k)) throw new ConfigError(`--set: malformed field path '${assignment.slice(0, eq)}'`);
  const bad = keys.find((k) => FORBIDDEN_KEYS.has(k));
  if (bad) throw forbiddenKey(bad, `--set ${assignment}`);
  const raw = assignment.slice(eq + 1);
  let value: Json;
  try {
    value = JSON.parse(raw) as Json;
  } catch {
    value = raw;
  }
  checkConfigKeys(value, `--set ${assignment}`);
  const root = structuredClone(config) as unknown as Record<string, Json>;
  let node: Record<string, Json> = root;
  for (const key of keys.slice(0, -1)) {
    const next = Object.hasOwn(node, key) ? node[key] : undefined;
    if (next === undefined) node[key] = {};
    else if (typeof next !== 'object' || next === null || Array.isArray(next))
      throw new ConfigError(`--set ${assignment}: '${key}' holds ${JSON.stringify(next)}, not a section`);
    node = node[key] as Record<string, Json>;
  }
  node[keys[keys.length - 1]!] = value;
  return root as unknown as JobConfigInput;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const key of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[key] : undefined;
  return v;
}

/** A value as given, in JSON except that NaN and infinities show as themselves (JSON would say null). */
function showValue(v: unknown): string {
  return JSON.stringify(v, (_, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? `\u0000${x}` : x)).replace(/"\\u0000([^"]+)"/g, '$1');
}

/** One line per problem: the field, the value given and what the schema allows. */
function describeIssues(input: unknown, error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const field = issue.path.map(String).join('.') || '(top level)';
      if (issue.code === 'unrecognized_keys')
        return `${field === '(top level)' ? '' : `${field}: `}unknown field(s) ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
      const given = valueAt(input, issue.path);
      if (issue.code === 'invalid_union' && given !== null && typeof given === 'object') {
        // A section with alternative forms: say what each form lacks or rejects.
        const forms = issue.errors.map((alt) =>
          alt
            .map((i) =>
              i.code === 'unrecognized_keys'
                ? `no field ${i.keys.map((k) => `'${k}'`).join(', ')}`
                : `${i.path.map(String).join('.') || 'value'}: ${i.message}`,
            )
            .join(', '),
        );
        return `${field}: got ${showValue(given)}, which fits none of its forms (${forms.map((f, i) => `form ${i + 1}: ${f}`).join('; ')})`;
      }
      return `${field}: ${given === undefined ? 'missing' : `got ${showValue(given)}`}; ${issue.message}`;
    })
    .join('\n  ');
}

/** Validate `input` against the schema and the late-phase registry; defaults filled in. */
export function resolveConfig(input: JobConfigInput, source: string): JobConfig {
  checkConfigKeys(input, `config ${source}`);
  const parsed = JOB_SCHEMA.safeParse(absolutePaths(input, process.cwd()));
  if (!parsed.success) throw new ConfigError(`config ${source}:\n  ${describeIssues(input, parsed.error)}`);
  const cfg = parsed.data;
  const fail = (why: string): never => {
    throw new ConfigError(`config ${source}: ${why}`);
  };
  try {
    parseLatePhaseChoice(cfg.latePhase.kinds);
    checkFoldOptions(cfg.latePhase.fold);
  } catch (err) {
    fail(`latePhase: ${(err as Error).message}`);
  }
  if (cfg.latePhase.enabled && cfg.latePhase.t0 >= cfg.epochs)
    fail(
      `latePhase.t0 ${cfg.latePhase.t0} leaves no late phase in ${cfg.epochs} epochs; use a t0 below epochs, or latePhase.enabled: false for plain training`,
    );
  if (cfg.schedule.kind === 'annealing' && cfg.schedule.start >= cfg.schedule.end)
    fail(`schedule: start ${cfg.schedule.start} must be below end ${cfg.schedule.end}`);
  if (cfg.swa && cfg.swa.start >= cfg.epochs) fail(`swa.start ${cfg.swa.start} is not an epoch of the run (0..${cfg.epochs - 1}, 0-based)`);
  if (cfg.swa && cfg.latePhase.enabled && cfg.swa.start < cfg.latePhase.t0)
    fail(
      `swa.start ${cfg.swa.start} is before latePhase.t0 ${cfg.latePhase.t0}: each member's weights are averaged over time on their own, and members exist only from release on`,
    );
  return cfg;
}

/**
 * The fields where two configs differ, as `field: a -> b` (JSON values), except those under the
 * paths in `ignore`. Used to refuse a resume whose config is not the interrupted run's.
 */
export function configDifferences(a: unknown, b: unknown, ignore: readonly string[] = [], at = ''): string[] {
  if (ignore.includes(at)) return [];
  const isSection = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isSection(a) && isSection(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => configDifferences(a[k], b[k], ignore, at ? `${at}.${k}` : k));
  }
  const show = (v: unknown): string => (v === undefined ? '(absent)' : JSON.stringify(v));
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [`${at || '(config)'}: ${show(a)} -> ${show(b)}`];
}
