/**
 * The bundle's model card (`README.md`): what the model is, its intended use, the training data
 * and recipe, evaluation results (accuracy, calibration, OOD), limitations, and how to run it with
 * onnxruntime and Triton. Written from facts the training job has, never from templates the user
 * must fill in.
 */
import type { BundleEvaluation } from './bundle';

export interface ModelCardInfo {
  readonly name: string;
  /** One sentence: architecture and what it predicts. */
  readonly summary: string;
  readonly latePhase: string;
  readonly trainingData: string;
  /** Recipe facts, one per line (epochs, batch, optimizer, schedule, SWA, augmentation, seed, backend). */
  readonly recipe: readonly string[];
  readonly evaluation?: BundleEvaluation;
  readonly evaluationData: string;
  readonly input: { readonly name: string; readonly dims: ReadonlyArray<number | string>; readonly layout: string; readonly preprocessing: string };
  readonly outputs: ReadonlyArray<{ readonly name: string; readonly dims: ReadonlyArray<number | string>; readonly meaning: string }>;
  readonly labels?: readonly string[];
  readonly verification: string;
  readonly tritonName: string;
}

const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;

function evaluationTable(e: BundleEvaluation): string[] {
  const row = (what: string, m: BundleEvaluation['folded']): string =>
    `| ${what} | ${pct(m.accuracy)} | ${m.nll.toFixed(4)} | ${m.ece.toFixed(4)} | ${m.brier.toFixed(4)} |`;
  return [
    '| model | accuracy | NLL | ECE (15 bins) | Brier |',
    '|---|---|---|---|---|',
    row('**this model** (members averaged in weight space)', e.folded),
    row('implicit ensemble (mean of member softmaxes; not this file)', e.ensemble),
    ...e.members.map((m, k) => row(`member ${k}`, m)),
    ...(e.ood
      ? [
          '',
          `OOD detection (AUROC of the predictive entropy, against ${e.ood.set}): this model ${e.ood.folded.toFixed(4)}, implicit ensemble ${e.ood.ensemble.toFixed(4)}.`,
        ]
      : []),
  ];
}

export function modelCard(c: ModelCardInfo): string {
  const dims = (d: ReadonlyArray<number | string>): string => `[${d.join(', ')}]`;
  return [
    `# ${c.name}`,
    '',
    '## What it is',
    '',
    `${c.summary} Trained with late-phase weights (${c.latePhase}) and folded back into one network of the original size: the ONNX file is a plain model.`,
    '',
    `- input \`${c.input.name}\` ${dims(c.input.dims)}: ${c.input.layout}; preprocessing: ${c.input.preprocessing}`,
    ...c.outputs.map((o) => `- output \`${o.name}\` ${dims(o.dims)}: ${o.meaning}`),
    ...(c.labels ? [`- labels (output index order): ${c.labels.join(', ')}`] : []),
    '',
    '## Intended use',
    '',
    `Classifying inputs like its training data (${c.trainingData}). The predictive entropy of \`probabilities\` can flag inputs unlike that data; see the OOD figure below for how well, on the one OOD set measured.`,
    '',
    '## Training data and recipe',
    '',
    `Data: ${c.trainingData}.`,
    '',
    ...c.recipe.map((r) => `- ${r}`),
    '',
    '## Evaluation',
    '',
    `On ${c.evaluationData}:`,
    '',
    ...(c.evaluation ? evaluationTable(c.evaluation) : ['(no evaluation recorded)']),
    '',
    `Export check: ${c.verification}.`,
    '',
    '## Limitations',
    '',
    '- Measured only on the held-out data named above; other distributions (other sensors, preprocessing, classes) are untested.',
    '- Calibration (ECE, NLL) and the OOD AUROC are those of this data; an entropy threshold must be chosen on the deployment data.',
    '- The implicit ensemble figures describe the K members before folding; this file computes the folded model only.',
    '',
    '## How to run it',
    '',
    'onnxruntime (Node):',
    '',
    '```js',
    "const ort = require('onnxruntime-node');",
    "const session = await ort.InferenceSession.create('model.onnx');",
    `const out = await session.run({ ${c.input.name}: new ort.Tensor('float32', values, [${c.input.dims.map((d) => (typeof d === 'number' ? d : 1)).join(', ')}]) });`,
    '```',
    '',
    'onnxruntime (Python):',
    '',
    '```python',
    'import onnxruntime as ort',
    "session = ort.InferenceSession('model.onnx')",
    `outputs = session.run(None, {'${c.input.name}': values})`,
    '```',
    '',
    `Triton Inference Server: \`tritonserver --model-repository=triton\` serves it as \`${c.tritonName}\`.`,
    '',
    'Re-check this folder offline (file hashes, golden data, Triton config): `latephase verify-bundle <folder>`.',
    '',
  ].join('\n');
}
