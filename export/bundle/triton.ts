/**
 * A Triton Inference Server model repository for the bundle: `triton/<name>/config.pbtxt` (the
 * onnxruntime platform; `max_batch_size` and dims derived from the graph: a dynamic leading axis
 * means Triton batches and the dims exclude it), `triton/<name>/1/model.onnx` and a labels file.
 * `checkTritonConfig` re-derives the dims from a graph and compares them with a config, so a
 * bundle can be checked statically without a server.
 */
import { ExportError } from '../../src/errors';
import { Inspection, ValueSignature } from '../verify/inspect';

import { TRITON_LABELS_FILE } from './layout';
const DEFAULT_TRITON_MAX_BATCH = 64;
/** The implicit-ensemble model's folder: `triton/<name>_ensemble/`, beside the folded model's. */
export const TRITON_ENSEMBLE_SUFFIX = '_ensemble';

const TRITON_TYPES: Readonly<Record<string, string>> = {
  FLOAT: 'TYPE_FP32',
  FLOAT16: 'TYPE_FP16',
  INT64: 'TYPE_INT64',
  INT32: 'TYPE_INT32',
  BOOL: 'TYPE_BOOL',
};

/** A Triton model name: letters, digits, '-', '_' and '.' only. */
export function tritonModelName(name: string): string {
  const clean = name.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^[.]+/, '_');
  return clean || 'model';
}

/** Whether Triton may batch: every input and output has a dynamic leading axis. */
function batched(i: Inspection): boolean {
  return [...i.inputs, ...i.outputs].every((v) => v.shape.length > 0 && typeof v.shape[0] === 'string');
}

/** Triton dims of a tensor: without the batch axis when batching; -1 for other dynamic axes. */
function tritonDims(v: ValueSignature, batching: boolean): number[] {
  return (batching ? v.shape.slice(1) : v.shape).map((d) => (typeof d === 'number' ? d : -1));
}

function tensorBlock(v: ValueSignature, batching: boolean, labels: boolean): string {
  const type = TRITON_TYPES[v.dtype];
  if (!type) throw new ExportError(`tensor '${v.name}' has element type ${v.dtype}, which the Triton config writer does not map`);
  const label = labels ? `\n    label_filename: "${TRITON_LABELS_FILE}"` : '';
  return `  {\n    name: "${v.name}"\n    data_type: ${type}\n    dims: [ ${tritonDims(v, batching).join(', ')} ]${label}\n  }`;
}

/** config.pbtxt for the graph `inspection` describes; `labelOutputs` get the labels file. */
export function tritonConfig(
  name: string,
  inspection: Inspection,
  labelOutputs: readonly string[] = [],
  maxBatch = DEFAULT_TRITON_MAX_BATCH,
): string {
  const batching = batched(inspection);
  return [
    `name: "${name}"`,
    'platform: "onnxruntime_onnx"',
    `max_batch_size: ${batching ? maxBatch : 0}`,
    // Requests are batched by the server (up to max_batch_size) instead of one at a time.
    ...(batching ? ['dynamic_batching { }'] : []),
    `input [\n${inspection.inputs.map((v) => tensorBlock(v, batching, false)).join(',\n')}\n]`,
    `output [\n${inspection.outputs.map((v) => tensorBlock(v, batching, labelOutputs.includes(v.name))).join(',\n')}\n]`,
    '',
  ].join('\n');
}

interface ConfigTensor {
  readonly name: string;
  readonly dataType: string;
  readonly dims: number[];
}

/** The fields of a config.pbtxt this writer produces (name, max_batch_size, tensor names, types, dims). */
function parseConfig(text: string): { name?: string; maxBatch?: number; inputs: ConfigTensor[]; outputs: ConfigTensor[] } {
  const section = (key: string): ConfigTensor[] => {
    const body = new RegExp(`^${key} \\[([\\s\\S]*?)^\\]`, 'm').exec(text)?.[1] ?? '';
    return [...body.matchAll(/name: "([^"]*)"\s+data_type: (\w+)\s+dims: \[([^\]]*)\]/g)].map((m) => ({
      name: m[1]!,
      dataType: m[2]!,
      dims: m[3]!
        .split(',')
        .map((d) => d.trim())
        .filter(Boolean)
        .map(Number),
    }));
  };
  const maxBatch = /^max_batch_size: (\d+)/m.exec(text)?.[1];
  return {
    name: /^name: "([^"]*)"/m.exec(text)?.[1],
    maxBatch: maxBatch === undefined ? undefined : Number(maxBatch),
    inputs: section('input'),
    outputs: section('output'),
  };
}

/** Problems between a config.pbtxt and the graph it serves (empty: consistent). */
export function checkTritonConfig(text: string, expectedName: string, inspection: Inspection): string[] {
  const cfg = parseConfig(text);
  const problems: string[] = [];
  if (cfg.name !== expectedName) problems.push(`name is ${JSON.stringify(cfg.name)}, the model folder is '${expectedName}'`);
  if (!/^platform: "onnxruntime_onnx"/m.test(text)) problems.push('platform is not onnxruntime_onnx');
  const batching = batched(inspection);
  if (cfg.maxBatch === undefined) problems.push('no max_batch_size');
  else if (batching !== cfg.maxBatch > 0)
    problems.push(`max_batch_size ${cfg.maxBatch}, but the graph ${batching ? 'has' : 'lacks'} a dynamic batch axis`);
  if (batching && !/^dynamic_batching \{/m.test(text)) problems.push('no dynamic_batching, although the graph batches');
  for (const [kind, graphSide, configSide] of [
    ['input', inspection.inputs, cfg.inputs],
    ['output', inspection.outputs, cfg.outputs],
  ] as const) {
    if (graphSide.length !== configSide.length) problems.push(`${configSide.length} ${kind}(s) in the config, ${graphSide.length} in the graph`);
    for (const v of graphSide) {
      const c = configSide.find((t) => t.name === v.name);
      if (!c) {
        problems.push(`${kind} '${v.name}' of the graph is missing from the config`);
        continue;
      }
      if (c.dataType !== TRITON_TYPES[v.dtype]) problems.push(`${kind} '${v.name}': data_type ${c.dataType}, the graph has ${v.dtype}`);
      const want = tritonDims(v, batching);
      if (c.dims.join() !== want.join()) problems.push(`${kind} '${v.name}': dims [${c.dims.join(', ')}], the graph gives [${want.join(', ')}]`);
    }
  }
  return problems;
}
