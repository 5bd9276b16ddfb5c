/** The summary table `latephase run`, `train` and `bundle` print after a run. */
import { ClassMetrics } from '../src/eval/metrics';
import { RunSummary } from '../job/finishRun';

const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
const calibration = (m: ClassMetrics): string => `NLL ${m.nll.toFixed(4)}, ECE ${m.ece.toFixed(4)}, Brier ${m.brier.toFixed(4)}`;

function gradientThreads(s: RunSummary): string {
  const kernels = s.kernelThreads > 0 ? `, native kernels on ${s.kernelThreads} thread${s.kernelThreads > 1 ? 's' : ''} each` : '';
  const layout = s.layout ? `; ${s.layout}` : '';
  return s.workers ? `${s.workers + 1} (data-parallel over the ghost batches${kernels}${layout})` : `1${kernels}${layout}`;
}

export function summaryTable(s: RunSummary): string {
  const v = s.verification;
  const fallback = v.provider.fallbackReason ? ` (requested ${v.provider.requested}; fell back: ${v.provider.fallbackReason})` : '';
  const rows: Array<[string, string]> = [
    ['backend', s.backend],
    ['gradient threads', gradientThreads(s)],
    [
      'accuracy before late phase',
      s.accuracyBeforeLatePhase !== null
        ? pct(s.accuracyBeforeLatePhase)
        : s.memberAccuracies.length > 1
          ? 'n/a (not recorded in the checkpoint)'
          : 'n/a (no late phase)',
    ],
    ...s.memberAccuracies.map((a, k): [string, string] => [`member ${k}`, pct(a)]),
    ['folded model', `${pct(s.foldedAccuracy)}  ${calibration(s.metrics.folded)}`],
    ['implicit ensemble (mean softmax)', `${pct(s.ensembleAccuracy)}  ${calibration(s.metrics.ensemble)}`],
    ...(s.metrics.ood
      ? [
          [
            'OOD AUROC (entropy)',
            `folded ${s.metrics.ood.folded.toFixed(4)}, ensemble ${s.metrics.ood.ensemble.toFixed(4)} (against ${s.metrics.ood.set})`,
          ] as [string, string],
        ]
      : []),
    [
      'ONNX verification',
      `${v.pass ? 'PASS' : 'FAIL'}: max abs ${v.maxAbs.toExponential(2)}, max rel ${v.maxRel.toExponential(2)} ` +
        `(atol ${v.tolerance.atol}, rtol ${v.tolerance.rtol}; ${v.cases.length} checks on ${v.provider.used}${fallback})`,
    ],
    ...(s.ensembleVerification
      ? [
          [
            'ensemble export',
            `${s.ensembleVerification.pass ? 'PASS' : 'FAIL'}: ensemble.onnx (probabilities, entropy, mutual_information), max abs ${s.ensembleVerification.maxAbs.toExponential(2)}`,
          ] as [string, string],
        ]
      : []),
    ...(s.skipped
      ? [
          [
            'skipped inputs',
            `${s.skipped.count} ${s.skipped.what}${s.skipped.examples.length ? ` (${s.skipped.examples.slice(0, 3).join(', ')}${s.skipped.count > 3 ? ', ...' : ''})` : ''}`,
          ] as [string, string],
        ]
      : []),
    ['output folder', s.outDir],
    ['wall time', `${s.seconds.toFixed(1)} s`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, val]) => `  ${k.padEnd(width)}  ${val}`).join('\n');
}
