/** `latephase inspect <model>`: parameter counts per group, so the late-phase overhead is visible. */
import { buildModel } from '../models/index';
import { describeChoice, LatePhaseChoice, latePhaseKinds } from '../src/latephase/kindRegistry';
import { ConfigError } from '../src/errors';
import { parameterCounts } from '../src/eval/parameterCounts';
import { foldMembers } from '../src/latephase/fold';
import { FlagTable, FlagValues } from './args';

export const INSPECT_FLAGS = {
  k: { kind: 'int', min: 1, help: 'members K (default 10)' },
  'late-phase': {
    kind: 'string',
    help: `comma list of late-phase kinds, each a word or word=value (default batchnorm,head; 'none' for none): ${kindWords()}`,
  },
  classes: { kind: 'int', min: 2, help: 'number of classes (default 10)' },
} as const satisfies FlagTable;

function kindWords(): string {
  return latePhaseKinds()
    .map((k) => k.key.toLowerCase())
    .join(', ');
}

/** `batchnorm,head`, `rank1`, `templates=7,head`, `full=conv1+conv2`, `none`: each word names a registered kind. */
export function latePhaseChoiceFromFlags(flags: FlagValues<typeof INSPECT_FLAGS>): LatePhaseChoice {
  const words = String(flags['late-phase'] ?? 'batchnorm,head')
    .split(',')
    .map((w) => w.trim())
    .filter(Boolean);
  const choice: Record<string, unknown> = {};
  for (const word of words) {
    if (word.toLowerCase() === 'none') continue;
    const eq = word.indexOf('=');
    const name = (eq < 0 ? word : word.slice(0, eq)).toLowerCase();
    const kind = latePhaseKinds().find((k) => k.key.toLowerCase() === name);
    if (!kind) throw new ConfigError(`--late-phase: unknown kind '${name}'; known: ${kindWords()}, none`);
    choice[kind.key] = eq < 0 ? 'true' : word.slice(eq + 1);
  }
  return choice;
}

const n = (x: number): string => x.toLocaleString('en-US');

export function inspectModel(name: string, flags: FlagValues<typeof INSPECT_FLAGS>): string {
  const choice = latePhaseChoiceFromFlags(flags);
  const k = flags['k'] ?? 10;
  const model = buildModel(name, { latePhase: choice, ...(flags['classes'] ? { classes: flags['classes'] } : {}) });
  const folded = foldMembers(model);
  try {
    const c = parameterCounts(model, k);
    const kinds = Object.entries(c.perMemberByKind)
      .map(([kind, count]) => `${kind} ${n(count)}`)
      .join(', ');
    const rows: Array<[string, string]> = [
      [
        'model',
        `${model.name}: input [${model.inputShape.join(', ')}], output [${model.outputShape.join(', ')}], ${model.layers().filter((l) => !l.children().length).length} layers`,
      ],
      ['late-phase weights', describeChoice(choice)],
      ['shared parameters', n(c.shared)],
      ['late-phase per member', `${n(c.perMember)}${kinds ? ` (${kinds})` : ''} = ${((100 * c.perMember) / c.single).toFixed(3)}% of the model`],
      ['single model (K = 1)', n(c.single)],
      [`total at K = ${k}`, `${n(c.totalAtK)} (+${(100 * c.overhead).toFixed(2)}% while training)`],
      ['folded plain model', `${n(folded.parameterCount())} (what is exported)`],
    ];
    const width = Math.max(...rows.map(([key]) => key.length));
    return rows.map(([key, v]) => `  ${key.padEnd(width)}  ${v}`).join('\n');
  } finally {
    folded.dispose();
    model.dispose();
  }
}
