/**
 * SVG plots of a run, drawn by Vega-Lite compiled and rendered headless by Vega (no canvas, no
 * browser): the training loss, the learning rate, held-out accuracy per epoch (members, the
 * implicit ensemble, the layerwise average and the final folded model after T0) and the
 * reliability diagram of the folded model and the ensemble. The bundle writer writes them (layout.ts names them).
 */
import type { TopLevelSpec } from 'vega-lite';
import { ReliabilityBin } from '../src/eval/metrics';
import { PLOT_FILES, PlotFile } from '../export/bundle/layout';

/** The records of metrics.jsonl the plots read. */
interface StepRecord {
  readonly kind: 'step';
  readonly phase: string;
  readonly step: number;
  readonly lr: number;
  readonly loss: number;
}
interface EpochRecord {
  readonly kind: 'epoch';
  readonly epoch: number;
  readonly test: {
    readonly model?: { readonly accuracy: number };
    readonly members?: ReadonlyArray<{ readonly accuracy: number }>;
    readonly ensemble?: { readonly accuracy: number };
    readonly average?: { readonly accuracy: number };
  };
}
export type LogRecord = StepRecord | EpochRecord;

/** A Vega-Lite spec rendered to an SVG string, headless. */
export async function svg(spec: TopLevelSpec): Promise<string> {
  // Loaded when a plot is drawn: commands that draw none do not pay for loading vega at start.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const [vega, { compile }] = [require('vega') as typeof import('vega'), require('vega-lite') as typeof import('vega-lite')];
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const line = (
  title: string,
  values: object[],
  x: string,
  y: string,
  series: string,
  yTitle: string,
  xType: 'quantitative' | 'ordinal' = 'quantitative',
): TopLevelSpec => ({
  $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
  title,
  width: 420,
  height: 240,
  data: { values },
  mark: { type: 'line', point: values.length < 60 },
  encoding: {
    x: { field: x, type: xType, axis: { labelAngle: 0 } },
    y: { field: y, type: 'quantitative', title: yTitle, scale: { zero: false } },
    color: { field: series, type: 'nominal', title: null, legend: { labelLimit: 400 } },
  },
});

/** Accuracy series per epoch: 'model' before T0; each member, 'ensemble' and 'average' after; 'folded' at the end. */
function accuracySeries(epochs: readonly EpochRecord[], foldedAccuracy: number): object[] {
  const out: object[] = [];
  for (const e of epochs) {
    const t = e.test;
    if (t.model) out.push({ epoch: e.epoch, series: 'model (before T0)', accuracy: t.model.accuracy });
    t.members?.forEach((m, k) => out.push({ epoch: e.epoch, series: `member ${k}`, accuracy: m.accuracy }));
    if (t.ensemble) out.push({ epoch: e.epoch, series: 'ensemble (mean softmax)', accuracy: t.ensemble.accuracy });
    if (t.average) out.push({ epoch: e.epoch, series: 'layerwise average', accuracy: t.average.accuracy });
  }
  const last = epochs[epochs.length - 1];
  if (last) out.push({ epoch: last.epoch, series: 'folded (exported)', accuracy: foldedAccuracy });
  return out;
}

/** The plots of a run, SVG text by file name. */
export async function renderPlots(
  records: readonly LogRecord[],
  final: {
    readonly foldedAccuracy: number;
    readonly reliability: { readonly folded: readonly ReliabilityBin[]; readonly ensemble: readonly ReliabilityBin[] };
  },
): Promise<Record<PlotFile, string>> {
  const steps = records.filter((r): r is StepRecord => r.kind === 'step');
  const epochs = records.filter((r): r is EpochRecord => r.kind === 'epoch');
  const reliability = (['folded', 'ensemble'] as const).flatMap((model) => final.reliability[model].map((b) => ({ ...b, model })));
  const specs: Record<PlotFile, TopLevelSpec> = {
    'loss.svg': line('Training loss (mean between checks)', steps, 'step', 'loss', 'phase', 'cross-entropy'),
    'learning-rate.svg': line('Learning rate (shared)', steps, 'step', 'lr', 'phase', 'learning rate'),
    'accuracy.svg': line('Held-out accuracy', accuracySeries(epochs, final.foldedAccuracy), 'epoch', 'accuracy', 'series', 'accuracy', 'ordinal'),
    'reliability.svg': {
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      title: 'Reliability (15 confidence bins)',
      width: 300,
      height: 300,
      layer: [
        {
          data: { values: [{ c: 0 }, { c: 1 }] },
          mark: { type: 'line', strokeDash: [4, 4], color: 'gray' },
          encoding: { x: { field: 'c', type: 'quantitative' }, y: { field: 'c', type: 'quantitative' } },
        },
        {
          data: { values: reliability },
          mark: { type: 'line', point: true },
          encoding: {
            x: { field: 'confidence', type: 'quantitative', title: 'confidence', scale: { domain: [0, 1] } },
            y: { field: 'accuracy', type: 'quantitative', title: 'accuracy', scale: { domain: [0, 1] } },
            color: { field: 'model', type: 'nominal', title: null },
          },
        },
      ],
    },
  };
  const out = {} as Record<PlotFile, string>;
  for (const file of PLOT_FILES) out[file] = await svg(specs[file]);
  return out;
}
