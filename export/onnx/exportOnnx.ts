/**
 * Writes a plain (folded) model as an ONNX ModelProto: opset 17, IR version 8, dynamic batch
 * dimension 'N', NCHW image layout (layout.ts), provenance in metadata_props.
 */
import * as crypto from 'crypto';
import { onnx } from 'onnx-proto';
import { FoldBatchNormResult, foldBatchNormPass } from './passes/foldBatchNorm';
import { Fp16Result, fp16WeightsPass } from './passes/fp16Weights';
import { encodeModel, floatValueInfo, IR_VERSION, OPSET } from '../../src/onnx/proto';
import { Model } from '../../src/nn/model';
import { Layer, walkLayers } from '../../src/nn/layer';
import { isLatePhase, LatePhaseUnit, LatePhaseWeight } from '../../src/latephase/latePhaseLayer';
import { isWeighted } from '../../src/nn/weightedLayer';
import { ExportError } from '../../src/errors';
import { PACKAGE } from '../../src/version';
import { GraphBuilder } from './graph';
import { LoweringContext, OnnxValue } from './lowering';
import { findLowering, supportedKinds } from './registry';
import { onnxDims } from './layout';

export { OPSET, IR_VERSION } from '../../src/onnx/proto';
export const INPUT_NAME = 'input';
const LOGITS_NAME = 'logits';
const PROBABILITIES_NAME = 'probabilities';

export interface ExportOptions {
  /** Key/value facts recorded in metadata_props (K, fold mode, backend, seed, ...). */
  readonly provenance?: Readonly<Record<string, string | number | boolean>>;
  /** Add a Softmax output (over the last axis) next to the logits (default: when the output is class scores). */
  readonly probabilities?: boolean;
  /**
   * Fold BatchNormalization into the Conv/Gemm before it where exact (passes/foldBatchNorm.ts): on
   * for deployment bundles, off (the default) to keep the graph layer for layer with the model.
   */
  readonly foldBatchNorm?: boolean;
  /** 'fp16': weights stored as float16, cast to float at load (passes/fp16Weights.ts); inputs, outputs and compute stay fp32. */
  readonly weights?: 'fp32' | 'fp16';
}

export interface TensorSignature {
  readonly name: string;
  /** 'N' is the dynamic batch dimension. */
  readonly dims: ReadonlyArray<number | 'N'>;
}

/**
 * What an output means, carried as data (the export's metadata `latephase.output_roles` too), so
 * verification and bundles never read outputs by position: `logits` (the model's raw output,
 * class scores on the last axis), `probabilities` (their softmax), `output` (raw, not class scores).
 */
export type OutputRole = 'logits' | 'probabilities' | 'output' | 'entropy' | 'mutual_information' | 'member_probabilities';

export interface OutputSignature extends TensorSignature {
  readonly role: OutputRole;
}

export const OUTPUT_ROLE_MEANINGS: Readonly<Record<OutputRole, string>> = {
  logits: 'class logits (last axis)',
  probabilities: 'class probabilities (softmax of the logits over the last axis)',
  output: "the model's raw output",
  entropy: 'predictive entropy of the mean softmax, [N, 1] (nats; the OOD score)',
  mutual_information: "mutual information between prediction and member, [N, 1] (nats): the members' disagreement",
  member_probabilities: "each member's class probabilities, [N, K, classes]",
};

/** Metadata key of the output roles (JSON: output name -> role), for any reader of the file. */
export const OUTPUT_ROLES_KEY = 'latephase.output_roles';

export interface OnnxExport {
  readonly bytes: Uint8Array;
  readonly input: TensorSignature;
  readonly outputs: readonly OutputSignature[];
  readonly opset: number;
  readonly irVersion: number;
  readonly nodeCount: number;
  readonly metadata: Readonly<Record<string, string>>;
  /** The BatchNorm folding pass's result, when it ran. */
  readonly batchNormFold?: FoldBatchNormResult;
  /** The fp16 weight pass's counts, when it ran. */
  readonly fp16?: Fp16Result;
}

function checkPlain(model: Model): void {
  for (const layer of walkLayers(model.net)) {
    const units: LatePhaseUnit[] = isLatePhase(layer)
      ? [layer]
      : isWeighted(layer)
        ? layer.weights().filter((w): w is LatePhaseWeight => isLatePhase(w))
        : [];
    const unit = units[0];
    if (unit) {
      throw new ExportError(
        `layer '${layer.name}' has a late-phase ${unit.latePhaseKind} ('${unit.name}') with ${unit.memberCount()} member(s); the exporter reads plain models only: fold first with foldMembers(model)`,
      );
    }
  }
}

function valueInfo(sig: TensorSignature): onnx.IValueInfoProto {
  return floatValueInfo(sig.name, sig.dims);
}

/** Lower a plain model's layers into `graph`, reading `input`; returns the model's output value. */
export function lowerModel(graph: GraphBuilder, model: Model, input: string): OnnxValue {
  checkPlain(model);
  const ctx: LoweringContext = {
    graph,
    lower(layer: Layer, value: OnnxValue): OnnxValue {
      const entry = findLowering(layer);
      if (!entry)
        throw new ExportError(`layer '${layer.name}' of kind '${layer.kind}' has no ONNX lowering; supported: ${supportedKinds().join(', ')}`);
      return entry.lower(layer, value, ctx);
    },
  };
  return ctx.lower(model.net, { name: input, shape: model.inputShape });
}

/** metadata_props from the exporter's own keys and the caller's provenance: keys must be unique. */
export function metadataOf(own: Record<string, string>, provenance: ExportOptions['provenance'] = {}): Record<string, string> {
  const metadata = { ...own };
  for (const [k, v] of Object.entries(provenance)) {
    if (k in metadata) throw new ExportError(`provenance key '${k}' is already set by the exporter; metadata keys must be unique`);
    metadata[k] = String(v);
  }
  return metadata;
}

export function exportOnnx(model: Model, opts: ExportOptions = {}): OnnxExport {
  const graph = new GraphBuilder();
  const names = model.meta.onnxNames;
  const input: TensorSignature = { name: graph.reserve(names?.input ?? INPUT_NAME), dims: ['N', ...onnxDims(model.inputShape)] };
  const result = lowerModel(graph, model, input.name);
  // Class scores: a vector per example, or one per time step ([T, classes]); images are not.
  const classScores = result.shape.length <= 2;
  const logitsName = graph.reserve(names?.logits ?? (classScores ? LOGITS_NAME : 'output'));
  graph.node('Identity', [result.name], 'output', {}, logitsName);
  const outputs: OutputSignature[] = [{ name: logitsName, dims: ['N', ...onnxDims(result.shape)], role: classScores ? 'logits' : 'output' }];
  if (opts.probabilities ?? (names ? names.probabilities !== undefined : classScores)) {
    if (!classScores)
      throw new ExportError(
        `a probabilities output needs class scores on the last axis ([classes] or [steps, classes]), model gives [${result.shape.join(', ')}]`,
      );
    const probs = graph.reserve(names?.probabilities ?? PROBABILITIES_NAME);
    graph.node('Softmax', [logitsName], 'softmax', { axis: { i: -1 } }, probs);
    outputs.push({ name: probs, dims: ['N', ...result.shape], role: 'probabilities' });
  }
  const batchNormFold = opts.foldBatchNorm
    ? foldBatchNormPass({ nodes: graph.nodes, initializers: graph.initializers, outputs: outputs.map((o) => o.name) })
    : undefined;
  const own: Record<string, string> = {
    model: model.name,
    [OUTPUT_ROLES_KEY]: JSON.stringify(Object.fromEntries(outputs.map((o) => [o.name, o.role]))),
  };
  if (batchNormFold) own['latephase.batchnorm_folded'] = `${batchNormFold.folded} folded into Conv/Gemm, ${batchNormFold.kept.length} kept`;
  const fp16 = opts.weights === 'fp16' ? fp16WeightsPass({ nodes: graph.nodes, initializers: graph.initializers, outputs: [] }) : undefined;
  own['latephase.weights_precision'] = fp16
    ? `fp16 storage, fp32 compute (${fp16.tensors} tensors; ${fp16.clipped} values clipped to +-65504, ${fp16.flushedToZero} flushed to 0)`
    : 'fp32';
  own['latephase.weights_sha256'] = weightsDigest(graph.initializers);
  const metadata = metadataOf(own, opts.provenance);
  return {
    ...encodeExport(model.name, graph, input, outputs, metadata),
    ...(batchNormFold && { batchNormFold }),
    ...(fp16 && { fp16 }),
  };
}

/** The lowered graph as a model file (one float input, float outputs) with what every export reports about it. */
export function encodeExport(
  name: string,
  graph: GraphBuilder,
  input: TensorSignature,
  outputs: readonly OutputSignature[],
  metadata: Readonly<Record<string, string>>,
): OnnxExport {
  const bytes = encodeModel(
    { name, node: graph.nodes, initializer: graph.initializers, input: [valueInfo(input)], output: outputs.map(valueInfo) },
    { producerName: PACKAGE.name, producerVersion: PACKAGE.version, metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })) },
  );
  return { bytes, input, outputs, opset: OPSET, irVersion: IR_VERSION, nodeCount: graph.nodes.length, metadata };
}

/**
 * The export with more metadata_props (e.g. the verification summary, known only after the graph
 * was verified): the graph and weights are untouched; keys must stay unique.
 */
export function withMetadata<T extends OnnxExport>(exported: T, extra: Readonly<Record<string, string>>): T {
  const model = onnx.ModelProto.decode(exported.bytes);
  const metadata = metadataOf({ ...exported.metadata }, extra);
  model.metadataProps = Object.entries(metadata).map(([key, value]) => onnx.StringStringEntryProto.create({ key, value }));
  return { ...exported, bytes: onnx.ModelProto.encode(model).finish(), metadata };
}

/** SHA-256 over every initializer's name, dims and bytes, in graph order: the weights' identity. */
function weightsDigest(initializers: readonly onnx.ITensorProto[]): string {
  const h = crypto.createHash('sha256');
  for (const t of initializers) h.update(`${t.name}:${(t.dims ?? []).join('x')}:`).update(t.rawData ?? new Uint8Array());
  return h.digest('hex');
}
