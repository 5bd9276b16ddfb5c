/**
 * The text the commands print for a report: `verify`'s file report (the inspection first),
 * `verify-bundle`'s check and the `nqp` table. Reports are data below the CLI; how they read on a
 * screen is decided here.
 */
import { FileVerificationReport } from '../export/verify/verifyFile';
import { Inspection, ValueSignature } from '../export/verify/inspect';
import { BundleCheck } from '../export/bundle/verifyBundle';
import { expectedLoss, NqpRow, NqpSettings, sgdClosedForm } from '../src/analysis/noisyQuadratic';

const shapeText = (s: ValueSignature['shape']): string => `[${s.join(', ')}]`;

/** The inspection as the readable block `latephase verify` prints first. */
export function formatInspection(i: Inspection): string {
  const lines = [
    `IR version ${i.irVersion}; opsets ${i.opsets.map((o) => `${o.domain} ${o.version}`).join(', ')}; producer ${i.producer}`,
    ...i.inputs.map((v) => `input   ${v.name}: ${v.dtype} ${shapeText(v.shape)}`),
    ...i.outputs.map((v) => `output  ${v.name}: ${v.dtype} ${shapeText(v.shape)}`),
    `${i.nodes} nodes: ${Object.entries(i.operators)
      .sort((a, b) => b[1] - a[1])
      .map(([op, n]) => `${op} x${n}`)
      .join(', ')}`,
    `${i.initializers.count} stored tensors, ${i.initializers.bytes} bytes (largest: ${i.initializers.largest.map((t) => `${t.name} ${t.bytes}`).join(', ') || 'none'})`,
    `metadata: ${i.metadataEntries} entr${i.metadataEntries === 1 ? 'y' : 'ies'}${i.duplicateMetadataKeys.length ? `; DUPLICATE keys: ${i.duplicateMetadataKeys.join(', ')} (readers see only one value of each)` : ''}`,
  ];
  return lines.map((l) => `  ${l}`).join('\n');
}

const e = (x: number): string => (Number.isFinite(x) ? x.toExponential(2) : String(x));

/** The readable report: the inspection, then one row per output with its worst figures. */
export function formatFileReport(r: FileVerificationReport): string {
  const header = ['output', 'max abs', 'max rel', 'p99 abs', 'mean abs', 'min atol', 'NaN/Inf', 'argmax', 'tolerance', 'verdict'];
  const rows = r.outputs.map((o) => [
    o.output,
    e(o.maxAbs),
    e(o.maxRel),
    e(o.p99Abs),
    e(o.meanAbs),
    e(o.minAtol),
    `${o.nonFinite.candidate}/${o.nonFinite.reference}`,
    o.argmaxAgreement === undefined ? '-' : `${(100 * o.argmaxAgreement).toFixed(1)}%`,
    `atol ${o.tolerance.atol}, rtol ${o.tolerance.rtol}`,
    o.pass ? 'PASS' : 'FAIL',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => `  ${cells.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`;
  return [
    `${r.file} (${r.bytes} bytes, sha256 ${r.sha256.slice(0, 16)}...)`,
    formatInspection(r.inspection),
    `compared: ${r.candidate} against ${r.reference} (golden outputs where given); ${r.cases.length} case(s): ${[...new Set(r.cases.map((c) => c.label))].join(', ')}`,
    ...r.skipped.map((k) => `not run: ${k.label}: ${k.reason}`),
    ...(r.modelReference
      ? [
          `against the tfjs model rebuilt from the bundle: ${r.modelReference.pass ? 'PASS' : 'FAIL'} (max abs ${e(r.modelReference.maxAbs)}, max rel ${e(r.modelReference.maxRel)}; ${r.modelReference.checks} checks)`,
        ]
      : []),
    ...(r.nodesByProvider
      ? [
          `nodes run per execution provider: ${Object.entries(r.nodesByProvider)
            .map(([p, n]) => `${p} ${n}`)
            .join(', ')}`,
        ]
      : []),
    line(header),
    ...rows.map(line),
    r.pass ? 'verdict: PASS' : 'verdict: FAIL',
  ].join('\n');
}

export function formatBundleCheck(c: BundleCheck): string {
  const lines = [
    `bundle ${c.folder}`,
    `  files: ${c.files.length ? `${c.files.length} problem(s): ${c.files.join('; ')}` : 'every file matches the manifest'}`,
    `  golden data: ${c.golden ? `${c.golden.pass ? 'PASS' : 'FAIL'} (${c.golden.cases.filter((k) => k.label.startsWith('golden')).length} set(s); max abs ${Math.max(...c.golden.outputs.map((o) => o.maxAbs)).toExponential(2)})` : 'none in the bundle'}`,
    ...Object.entries(c.triton).map(([name, p]) => `  triton/${name}: ${p.length ? p.join('; ') : 'config matches the graph'}`),
    `verdict: ${c.pass ? 'PASS' : 'FAIL'}`,
  ];
  return lines.join('\n');
}

export function formatNqpTable(rows: readonly NqpRow[], base: Omit<NqpSettings, 'k' | 'gammaTheta'>): string {
  const f = (x: number): string => x.toFixed(4);
  const header = `  K   gamma_theta   Var(mean model) closed / sim   Var(member) closed / sim   loss(mean) / loss(member)`;
  const lines = rows.map(
    (r) =>
      `  ${String(r.k).padEnd(3)} ${(r.gammaTheta === 1 ? '1' : `1/${r.k}`).padEnd(13)} ${f(r.closed.averaged)} / ${f(r.simulated.averaged)}`.padEnd(
        52,
      ) +
      `${f(r.closed.member)} / ${f(r.simulated.member)}`.padEnd(27) +
      `${f(expectedLoss(base.h, base.sigma, r.closed.averaged))} / ${f(expectedLoss(base.h, base.sigma, r.closed.member))}`,
  );
  const sgd = sgdClosedForm(base.h, base.sigma, base.etaPhi);
  return [
    `noisy quadratic: h = ${base.h}, sigma = ${base.sigma}, etaPhi = ${base.etaPhi}, etaTheta = ${base.etaTheta}`,
    `plain SGD (lr ${base.etaPhi}): Var ${f(sgd)}, loss ${f(expectedLoss(base.h, base.sigma, sgd))}`,
    header,
    ...lines,
  ].join('\n');
}
