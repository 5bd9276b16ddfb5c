/**
 * `latephase train <config.json|.yaml|preset>`: the training job from one validated config, with
 * `--set field.path=value` overrides; `--print-config` prints the resolved config and stops.
 * `latephase presets` lists the named configs.
 */
import * as fs from 'fs';
import { ConfigError } from '../src/errors';
import { JobConfig } from '../src/config/schema';
import { applyOverride, loadConfigFile, presetConfig, resolveConfig } from '../src/config/resolve';
import { PRESETS } from '../src/config/presets';
import { RunSummary, runTrainJob } from '../job/trainJob';
import { FlagTable, FlagValues } from './args';
import { ProgressBar } from './progress';

export const TRAIN_FLAGS = {
  set: { kind: 'string', multiple: true, help: 'override a config field, e.g. --set optimizer.shared.lr=0.05 (JSON values; repeatable)' },
  'print-config': { kind: 'boolean', help: 'print the resolved config (every default filled in) and stop' },
  quiet: { kind: 'boolean', help: 'no progress bar' },
} as const satisfies FlagTable;

/** A config file, or a preset name when no such file exists, with the overrides applied and validated. */
export function resolveJob(source: string, flags: FlagValues<typeof TRAIN_FLAGS>): JobConfig {
  const isFile = fs.existsSync(source);
  if (!isFile && !(source in PRESETS))
    throw new ConfigError(`'${source}' is neither a config file nor a preset; presets: ${Object.keys(PRESETS).join(', ')}`);
  let input = isFile ? loadConfigFile(source) : presetConfig(source);
  for (const assignment of flags['set'] ?? []) input = applyOverride(input, assignment);
  return resolveConfig(input, isFile ? `'${source}'` : `preset '${source}'`);
}

export async function trainCommand(source: string, flags: FlagValues<typeof TRAIN_FLAGS>): Promise<RunSummary | JobConfig> {
  const cfg = resolveJob(source, flags);
  if (flags['print-config']) return cfg;
  const bar = flags['quiet'] ? null : new ProgressBar();
  return runTrainJob(cfg, { onStep: (s) => bar?.update(s) });
}

export function presetList(): string {
  const width = Math.max(...Object.keys(PRESETS).map((n) => n.length));
  return Object.entries(PRESETS)
    .map(([name, p]) => `  ${name.padEnd(width)}  ${p.description}`)
    .join('\n');
}
