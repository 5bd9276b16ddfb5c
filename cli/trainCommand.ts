/**
 * `latephase train <config.json|.yaml|preset>`: the training job from one validated config, with
 * `--set field.path=value` overrides; `--print-config` prints the resolved config and stops;
 * `--resume <out>` continues an interrupted run, `--restart` discards one.
 * `latephase presets` lists the named configs.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ConfigError, DataError } from '../src/errors';
import { JobConfig, JobConfigInput } from '../src/config/schema';
import { OutputFolder } from '../src/io/outputFolder';
import { readCheckpointHeader } from '../src/train/checkpoint';
import { STOP_ON_SIGNAL } from './signals';
import { applyOverride, loadConfigFile, presetConfig, resolveConfig } from '../src/config/resolve';
import { PRESETS } from '../src/config/presets';
import { RunSummary, runTrainJob } from '../job/trainJob';
import { PROGRESS_FILE } from '../export/bundle/layout';
import { FlagTable, FlagValues } from './args';
import { ProgressBar } from './progress';

export const TRAIN_FLAGS = {
  set: { kind: 'string', multiple: true, help: 'override a config field, e.g. --set optimizer.shared.lr=0.05 (JSON values; repeatable)' },
  out: { kind: 'string', help: "the output folder (the config's `output`; default out/<name>)" },
  'print-config': { kind: 'boolean', help: 'print the resolved config (every default filled in) and stop' },
  quiet: { kind: 'boolean', help: 'no progress bar' },
  resume: {
    kind: 'string',
    help: 'continue the interrupted run in this output folder, from its stored config (a config or --set given too must match it, except output and workers)',
  },
  restart: { kind: 'boolean', help: "discard an interrupted run's progress in the output folder and start over" },
} as const satisfies FlagTable;

/** A config file, or a preset name when no such file exists, with the overrides applied and validated. */
export function resolveJob(source: string, flags: FlagValues<typeof TRAIN_FLAGS>): JobConfig {
  const isFile = fs.existsSync(source);
  if (!isFile && !(source in PRESETS))
    throw new ConfigError(`'${source}' is neither a config file nor a preset; presets: ${Object.keys(PRESETS).join(', ')}`);
  let input = isFile ? loadConfigFile(source) : presetConfig(source);
  for (const assignment of flags['set'] ?? []) input = applyOverride(input, assignment);
  if (flags['out'] !== undefined) input = { ...input, output: path.resolve(flags['out']) };
  return resolveConfig(input, isFile ? `'${source}'` : `preset '${source}'`);
}

/**
 * `--resume <out>`: the interrupted run's stored config (with any --set applied), or the config
 * given, with the output folder set to <out>; the job refuses it if it differs from the stored one.
 */
function resumeJob(outDir: string, source: string | undefined, flags: FlagValues<typeof TRAIN_FLAGS>): JobConfig {
  if (flags['restart']) throw new ConfigError('--resume and --restart contradict each other');
  if (flags['out'] !== undefined) throw new ConfigError('--resume names the output folder itself; --out goes with a config or a preset');
  const progress = path.join(OutputFolder.workDirOf(outDir), PROGRESS_FILE);
  if (!fs.existsSync(progress)) throw new ConfigError(`nothing to resume in '${outDir}': no interrupted run's progress (${progress} does not exist)`);
  let cfg: JobConfig;
  if (source) cfg = resolveJob(source, flags);
  else {
    const stored = readCheckpointHeader(progress).meta['config'];
    if (typeof stored !== 'string') throw new DataError(`progress checkpoint '${progress}' holds no config`);
    let input = JSON.parse(stored) as JobConfigInput;
    for (const assignment of flags['set'] ?? []) input = applyOverride(input, assignment);
    cfg = resolveConfig(input, `stored in '${progress}'`);
  }
  return { ...cfg, output: outDir };
}

export async function trainCommand(source: string | undefined, flags: FlagValues<typeof TRAIN_FLAGS>): Promise<RunSummary | JobConfig> {
  const resume = flags['resume'];
  if (!source && !resume)
    throw new ConfigError(`'latephase train' needs a config file or a preset (${Object.keys(PRESETS).join(', ')}), or --resume <out>`);
  const cfg = resume ? resumeJob(resume, source, flags) : resolveJob(source!, flags);
  if (flags['print-config']) return cfg;
  const bar = flags['quiet'] ? null : new ProgressBar();
  return runTrainJob(cfg, { ...STOP_ON_SIGNAL, resume: resume !== undefined, restart: flags['restart'], onStep: (s) => bar?.update(s) });
}

export function presetList(): string {
  const width = Math.max(...Object.keys(PRESETS).map((n) => n.length));
  return Object.entries(PRESETS)
    .map(([name, p]) => `  ${name.padEnd(width)}  ${p.description}`)
    .join('\n');
}
