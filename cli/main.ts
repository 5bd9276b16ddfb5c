#!/usr/bin/env node
/** The `latephase` command line. Exit codes: 0 ok, 1 unexpected error, 2 bad input/config, 3 verification failed. */
import { ConfigError, LatePhaseError, TrainingInterrupted, VerificationError } from '../src/errors';
import { installSignalHandlers, stopExitCode } from './signals';
import { flagHelp, parseFlags } from './args';
import { RUN_FLAGS, runMnistJob, RunSummary, summaryTable } from './runCommand';
import { INSPECT_FLAGS, inspectModel } from './inspectCommand';
import { selectBackend } from '../src/backend/selectBackend';
import { MODEL_NAMES } from '../models/index';
import { assertVerified } from '../export/verify/verify';
import { presetList, TRAIN_FLAGS, trainCommand } from './trainCommand';
import { VERIFY_FLAGS, verifyCommand } from './verifyCommand';
import { formatBundleCheck, verifyBundle } from '../export/bundle/verifyBundle';
import { runBundleJob } from '../job/bundleJob';
import * as fs from 'fs';
import * as path from 'path';
import { collectCompare, markdownTable, parseVariants, plannedRuns, runCompare, VARIANTS } from '../job/compareJob';
import { DEFAULT_TIMING, enqueueRuns, runWorker } from '../job/compareQueue';
import { resolveJob } from './trainCommand';
import { formatNqpTable, nqpTable } from '../src/analysis/noisyQuadratic';
import type { FlagTable } from './args';

const NQP_FLAGS = {
  k: { kind: 'string', help: 'member counts, comma-separated (default 1,2,5,10)' },
  eta: { kind: 'number', min: 0, help: 'learning rate of members and shared weights (default 0.05)' },
  iterations: { kind: 'int', min: 1000, max: 10_000_000, help: 'simulated outer iterations per row (default 200000)' },
  seed: { kind: 'int', min: 0, help: 'seed of the simulated minibatch noise (default 0)' },
} as const satisfies FlagTable;

const COMPARE_FLAGS = {
  seeds: { kind: 'string', help: 'seeds, comma-separated (default 0,1,2)' },
  variants: { kind: 'string', help: `variants, comma-separated (default ${VARIANTS.join(',')})` },
  jobs: { kind: 'int', min: 1, max: 64, help: 'runs at once, each a separate process (default 1)' },
  out: { kind: 'string', help: 'folder of the runs and the table (default out/compare-<name>)' },
  set: { kind: 'string', multiple: true, help: 'override a field of the compared config (repeatable)' },
  queue: { kind: 'string', help: 'redis://host:port: enqueue the runs on BullMQ for `latephase worker`s instead of running them' },
  collect: { kind: 'boolean', help: 'with --queue: build the table once every run is finished' },
} as const satisfies FlagTable;

const WORKER_FLAGS = {
  queue: { kind: 'string', help: 'redis://host:port of the compare queue (required)' },
  concurrency: { kind: 'int', min: 1, max: 64, help: 'runs at once in this worker (default 1)' },
  'idle-exit': { kind: 'int', min: 1, help: 'exit after this many seconds with nothing to do (default: run until TERM/Ctrl-C)' },
  'lock-ms': { kind: 'int', min: 1000, help: "a run's lock lifetime: how soon a killed worker's run is taken over (default 60000)" },
  'stalled-ms': { kind: 'int', min: 500, help: 'how often this worker looks for runs of killed workers (default 30000)' },
} as const satisfies FlagTable;

const BUNDLE_FLAGS = {
  set: {
    kind: 'string',
    multiple: true,
    help: 'change what happens after training, e.g. --set export.fp16=true (export, verify, evaluation, output, backend)',
  },
  out: { kind: 'string', help: "output folder (default: the stored config's)" },
} as const satisfies FlagTable;

const USAGE = `usage: latephase <command> [flags]   (latephase --version prints the version)

commands:
  train <config|preset>  the training job from a JSON/YAML config or a preset: train, fold, export, verify, bundle
  train --resume <out>   continue the run a kill, Ctrl-C or TERM interrupted in output folder <out>
  presets                the named configs
  run                    the mnist-cnn preset with flags: npm start
  verify <model.onnx>    inspect any ONNX file and check its outputs: optimised vs unoptimised onnxruntime,
                         seeded trials at batch 1 and an odd batch, golden data (model-zoo layout)
  bundle <folder|ckpt>    a new bundle from a trained model (its checkpoint and stored config), no training:
                         other export options with --set export.fp16=true, --set export.ensemble=true, ...
  compare <config|preset> every variant (base, late, swa, late+swa, ensemble) over seeds, as separate runs, then
                         a table (mean +- std): markdown, JSON and SVG; finished runs are skipped, killed ones resume
  worker --queue <url>   take compare runs off a BullMQ queue (any number of machines sharing the output storage)
  nqp                    the noisy quadratic problem: stationary variances, closed form vs simulation of Algorithm 1
  verify-bundle <folder> re-check a bundle offline: file hashes, golden data replayed, Triton config vs graph
  inspect <model>        parameter counts: shared, late-phase per member, total at K
                         models: ${MODEL_NAMES.join(', ')}

'latephase train' flags:
${flagHelp(TRAIN_FLAGS)}

'latephase run' flags:
${flagHelp(RUN_FLAGS)}

'latephase bundle' flags:
${flagHelp(BUNDLE_FLAGS)}

'latephase compare' flags:
${flagHelp(COMPARE_FLAGS)}

'latephase worker' flags:
${flagHelp(WORKER_FLAGS)}

'latephase nqp' flags:
${flagHelp(NQP_FLAGS)}

'latephase verify' flags:
${flagHelp(VERIFY_FLAGS)}

'latephase inspect' flags:
${flagHelp(INSPECT_FLAGS)}`;

/** Print a run's summary; a failed verification (folded, ensemble or fp16) becomes a VerificationError (exit 3). */
function reportRun(command: string, summary: RunSummary): number {
  console.log(`\nlatephase ${command}: summary\n${summaryTable(summary)}`);
  assertVerified(summary.verification);
  if (summary.ensembleVerification) assertVerified(summary.ensembleVerification);
  if (summary.fp16Pass === false)
    throw new VerificationError('the fp16-weight export does not match the fp32 export within fp16 tolerances (see fp16-verification.json)');
  return 0;
}

/** The version in the package's own package.json (dist/cli/ sits two folders below it). */
function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
}

function exitCodeFor(err: unknown): number {
  if (err instanceof TrainingInterrupted) return stopExitCode();
  if (err instanceof VerificationError) return 3;
  if (err instanceof LatePhaseError) return 2;
  return 1;
}

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  if (command === '--version' || command === '-v') {
    console.log(`latephase ${packageVersion()}`);
    return 0;
  }
  try {
    if (!['train', 'presets', 'run', 'bundle', 'verify', 'verify-bundle', 'compare', 'worker', 'nqp', 'inspect'].includes(command))
      throw new ConfigError(
        `unknown command '${command}'; expected train, presets, run, bundle, verify, verify-bundle, compare, worker, nqp or inspect (see latephase --help)`,
      );
    if (rest.includes('--help') || rest.includes('-h')) {
      console.log(USAGE);
      return 0;
    }
    if (command === 'inspect') {
      const [model, ...flags] = rest;
      if (!model || model.startsWith('--')) throw new ConfigError(`'latephase inspect' needs a model name: ${MODEL_NAMES.join(', ')}`);
      const parsed = parseFlags(flags, INSPECT_FLAGS, 'inspect');
      await selectBackend();
      console.log(inspectModel(model, parsed));
      return 0;
    }
    if (command === 'verify') {
      const [file, ...flags] = rest;
      if (!file || file.startsWith('--')) throw new ConfigError("'latephase verify' needs an ONNX file: latephase verify model.onnx");
      const parsed = parseFlags(flags, VERIFY_FLAGS, 'verify');
      const report = await verifyCommand(file, parsed);
      if (report.pass) return 0;
      if (parsed['warn-only']) {
        console.error('latephase verify: outputs differ (see the table); exiting 0 because of --warn-only');
        return 0;
      }
      const failing = report.outputs.filter((o) => !o.pass).map((o) => o.output);
      const against = report.modelReference && !report.modelReference.pass ? ['the tfjs model rebuilt from the bundle differs'] : [];
      throw new VerificationError(
        `'${file}': ${[...(failing.length ? [`${failing.join(', ')} outside tolerance`] : []), ...against].join('; ')} (see the table)`,
      );
    }
    if (command === 'compare') {
      const [source, ...flags] = rest;
      if (!source || source.startsWith('--')) throw new ConfigError("'latephase compare' needs a config file or a preset");
      const parsed = parseFlags(flags, COMPARE_FLAGS, 'compare');
      const cfg = resolveJob(source, { set: parsed['set'] });
      const seeds = (parsed['seeds'] ?? '0,1,2').split(',').map((v) => v.trim());
      if (!seeds.every((v) => /^\d+$/.test(v)))
        throw new ConfigError(`--seeds expects non-negative integers separated by commas, got '${parsed['seeds']}'`);
      const options = {
        seeds: seeds.map(Number),
        variants: parseVariants(parsed['variants'] ?? VARIANTS.join(',')),
        jobs: parsed['jobs'] ?? 1,
        out: path.resolve(parsed['out'] ?? path.join('out', `compare-${cfg.name}`)),
        cli: __filename,
      };
      const queue = parsed['queue'];
      if (parsed['collect'] && !queue) throw new ConfigError('--collect goes with --queue (a local compare builds its table itself)');
      if (queue && !parsed['collect']) {
        const added = await enqueueRuns(queue, plannedRuns(cfg, options));
        console.log(
          `compare: ${added} run(s) enqueued on ${queue}; start workers with: latephase worker --queue ${queue}; then: latephase compare ${source} ... --queue ${queue} --collect`,
        );
        return 0;
      }
      console.log(markdownTable(await (queue ? collectCompare(cfg, source, options) : runCompare(cfg, source, options))));
      return 0;
    }
    if (command === 'worker') {
      const parsed = parseFlags(rest, WORKER_FLAGS, 'worker');
      if (!parsed['queue']) throw new ConfigError("'latephase worker' needs --queue redis://host:port");
      const done = await runWorker({
        url: parsed['queue'],
        cli: __filename,
        concurrency: parsed['concurrency'],
        idleExit: parsed['idle-exit'],
        timing: {
          lockDuration: parsed['lock-ms'] ?? DEFAULT_TIMING.lockDuration,
          stalledInterval: parsed['stalled-ms'] ?? DEFAULT_TIMING.stalledInterval,
        },
      });
      console.log(`worker: ${done} run(s) trained; stopping`);
      return 0;
    }
    if (command === 'nqp') {
      const parsed = parseFlags(rest, NQP_FLAGS, 'nqp');
      const ks = (parsed['k'] ?? '1,2,5,10').split(',').map((v) => v.trim());
      if (!ks.every((v) => /^\d+$/.test(v) && Number(v) >= 1))
        throw new ConfigError(`--k expects positive integers separated by commas, got '${parsed['k']}'`);
      const eta = parsed['eta'] ?? 0.05;
      const base = { h: 2, sigma: 1, etaPhi: eta, etaTheta: eta };
      console.log(formatNqpTable(nqpTable(ks.map(Number), base, parsed['iterations'] ?? 200_000, parsed['seed'] ?? 0), base));
      return 0;
    }
    if (command === 'bundle') {
      const [source, ...flags] = rest;
      if (!source || source.startsWith('--')) throw new ConfigError("'latephase bundle' needs a bundle folder or a checkpoint file");
      const parsed = parseFlags(flags, BUNDLE_FLAGS, 'bundle');
      const set = [...(parsed['set'] ?? []), ...(parsed['out'] ? [`output=${JSON.stringify(parsed['out'])}`] : [])];
      const summary = await runBundleJob(source, { set });
      return reportRun('bundle', summary);
    }
    if (command === 'verify-bundle') {
      const [folder, ...flags] = rest;
      if (!folder || folder.startsWith('--')) throw new ConfigError("'latephase verify-bundle' needs a bundle folder");
      parseFlags(flags, {}, 'verify-bundle');
      const check = await verifyBundle(folder);
      console.log(formatBundleCheck(check));
      if (!check.pass) throw new VerificationError(`bundle '${folder}' does not check out (see above)`);
      return 0;
    }
    if (command === 'presets') {
      console.log(presetList());
      return 0;
    }
    if (command === 'train') {
      const [first, ...others] = rest;
      const source = first && !first.startsWith('--') ? first : undefined;
      const result = await trainCommand(source, parseFlags(source ? others : rest, TRAIN_FLAGS, 'train'));
      if (!('verification' in result)) {
        console.log(JSON.stringify(result, null, 2));
        return 0;
      }
      return reportRun('train', result);
    }
    return reportRun('run', await runMnistJob(parseFlags(rest, RUN_FLAGS, 'run')));
  } catch (err) {
    const name = err instanceof Error ? err.name : 'Error';
    const message = err instanceof Error ? err.message : String(err);
    console.error(`latephase: ${name}: ${message}`);
    if (!(err instanceof LatePhaseError) && err instanceof Error && err.stack) console.error(err.stack);
    return exitCodeFor(err);
  }
}

if (require.main === module) {
  installSignalHandlers();
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
