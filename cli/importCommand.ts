/**
 * `latephase import <model.onnx>`: what the importer makes of a file: its signature, each operator
 * and the layers it became, the parameters, and where late-phase weights can go; with
 * `--late-phase`, the parameter counts those kinds give at K (as `inspect` does for the zoo).
 * Anything unsupported is the importer's ConfigError, naming every such node.
 */
import { ImportReport } from '../import/onnx/importOnnx';
import { importModelFile } from '../import/importModel';
import { describeChoice } from '../src/latephase/kindRegistry';
import { parameterCounts } from '../src/eval/parameterCounts';
import { Model } from '../src/nn/model';
import { FlagTable, FlagValues } from './args';
import { INSPECT_FLAGS, latePhaseChoiceFromFlags } from './inspectCommand';

export const IMPORT_FLAGS = {
  'late-phase': { ...INSPECT_FLAGS['late-phase'], help: 'late-phase kinds to apply, as for inspect (default none): their parameter counts at K' },
  k: INSPECT_FLAGS.k,
} as const satisfies FlagTable;

const n = (x: number): string => x.toLocaleString('en-US');

/** The report as text: signature, operators -> layers, parameters, late-phase candidates. */
export function formatImportReport(r: ImportReport, model: Model): string {
  const byOp = new Map<string, { count: number; became: Set<string> }>();
  for (const node of r.nodes) {
    const entry = byOp.get(node.op) ?? { count: 0, became: new Set<string>() };
    entry.count++;
    node.became.forEach((b) => entry.became.add(b));
    byOp.set(node.op, entry);
  }
  const ops = [...byOp].sort((a, b) => b[1].count - a[1].count).map(([op, e]) => `    ${op} x${e.count} -> ${[...e.became].join(', ')}`);
  const head = r.nodes.find((x) => x.output && x.became.includes('dense'));
  const layers = model.layers();
  const named = (kinds: readonly string[]): string[] => layers.filter((l) => kinds.includes(l.kind)).map((l) => l.name);
  const list = (names: readonly string[]): string =>
    names.length <= 4 ? names.join(', ') : `${names.slice(0, 3).join(', ')}, ..., ${names[names.length - 1]}`;
  const batchNorms = named(['batchnorm', 'latephase-batchnorm']);
  const weighted = named(['conv2d', 'dense']);
  return [
    `${r.file}: ${r.opset ? `opset ${r.opset}, ` : ''}producer ${r.producer}`,
    `  input  ${r.input.name} [${r.input.dims.join(', ')}] (${model.inputShape.length !== 3 ? 'features' : r.opset ? `NCHW; [${model.inputShape.join(', ')}] inside, NHWC` : 'NHWC as in tfjs; an ONNX export takes NCHW'})`,
    `  output ${r.output.name}`,
    `  ${r.nodes.length} nodes:`,
    ...ops,
    `  parameters: ${n(r.parameters)}`,
    `  late-phase candidates (a kind takes all, or the layers its name patterns match, e.g. batchNorm: ["${examplePattern(batchNorms.at(-1))}"]):`,
    `    batchNorm: ${batchNorms.length} BatchNorm layers${batchNorms.length ? `: ${list(batchNorms)}` : ''}`,
    `    head: ${head ? `'${head.name}' (${head.op})` : 'none (the output is not a Gemm/MatMul/Dense)'}`,
    `    rank1, full: ${weighted.length} conv and dense layers${weighted.length ? `: ${list(weighted)}` : ''}`,
  ].join('\n');
}

/** `/layer4/layer4.1/bn2/BatchNormalization` -> `/layer4*`: the last layer's first name part, as a pattern. */
function examplePattern(name: string | undefined): string {
  return `${/^\/?[^/.]+/.exec(name ?? '')?.[0] ?? 'bn'}*`;
}

export function importCommand(file: string, flags: FlagValues<typeof IMPORT_FLAGS>): string {
  const choice = flags['late-phase'] ? latePhaseChoiceFromFlags({ 'late-phase': flags['late-phase'] }) : {};
  const { model, report } = importModelFile(file, { latePhase: choice });
  try {
    const lines = [formatImportReport(report, model)];
    if (Object.keys(choice).length) {
      const k = flags['k'] ?? 10;
      const c = parameterCounts(model, k);
      lines.push(
        `  with ${describeChoice(choice)}: ${n(c.perMember)} late-phase parameters per member; at K = ${k} ${n(c.totalAtK)} (+${(100 * c.overhead).toFixed(2)}% while training)`,
      );
    }
    return lines.join('\n');
  } finally {
    model.dispose();
  }
}
