/**
 * A Graph lowers node by node in its topological order: each layer node through the layer
 * registry, each merge through its own lowering below (registered beside the layers', registry.ts).
 * Merged inputs share one rank, so NCHW broadcasting lines up exactly as NHWC's does in tfjs.
 */
import { Graph, GRAPH_INPUT } from '../../../src/nn/graph';
import { Add, Concatenate, Merge, Multiply } from '../../../src/nn/merge';
import { ExportError } from '../../../src/errors';
import { LoweringContext, OnnxValue } from '../lowering';
import { onnxAxis } from '../layout';

export type MergeLowering<M extends Merge> = (merge: M, inputs: readonly OnnxValue[], ctx: LoweringContext) => OnnxValue;

const merged = (merge: Merge, inputs: readonly OnnxValue[], name: string): OnnxValue => ({
  name,
  shape: merge.outputShape(inputs.map((i) => i.shape)),
});

export const lowerAdd: MergeLowering<Add> = (merge, inputs, { graph }) =>
  merged(
    merge,
    inputs,
    graph.node(
      'Sum',
      inputs.map((i) => i.name),
      merge.name,
    ),
  );

export const lowerMultiply: MergeLowering<Multiply> = (merge, inputs, { graph }) =>
  merged(
    merge,
    inputs,
    inputs.slice(1).reduce((product, x) => graph.node('Mul', [product, x.name], merge.name), inputs[0]!.name),
  );

export const lowerConcatenate: MergeLowering<Concatenate> = (merge, inputs, { graph }) => {
  const shape = inputs[0]!.shape;
  const axis = onnxAxis(shape, merge.perExampleAxis(shape.length));
  return merged(
    merge,
    inputs,
    graph.node(
      'Concat',
      inputs.map((i) => i.name),
      merge.name,
      { axis: { i: axis } },
    ),
  );
};

/** Lowers a graph given the merge lowerings (the registry passes its table). */
export function graphLowering(lowerMerge: (merge: Merge, inputs: readonly OnnxValue[], ctx: LoweringContext) => OnnxValue) {
  return (layer: Graph, input: OnnxValue, ctx: LoweringContext): OnnxValue => {
    const values = new Map<string, OnnxValue>([[GRAPH_INPUT, input]]);
    for (const node of layer.nodes) {
      const ins = node.inputs.map((i) => values.get(i)!);
      values.set(node.name, node.op instanceof Merge ? lowerMerge(node.op, ins, ctx) : ctx.lower(node.op, ins[0]!));
    }
    const out = values.get(layer.output);
    if (!out) throw new ExportError(`graph '${layer.name}': no value for its output '${layer.output}'`);
    return out;
  };
}
