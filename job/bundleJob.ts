/**
 * `latephase bundle <bundle folder | checkpoint>`: a new bundle from a trained model without
 * training again: the checkpoint's resolved config names the recipe and data, `--set` may change
 * only what happens after training (export, verify, evaluation, output, backend), and the result
 * is evaluated, exported, verified and published like a training run's (finishRun.ts).
 */
import * as fs from 'fs';
import * as path from 'path';
import { ConfigError, DataError } from '../src/errors';
import { applyOverride, configDifferences, resolveConfig } from '../src/config/resolve';
import { JobConfigInput } from '../src/config/schema';
import { dataForModel, loadJobData } from '../src/config/dataSource';
import { buildFromRecipe } from '../src/nn/modelRecipe';
import { loadCheckpoint, readCheckpointHeader } from '../src/train/checkpoint';
import { selectBackend, describeBackend } from '../src/backend/selectBackend';
import { OutputFolder } from '../src/io/outputFolder';
import { CHECKPOINT_FILE, METRICS_LOG_FILE, PROGRESS_FILE } from '../export/bundle/layout';
import { finishRun, RunSummary } from './finishRun';
import { planRun } from './runPlan';

/** What a re-bundle may change: everything after training. */
const BUNDLE_MAY_CHANGE: readonly string[] = ['export', 'verify', 'evaluation', 'output', 'backend', 'name', 'workers'];

interface BundleJobOptions {
  readonly set?: readonly string[];
  readonly log?: (line: string) => void;
}

export async function runBundleJob(source: string, opts: BundleJobOptions = {}): Promise<RunSummary> {
  const log = opts.log ?? console.log;
  const started = Date.now();
  const file = fs.existsSync(source) && fs.statSync(source).isDirectory() ? path.join(source, CHECKPOINT_FILE) : source;
  const meta = readCheckpointHeader(file).meta;
  const stored = meta['config'];
  const before = typeof meta['accuracyBeforeLatePhase'] === 'number' ? meta['accuracyBeforeLatePhase'] : null;
  if (typeof stored !== 'string') throw new DataError(`checkpoint '${file}' holds no config (write it with a training run)`);
  const original = JSON.parse(stored) as JobConfigInput;
  let input = original;
  for (const assignment of opts.set ?? []) input = applyOverride(input, assignment);
  const changed = configDifferences(original, input, BUNDLE_MAY_CHANGE);
  if (changed.length)
    throw new ConfigError(`latephase bundle re-exports a trained model: only ${BUNDLE_MAY_CHANGE.join(', ')} may change, not ${changed.join('; ')}`);
  const plan = planRun(resolveConfig(input, `stored in '${file}'`));
  const sourceDir = path.dirname(path.resolve(file));
  const logFile = path.join(sourceDir, METRICS_LOG_FILE);
  const metricsLog = fs.existsSync(logFile) ? fs.readFileSync(logFile) : null; // read now: the output folder may be this one
  const folder = OutputFolder.open(plan.outDir, log);
  try {
    // A new bundle completes the folder, which would drop an interrupted training run's progress there.
    if (fs.existsSync(path.join(folder.workDir, PROGRESS_FILE)))
      throw new ConfigError(
        `output folder '${folder.target}' holds an interrupted training run; finish it (latephase train --resume ${folder.target}) or bundle into another --out`,
      );
    const backend = await selectBackend(plan.backend);
    log(`backend: ${describeBackend(backend, true)}`);
    const loaded = await loadJobData(plan.data);
    log(`data: ${loaded.description}`);
    const model = buildFromRecipe(plan.model.recipe(loaded.train.classes));
    try {
      const data = dataForModel(loaded, model);
      loadCheckpoint(model, file);
      log(`model: restored from ${file}`);
      return await finishRun({ plan, model, data, folder, backend, workers: 0, before, metricsLog, log, started });
    } finally {
      model.dispose();
    }
  } finally {
    folder.close();
  }
}
