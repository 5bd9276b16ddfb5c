/** `latephase inspect <model>`: parameter counts per group, so the late-phase overhead is visible. */
import { buildModel, describeChoice, LatePhaseChoice } from '../../models/index';
import { ConfigError } from '../errors';
import { parameterCounts } from '../eval/parameterCounts';
import { foldMembers } from '../latephase/fold';
import { FlagSpec, FlagValues } from './args';

export const INSPECT_FLAGS: Readonly<Record<string, FlagSpec>> = {
  k: { kind: 'int', min: 1, help: 'members K (default 10)' },
  'late-phase': { kind: 'string', help: 'comma list of batchnorm, head, rank1, none (default batchnorm,head)' },
  templates: { kind: 'int', min: 1, help: 'template-bank late-phase weights with T templates' },
  full: { kind: 'string', help: 'comma list of layer names whose full weights are late-phase' },
  classes: { kind: 'int', min: 2, help: 'number of classes (default 10)' },
};

export function latePhaseChoiceFromFlags(flags: FlagValues): LatePhaseChoice {
  const words = String(flags['late-phase'] ?? 'batchnorm,head').split(',').map((w) => w.trim().toLowerCase()).filter(Boolean);
  const known = new Set(['batchnorm', 'bn', 'head', 'rank1', 'none']);
  const bad = words.filter((w) => !known.has(w));
  if (bad.length) throw new ConfigError(`--late-phase: unknown kind ${bad.map((w) => `'${w}'`).join(', ')}; use batchnorm, head, rank1 or none`);
  const templates = flags['templates'] as number | undefined;
  const full = flags['full'] === undefined ? undefined : String(flags['full']).split(',').map((s) => s.trim()).filter(Boolean);
  return {
    batchNorm: words.includes('batchnorm') || words.includes('bn'),
    head: words.includes('head'),
    rank1: words.includes('rank1'),
    ...(templates ? { templates } : {}),
    ...(full ? { full } : {}),
  };
}

const n = (x: number): string => x.toLocaleString('en-US');

export function inspectModel(name: string, flags: FlagValues): string {
  const choice = latePhaseChoiceFromFlags(flags);
  const k = (flags['k'] as number | undefined) ?? 10;
  const model = buildModel(name, { latePhase: choice, ...(flags['classes'] ? { classes: flags['classes'] as number } : {}) });
  const folded = foldMembers(model);
  try {
    const c = parameterCounts(model, k);
    const kinds = Object.entries(c.perMemberByKind).map(([kind, count]) => `${kind} ${n(count)}`).join(', ');
    const rows: Array<[string, string]> = [
      ['model', `${model.name}: input [${model.inputShape.join(', ')}], output [${model.outputShape.join(', ')}], ${model.layers().filter((l) => !l.children().length).length} layers`],
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
