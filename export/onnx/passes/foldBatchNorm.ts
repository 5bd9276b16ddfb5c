/**
 * An explicit graph pass: BatchNormalization folded into the Conv or Gemm before it, where that is
 * exact. Conditions: the BN reads the Conv/Gemm output and nothing else reads it (nor is it a
 * graph output); the weights and every BN parameter are float initializers; Gemm has alpha = beta
 * = 1. Then with s = gamma / sqrt(var + eps) per channel: W' = W * s (along the output channel),
 * b' = (b - mean) * s + beta. Computed in float64, stored as float32; new initializers are
 * written (a weight another node shares is never changed in place), unused ones dropped.
 */
import { onnx } from 'onnx-proto';
import { float32Bytes } from '../../../src/onnx/proto';

export interface GraphParts {
  readonly nodes: onnx.INodeProto[];
  readonly initializers: onnx.ITensorProto[];
  /** Names of the graph outputs (never folded away). */
  readonly outputs: readonly string[];
}

/**
 * A caller's veto for one fold (the reason to keep the BatchNormalization, or null to fold): the
 * ensemble exporter keeps a member's own BatchNorm after weights every member shares, which folding
 * would store once per member.
 */
export type FoldVeto = (bn: onnx.INodeProto, weights: onnx.ITensorProto, params: readonly onnx.ITensorProto[]) => string | null;

export interface FoldBatchNormResult {
  readonly folded: number;
  /** BatchNormalization nodes left as they are, with the reason. */
  readonly kept: ReadonlyArray<{ readonly node: string; readonly reason: string }>;
}

const FLOAT = onnx.TensorProto.DataType.FLOAT;

function floats(t: onnx.ITensorProto): Float64Array {
  const raw = t.rawData!;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return Float64Array.from({ length: raw.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
}

const attr = (n: onnx.INodeProto, name: string): onnx.IAttributeProto | undefined => n.attribute?.find((a) => a.name === name);

export function foldBatchNormPass(g: GraphParts, veto: FoldVeto = () => null): FoldBatchNormResult {
  const init = new Map(g.initializers.map((t) => [t.name!, t]));
  const producer = new Map<string, onnx.INodeProto>();
  const consumers = new Map<string, number>();
  for (const n of g.nodes) {
    for (const o of n.output ?? []) producer.set(o, n);
    for (const i of n.input ?? []) consumers.set(i, (consumers.get(i) ?? 0) + 1);
  }
  const kept: Array<{ node: string; reason: string }> = [];
  const removed = new Set<onnx.INodeProto>();
  let folded = 0;
  for (const bn of g.nodes.filter((n) => n.opType === 'BatchNormalization')) {
    const keep = (reason: string): number => kept.push({ node: bn.name ?? '?', reason });
    const [x, gammaName, betaName, meanName, varName] = bn.input ?? [];
    const prev = x ? producer.get(x) : undefined;
    if (!prev || (prev.opType !== 'Conv' && prev.opType !== 'Gemm')) {
      keep(`its input comes from ${prev ? prev.opType : 'a graph input'}, not a Conv or Gemm`);
      continue;
    }
    if (consumers.get(x!) !== 1 || g.outputs.includes(x!)) {
      keep(`the ${prev.opType} output is also read elsewhere`);
      continue;
    }
    const params = [gammaName, betaName, meanName, varName].map((n) => (n ? init.get(n) : undefined));
    const [wName, bName] = [prev.input?.[1], prev.input?.[2]];
    const w = wName ? init.get(wName) : undefined;
    const b = bName ? init.get(bName) : undefined;
    if (params.some((p) => !p || p.dataType !== FLOAT || !p.rawData) || !w || w.dataType !== FLOAT || !w.rawData || (bName && (!b || !b.rawData))) {
      keep('its parameters or the weights are not float initializers');
      continue;
    }
    // A weight another node reads too (tied weights) would need a copy per node; the folded names would collide.
    const shared = [wName, bName].filter((n): n is string => !!n && (consumers.get(n) ?? 0) > 1);
    if (shared.length) {
      keep(`its ${prev.opType} weights (${shared.join(', ')}) are read by other nodes too`);
      continue;
    }
    const vetoed = veto(bn, w, params as onnx.ITensorProto[]);
    if (vetoed) {
      keep(vetoed);
      continue;
    }
    const transB = prev.opType === 'Gemm' ? Number(attr(prev, 'transB')?.i ?? 0) : 0;
    if (
      prev.opType === 'Gemm' &&
      ((attr(prev, 'alpha')?.f ?? 1) !== 1 || (attr(prev, 'beta')?.f ?? 1) !== 1 || Number(attr(prev, 'transA')?.i ?? 0) !== 0)
    ) {
      keep('Gemm with alpha, beta or transA not at their defaults');
      continue;
    }
    const [gamma, beta, mean, variance] = params.map((p) => floats(p!)) as [Float64Array, Float64Array, Float64Array, Float64Array];
    const eps = attr(bn, 'epsilon')?.f ?? 1e-5;
    const channels = gamma.length;
    const scale = gamma.map((gm, c) => gm / Math.sqrt(variance[c]! + eps));
    const weights = floats(w);
    const dims = (w.dims ?? []).map(Number);
    // The output channel's position: Conv W [O, I, kh, kw] -> O major; Gemm B [in, out] -> last axis (transB: first).
    const channelOf =
      prev.opType === 'Conv' || transB
        ? (i: number): number => Math.floor(i / (weights.length / dims[0]!))
        : (i: number): number => i % dims[dims.length - 1]!;
    if ((prev.opType === 'Conv' || transB ? dims[0] : dims[dims.length - 1]) !== channels) {
      keep(`the weights' output channels do not match the BatchNorm's ${channels}`);
      continue;
    }
    const newW = Float32Array.from(weights, (v, i) => v * scale[channelOf(i)]!);
    const oldB = b ? floats(b) : new Float64Array(channels);
    const newB = Float32Array.from({ length: channels }, (_, c) => (oldB[c]! - mean[c]!) * scale[c]! + beta[c]!);
    const wOut = `${wName}.bn_folded`;
    const bOut = `${bName ?? `${wName}.bias`}.bn_folded`;
    g.initializers.push(
      { name: wOut, dataType: FLOAT, dims, rawData: float32Bytes(newW) },
      { name: bOut, dataType: FLOAT, dims: [channels], rawData: float32Bytes(newB) },
    );
    prev.input = [prev.input![0]!, wOut, bOut];
    prev.output = [...(bn.output ?? [])];
    removed.add(bn);
    folded++;
  }
  const remaining = g.nodes.filter((n) => !removed.has(n));
  g.nodes.splice(0, g.nodes.length, ...remaining);
  const used = new Set(remaining.flatMap((n) => n.input ?? []));
  const live = g.initializers.filter((t) => used.has(t.name!));
  g.initializers.splice(0, g.initializers.length, ...live);
  return { folded, kept };
}
