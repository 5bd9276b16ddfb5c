/**
 * Writes a plain (folded) model as an ONNX ModelProto: opset 17, IR version 8, dynamic batch
 * dimension 'N', NCHW image layout (layout.ts), provenance in metadata_props.
 */
import { onnx } from 'onnx-proto';
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
export const LOGITS_NAME = 'logits';
export const PROBABILITIES_NAME = 'probabilities';

export interface ExportOptions {
  /** Key/value facts recorded in metadata_props (K, fold mode, backend, seed, ...). */
  readonly provenance?: Readonly<Record<string, string | number | boolean>>;
  /** Add a Softmax output (over the last axis) next to the logits (default: when the output is class scores). */
  readonly probabilities?: boolean;
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
export type OutputRole = 'logits' | 'probabilities' | 'output';

export interface OutputSignature extends TensorSignature {
  readonly role: OutputRole;
}

export const OUTPUT_ROLE_MEANINGS: Readonly<Record<OutputRole, string>> = {
  logits: 'class logits (last axis)',
  probabilities: 'class probabilities (softmax of the logits over the last axis)',
  output: "the model's raw output",
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

export function exportOnnx(model: Model, opts: ExportOptions = {}): OnnxExport {
  checkPlain(model);
  const graph = new GraphBuilder();
  const ctx: LoweringContext = {
    graph,
    lower(layer: Layer, input: OnnxValue): OnnxValue {
      const entry = findLowering(layer);
      if (!entry)
        throw new ExportError(`layer '${layer.name}' of kind '${layer.kind}' has no ONNX lowering; supported: ${supportedKinds().join(', ')}`);
      return entry.lower(layer, input, ctx);
    },
  };
  const input: TensorSignature = { name: graph.reserve(INPUT_NAME), dims: ['N', ...onnxDims(model.inputShape)] };
  const result = ctx.lower(model.net, { name: input.name, shape: model.inputShape });
  // Class scores: a vector per example, or one per time step ([T, classes]); images are not.
  const classScores = result.shape.length <= 2;
  const logitsName = graph.reserve(classScores ? LOGITS_NAME : 'output');
  graph.node('Identity', [result.name], 'output', {}, logitsName);
  const outputs: OutputSignature[] = [{ name: logitsName, dims: ['N', ...onnxDims(result.shape)], role: classScores ? 'logits' : 'output' }];
  if (opts.probabilities ?? classScores) {
    if (!classScores)
      throw new ExportError(
        `a probabilities output needs class scores on the last axis ([classes] or [steps, classes]), model gives [${result.shape.join(', ')}]`,
      );
    const probs = graph.reserve(PROBABILITIES_NAME);
    graph.node('Softmax', [logitsName], 'softmax', { axis: { i: -1 } }, probs);
    outputs.push({ name: probs, dims: ['N', ...result.shape], role: 'probabilities' });
  }
  const metadata: Record<string, string> = {
    model: model.name,
    [OUTPUT_ROLES_KEY]: JSON.stringify(Object.fromEntries(outputs.map((o) => [o.name, o.role]))),
  };
  for (const [k, v] of Object.entries(opts.provenance ?? {})) {
    if (k in metadata) throw new ExportError(`provenance key '${k}' is already set by the exporter; metadata keys must be unique`);
    metadata[k] = String(v);
  }
  const bytes = encodeModel(
    { name: model.name, node: graph.nodes, initializer: graph.initializers, input: [valueInfo(input)], output: outputs.map(valueInfo) },
    { producerName: PACKAGE.name, producerVersion: PACKAGE.version, metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })) },
  );
  return { bytes, input, outputs, opset: OPSET, irVersion: IR_VERSION, nodeCount: graph.nodes.length, metadata };
}
