/**
 * The implicit ensemble as one ONNX graph: the K members (each a plain model, `foldMember`) lowered
 * side by side on one input, weights identical across members (the shared ones) stored once, and
 * the combination written out:
 *   log p_k   = LogSoftmax(logits_k)                      (stable per member)
 *   log p_bar = ReduceLogSumExp_k(log p_k) - log K        (stable mean of the softmaxes)
 *   probabilities      = exp(log p_bar)                               [N, C]
 *   entropy            = -sum_c p_bar log p_bar                       [N, 1]
 *   mutual_information = max(0, entropy - mean_k H(p_k))             [N, 1]
 *   member_probabilities = exp(log p_k), optional                    [N, K, C]
 */
import * as crypto from 'crypto';
import { onnx } from 'onnx-proto';
import { Model } from '../../src/nn/model';
import { ExportError } from '../../src/errors';
import { float32Tensor } from '../../src/onnx/proto';
import { GraphBuilder } from './graph';
import { FoldBatchNormResult, foldBatchNormPass, FoldVeto } from './passes/foldBatchNorm';
import { onnxDims } from './layout';
import {
  encodeExport,
  ExportOptions,
  INPUT_NAME,
  lowerModel,
  metadataOf,
  OnnxExport,
  OUTPUT_ROLES_KEY,
  OutputSignature,
  TensorSignature,
} from './exportOnnx';

export interface EnsembleExportOptions {
  readonly provenance?: ExportOptions['provenance'];
  /** Add `member_probabilities` [N, K, classes]. */
  readonly memberProbabilities?: boolean;
  /**
   * Fold BatchNormalization into the Conv/Gemm before it, as model.onnx does, wherever that does not
   * multiply storage: a member's own BatchNorm after weights the members share stays a BatchNorm
   * (folding would store those weights once per member). Default true.
   */
  readonly foldBatchNorm?: boolean;
}

/**
 * Keep a BatchNorm whose members share the weights before it but not its own parameters: only
 * folds that stay shared (or were per member anyway) are made. `counts` is how many initializers
 * hold each content, before deduplication.
 */
function sharedWeightsVeto(counts: ReadonlyMap<string, number>): FoldVeto {
  const shared = (t: onnx.ITensorProto): boolean => (counts.get(contentKey(t)) ?? 0) > 1;
  return (_bn, weights, params) =>
    shared(weights) && !params.every(shared)
      ? 'the members share the weights before it but each has its own BatchNorm: folding would store those weights once per member'
      : null;
}

/** A tensor's content: type, dims and values however stored (raw bytes or typed fields), not its name. */
function contentKey(t: onnx.ITensorProto): string {
  return crypto
    .createHash('sha256')
    .update(onnx.TensorProto.encode({ ...t, name: '' }).finish())
    .digest('hex');
}

/** Initializers with identical type, dims and values become one; node inputs are renamed to the survivor. */
export function dedupeInitializers(graph: GraphBuilder): number {
  const byContent = new Map<string, string>();
  const rename = new Map<string, string>();
  const kept: onnx.ITensorProto[] = [];
  for (const t of graph.initializers) {
    const key = contentKey(t);
    const first = byContent.get(key);
    if (first) rename.set(t.name!, first);
    else {
      byContent.set(key, t.name!);
      kept.push(t);
    }
  }
  graph.initializers.splice(0, graph.initializers.length, ...kept);
  for (const n of graph.nodes) n.input = (n.input ?? []).map((i) => rename.get(i) ?? i);
  return rename.size;
}

export function exportEnsemble(members: readonly Model[], opts: EnsembleExportOptions = {}): OnnxExport & { readonly sharedInitializers: number } {
  const first = members[0];
  if (!first) throw new ExportError('an ensemble export needs at least one member');
  const graph = new GraphBuilder();
  const input: TensorSignature = { name: graph.reserve(INPUT_NAME), dims: ['N', ...onnxDims(first.inputShape)] };
  const logProbs = members.map((m, k) => {
    if (m.inputShape.join() !== first.inputShape.join())
      throw new ExportError(`member ${k} takes [${m.inputShape.join(', ')}], member 0 [${first.inputShape.join(', ')}]`);
    const out = lowerModel(graph, m, input.name);
    if (out.shape.length !== 1 || out.shape[0]! < 2)
      throw new ExportError(`the ensemble export needs class scores [classes] per example; member ${k} gives [${out.shape.join(', ')}]`);
    const ls = graph.node('LogSoftmax', [out.name], `member${k}/log_softmax`, { axis: { i: -1 } });
    return { ls, classes: out.shape[0]! };
  });
  const classes = logProbs[0]!.classes;
  if (logProbs.some((l) => l.classes !== classes)) throw new ExportError('members disagree on the number of classes');
  const K = members.length;
  const axis1 = graph.int64Initializer('axis_1', [1]);
  const lastAxis = graph.int64Initializer('axis_last', [-1]);
  const stacked = graph.node(
    'Concat',
    logProbs.map((l) => graph.node('Unsqueeze', [l.ls, axis1], 'stack')),
    'members_log_probabilities',
    { axis: { i: 1 } },
  ); // [N, K, C]
  const lse = graph.node('ReduceLogSumExp', [stacked], 'mean_softmax', { axes: { ints: [1] }, keepdims: { i: 0 } }); // [N, C]
  const logK = graph.uniqueName('log_K');
  graph.initializers.push(float32Tensor(logK, [Math.log(K)], []));
  const logMean = graph.node('Sub', [lse, logK], 'log_mean_probabilities');
  const outputs: OutputSignature[] = [
    { name: graph.reserve('probabilities'), dims: ['N', classes], role: 'probabilities' },
    { name: graph.reserve('entropy'), dims: ['N', 1], role: 'entropy' },
    { name: graph.reserve('mutual_information'), dims: ['N', 1], role: 'mutual_information' },
  ];
  const [probabilities, entropy, mi] = outputs.map((o) => o.name) as [string, string, string];
  graph.node('Exp', [logMean], 'probabilities', {}, probabilities);
  // H = -sum_c p log p, on the stable log of the mean.
  const plogp = graph.node('Mul', [probabilities, logMean], 'entropy');
  graph.node('Neg', [graph.node('ReduceSum', [plogp, lastAxis], 'entropy', { keepdims: { i: 1 } })], 'entropy', {}, entropy);
  const memberProbs = graph.node('Exp', [stacked], 'members_softmax'); // [N, K, C]
  const memberH = graph.node(
    'Neg',
    [graph.node('ReduceSum', [graph.node('Mul', [memberProbs, stacked], 'member_entropy'), lastAxis], 'member_entropy', { keepdims: { i: 0 } })],
    'member_entropy',
  ); // [N, K]
  const meanH = graph.node('ReduceMean', [memberH], 'expected_entropy', { axes: { ints: [1] }, keepdims: { i: 1 } }); // [N, 1]
  // MI >= 0 in exact arithmetic (Jensen); rounding can leave -1e-8, which must not read as negative disagreement.
  graph.node('Relu', [graph.node('Sub', [entropy, meanH], 'mutual_information')], 'mutual_information', {}, mi);
  if (opts.memberProbabilities) {
    const name = graph.reserve('member_probabilities');
    graph.node('Identity', [memberProbs], 'member_probabilities', {}, name);
    outputs.push({ name, dims: ['N', K, classes], role: 'member_probabilities' });
  }
  let batchNormFold: FoldBatchNormResult | undefined;
  if (opts.foldBatchNorm ?? true) {
    const counts = new Map<string, number>();
    for (const t of graph.initializers) counts.set(contentKey(t), (counts.get(contentKey(t)) ?? 0) + 1);
    batchNormFold = foldBatchNormPass(
      { nodes: graph.nodes, initializers: graph.initializers, outputs: outputs.map((o) => o.name) },
      sharedWeightsVeto(counts),
    );
  }
  const sharedInitializers = dedupeInitializers(graph);
  const metadata = metadataOf(
    {
      model: `${first.name}_ensemble`,
      latephase_ensemble_members: String(K),
      ...(batchNormFold && { 'latephase.batchnorm_folded': `${batchNormFold.folded} folded into Conv/Gemm, ${batchNormFold.kept.length} kept` }),
      [OUTPUT_ROLES_KEY]: JSON.stringify(Object.fromEntries(outputs.map((o) => [o.name, o.role]))),
    },
    opts.provenance,
  );
  return {
    ...encodeExport(`${first.name}_ensemble`, graph, input, outputs, metadata),
    sharedInitializers,
    ...(batchNormFold && { batchNormFold }),
  };
}
