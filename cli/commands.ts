/**
 * Every `latephase` command in one table: its name, synopsis, summary, flags and handler. The
 * overview (`latephase --help`), each command's own help (`latephase <command> --help`) and the
 * dispatch in main.ts all read it, so a command is added in one place.
 */
import * as path from 'path';
import { ConfigError, VerificationError } from '../src/errors';
import { FlagTable, FlagValues, flagHelp, parseFlags } from './args';
import { RUN_FLAGS, runMnistJob, RunSummary } from './runCommand';
import { summaryTable } from './summaryTable';
import { INSPECT_FLAGS, inspectModel } from './inspectCommand';
import { IMPORT_FLAGS, importCommand } from './importCommand';
import { presetList, resolveJob, TRAIN_FLAGS, trainCommand } from './trainCommand';
import { VERIFY_FLAGS, verifyCommand } from './verifyCommand';
import { describeBackend, selectBackend } from '../src/backend/selectBackend';
import { buildNativeKernels } from '../src/backend/nativeKernels';
import { MODEL_NAMES } from '../models/index';
import { assertVerified } from '../export/verify/verify';
import { verifyBundle } from '../export/bundle/verifyBundle';
import { formatBundleCheck, formatNqpTable } from './reports';
import { runBundleJob } from '../job/bundleJob';
import { runExportJob } from '../job/exportJob';
import { collectCompare, markdownTable, parseVariants, plannedRuns, runCompare, VARIANTS } from '../job/compareJob';
import { DEFAULT_TIMING, enqueueRuns, runWorker } from '../job/compareQueue';
import { nqpTable } from '../src/analysis/noisyQuadratic';

interface Command<F extends FlagTable = FlagTable> {
  readonly name: string;
  /** What follows the name in a usage line, e.g. `<model.onnx> [flags]`. */
  readonly synopsis: string;
  /** One or more lines for the overview and the command's help. */
  readonly summary: string;
  readonly flags: F;
  /** The one positional argument: what the error says is missing, or absent when the command takes none. */
  readonly operand?: { readonly missing: string; readonly optional?: boolean };
  /** Runs the command; its exit code (errors are thrown, main.ts turns them into exit codes). */
  run(operand: string | undefined, flags: FlagValues<F>): Promise<number>;
}

/** A table entry with its flag types checked against its handler, then erased for the table. */
const command = <F extends FlagTable>(c: Command<F>): Command => c as unknown as Command;

/** Print a run's summary; a failed verification (folded, ensemble or fp16) becomes a VerificationError (exit 3). */
function reportRun(name: string, summary: RunSummary): number {
  console.log(`\nlatephase ${name}: summary\n${summaryTable(summary)}`);
  assertVerified(summary.verification);
  if (summary.ensembleVerification) assertVerified(summary.ensembleVerification);
  if (summary.fp16Pass === false)
    throw new VerificationError('the fp16-weight export does not match the fp32 export within fp16 tolerances (see fp16-verification.json)');
  return 0;
}

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

/** Comma-separated integers of at least `min`, or a ConfigError naming the flag. */
function integerList(raw: string, flag: string, min: number): number[] {
  const list = raw.split(',').map((v) => v.trim());
  if (!list.every((v) => /^\d+$/.test(v) && Number(v) >= min))
    throw new ConfigError(`--${flag} expects ${min > 0 ? 'positive' : 'non-negative'} integers separated by commas, got '${raw}'`);
  return list.map(Number);
}

/** The CLI's own path, for commands that start more `latephase` processes (compare runs, queue workers). */
const CLI = path.join(__dirname, 'main.js');

export const COMMANDS: readonly Command[] = [
  command({
    name: 'train',
    synopsis: '<config|preset> [flags]   or   latephase train --resume <out>',
    summary:
      'the training job from a JSON/YAML config or a preset: train, fold, export, verify, bundle;\n' +
      'with --resume, continue the run a kill, Ctrl-C or TERM interrupted in output folder <out>',
    flags: TRAIN_FLAGS,
    operand: { missing: 'a config file or a preset, or --resume <out>', optional: true }, // trainCommand names the presets
    run: async (source, flags) => {
      const result = await trainCommand(source, flags);
      if (!('verification' in result)) {
        console.log(JSON.stringify(result, null, 2));
        return 0;
      }
      return reportRun('train', result);
    },
  }),
  command({
    name: 'presets',
    synopsis: '',
    summary: 'the named configs',
    flags: {},
    run: () => {
      console.log(presetList());
      return Promise.resolve(0);
    },
  }),
  command({
    name: 'run',
    synopsis: '[flags]',
    summary: 'the mnist-cnn preset with flags: npm start',
    flags: RUN_FLAGS,
    run: async (_, flags) => reportRun('run', await runMnistJob(flags)),
  }),
  command({
    name: 'verify',
    synopsis: '<model.onnx> [flags]',
    summary:
      'inspect any ONNX file and check its outputs: golden data (model-zoo layout) first, then\n' +
      'optimised vs unoptimised onnxruntime on seeded trials at batch 1 and an odd batch',
    flags: VERIFY_FLAGS,
    operand: { missing: 'an ONNX file: latephase verify model.onnx' },
    run: async (file, flags) => {
      const report = await verifyCommand(file!, flags);
      if (report.pass) return 0;
      if (flags['warn-only']) {
        console.error('latephase verify: outputs differ (see the table); exiting 0 because of --warn-only');
        return 0;
      }
      const failing = report.outputs.filter((o) => !o.pass).map((o) => o.output);
      const against = report.modelReference && !report.modelReference.pass ? ['the tfjs model rebuilt from the bundle differs'] : [];
      throw new VerificationError(
        `'${file}': ${[...(failing.length ? [`${failing.join(', ')} outside tolerance`] : []), ...against].join('; ')} (see the table)`,
      );
    },
  }),
  command({
    name: 'bundle',
    synopsis: '<folder|ckpt> [flags]',
    summary:
      'a new bundle from a trained model (its checkpoint and stored config), no training:\n' +
      'other export options with --set export.fp16=true, --set export.ensemble=true, ...',
    flags: BUNDLE_FLAGS,
    operand: { missing: 'a bundle folder or a checkpoint file' },
    run: async (source, flags) => {
      const set = [...(flags['set'] ?? []), ...(flags['out'] ? [`output=${JSON.stringify(flags['out'])}`] : [])];
      return reportRun('bundle', await runBundleJob(source!, { set }));
    },
  }),
  command({
    name: 'compare',
    synopsis: '<config|preset> [flags]',
    summary:
      'every variant (base, late, swa, late+swa, ensemble) over seeds, as separate runs, then\n' +
      'a table (mean +- std): markdown, JSON and SVG; finished runs are skipped, killed ones resume',
    flags: COMPARE_FLAGS,
    operand: { missing: 'a config file or a preset' },
    run: async (source, flags) => {
      const cfg = resolveJob(source!, { set: flags['set'] });
      const options = {
        seeds: integerList(flags['seeds'] ?? '0,1,2', 'seeds', 0),
        variants: parseVariants(flags['variants'] ?? VARIANTS.join(',')),
        jobs: flags['jobs'] ?? 1,
        out: path.resolve(flags['out'] ?? path.join('out', `compare-${cfg.name}`)),
        cli: CLI,
      };
      const queue = flags['queue'];
      if (flags['collect'] && !queue) throw new ConfigError('--collect goes with --queue (a local compare builds its table itself)');
      if (queue && !flags['collect']) {
        const added = await enqueueRuns(queue, plannedRuns(cfg, options));
        console.log(
          `compare: ${added} run(s) enqueued on ${queue}; start workers with: latephase worker --queue ${queue}; then: latephase compare ${source} ... --queue ${queue} --collect`,
        );
        return 0;
      }
      console.log(markdownTable(await (queue ? collectCompare(cfg, source!, options) : runCompare(cfg, source!, options))));
      return 0;
    },
  }),
  command({
    name: 'worker',
    synopsis: '--queue <url> [flags]',
    summary: 'take compare runs off a BullMQ queue (any number of machines sharing the output storage)',
    flags: WORKER_FLAGS,
    run: async (_, flags) => {
      if (!flags['queue']) throw new ConfigError("'latephase worker' needs --queue redis://host:port");
      const done = await runWorker({
        url: flags['queue'],
        cli: CLI,
        concurrency: flags['concurrency'],
        idleExit: flags['idle-exit'],
        timing: {
          lockDuration: flags['lock-ms'] ?? DEFAULT_TIMING.lockDuration,
          stalledInterval: flags['stalled-ms'] ?? DEFAULT_TIMING.stalledInterval,
        },
      });
      console.log(`worker: ${done} run(s) trained; stopping`);
      return 0;
    },
  }),
  command({
    name: 'nqp',
    synopsis: '[flags]',
    summary: 'the noisy quadratic problem: stationary variances, closed form vs simulation of Algorithm 1',
    flags: NQP_FLAGS,
    run: (_, flags) => {
      const ks = integerList(flags['k'] ?? '1,2,5,10', 'k', 1);
      const eta = flags['eta'] ?? 0.05;
      const base = { h: 2, sigma: 1, etaPhi: eta, etaTheta: eta };
      console.log(formatNqpTable(nqpTable(ks, base, flags['iterations'] ?? 200_000, flags['seed'] ?? 0), base));
      return Promise.resolve(0);
    },
  }),
  command({
    name: 'verify-bundle',
    synopsis: '<folder>',
    summary: 're-check a bundle offline: file hashes, golden data replayed, Triton configs vs graphs',
    flags: {},
    operand: { missing: 'a bundle folder' },
    run: async (folder) => {
      const check = await verifyBundle(folder!);
      console.log(formatBundleCheck(check));
      if (!check.pass) throw new VerificationError(`bundle '${folder}' does not check out (see above)`);
      return 0;
    },
  }),
  command({
    name: 'import',
    synopsis: '<model.onnx | model.json> [flags]',
    summary: 'what an ONNX or TensorFlow.js model becomes at import: operators -> layers, parameters, where late-phase weights can go',
    flags: IMPORT_FLAGS,
    operand: { missing: 'an ONNX file or a tfjs model.json' },
    run: async (file, flags) => {
      await selectBackend();
      console.log(importCommand(file!, flags));
      return 0;
    },
  }),
  command({
    name: 'export',
    synopsis: '<model.onnx | model.json> --out <dir>',
    summary:
      'convert without training: import, export, verify; an ONNX original must be matched as a drop-in (same signature, outputs within 1e-5), a tfjs one by its own predict',
    flags: { out: { kind: 'string', help: 'the output folder (written as one transaction)' } },
    operand: { missing: 'an ONNX file or a tfjs model.json' },
    run: async (file, flags) => {
      if (!flags['out']) throw new ConfigError("'latephase export' needs --out <dir>");
      await selectBackend();
      const s = await runExportJob(file!, flags['out']);
      assertVerified(s.verification);
      if (!s.dropIn.pass)
        throw new VerificationError(
          `the export is not a drop-in for '${file}': ${s.dropIn.signature ? '' : `signature ${s.dropIn.signatureProblems.join('; ')}; `}max abs ${s.dropIn.maxAbs.toExponential(2)}`,
        );
      console.log(`latephase export: ${s.outDir} (verified; a drop-in for ${file})`);
      return 0;
    },
  }),
  command({
    name: 'build-native',
    synopsis: '[--nodedir <dir>]',
    summary:
      "compile the native kernels for this machine (-march=native) where no prebuilt binary fits (not linux-x64) or for a CPU-tuned build: needs a C compiler and Node's headers",
    flags: {
      nodedir: {
        kind: 'string',
        help: "a Node source or headers folder with include/node/node_api.h (default: beside node, Node's prefix, node-gyp's cache)",
      },
    },
    run: async (_, flags) => {
      const reason = buildNativeKernels(flags['nodedir']);
      if (reason !== null) throw new ConfigError(`the native kernels could not be built: ${reason}`);
      const backend = await selectBackend('wasm');
      console.log(`latephase build-native: built; the backend now reports: ${describeBackend(backend)}`);
      return 0;
    },
  }),
  command({
    name: 'inspect',
    synopsis: '<model> [flags]',
    summary: `parameter counts: shared, late-phase per member, total at K\nmodels: ${MODEL_NAMES.join(', ')}`,
    flags: INSPECT_FLAGS,
    operand: { missing: `a model name: ${MODEL_NAMES.join(', ')}` },
    run: async (model, flags) => {
      await selectBackend();
      console.log(inspectModel(model!, flags));
      return 0;
    },
  }),
];

const indent = (text: string, by: number): string =>
  text
    .split('\n')
    .map((l, i) => (i === 0 ? l : `${' '.repeat(by)}${l}`))
    .join('\n');

/** `latephase --help`: every command in a line or two, then how to get one command's flags. */
export function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    'usage: latephase <command> [flags]   (latephase --version prints the version)',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${indent(c.summary, width + 2)}`),
    '',
    "each command's flags: latephase <command> --help",
  ].join('\n');
}

/** `latephase <command> --help`: its usage line, what it does and its flags only. */
export function commandHelp(c: Command): string {
  const flags = Object.keys(c.flags).length ? `\n\nflags:\n${flagHelp(c.flags)}` : '';
  return `usage: latephase ${c.name}${c.synopsis ? ` ${c.synopsis}` : ''}\n\n${c.summary}${flags}`;
}

/** Run `args` (after the command's name) through `c`: its operand and flags checked, then its handler. */
export async function runCommand(c: Command, args: readonly string[]): Promise<number> {
  const [first, ...others] = args;
  const hasOperand = c.operand !== undefined && first !== undefined && !first.startsWith('--');
  if (c.operand && !hasOperand && !c.operand.optional) throw new ConfigError(`'latephase ${c.name}' needs ${c.operand.missing}`);
  const flags = parseFlags(hasOperand ? others : args, c.flags, c.name);
  return c.run(hasOperand ? first : undefined, flags);
}
