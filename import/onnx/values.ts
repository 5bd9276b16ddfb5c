/**
 * What an ONNX tensor becomes at import: a value of the graph being built (a node of the latephase
 * Graph, with its per-example shape in tfjs layout: NCHW images become [H, W, C]), or a constant
 * known at import time (initializers, Constant nodes and everything computed from constants only,
 * such as the Shape -> Gather -> Unsqueeze -> Concat chains PyTorch emits for a Reshape). Both
 * importers (ONNX, tfjs) assemble their Graph with `appendNode`.
 */
import { GraphNode } from '../../src/nn/graph';
import { Layer } from '../../src/nn/layer';
import { Merge } from '../../src/nn/merge';
import { ShapeError } from '../../src/errors';

export interface GraphValue {
  readonly kind: 'graph';
  /** The Graph node (or GRAPH_INPUT) that computes it. */
  readonly node: string;
  /** Per-example shape, tfjs layout ([H, W, C] for an NCHW image). */
  readonly shape: readonly number[];
  /**
   * 'nhwc': the ONNX tensor is the image in NHWC order ([N, H, W, C]), i.e. the transpose of what
   * an image value normally stands for. Exporters that compute in NHWC write such tensors around a
   * Transpose (latephase's own flat-input models: Reshape to NHWC, then Transpose to NCHW; and
   * Transpose back before a Flatten); the importer follows them without adding layers.
   */
  readonly layout?: 'nhwc';
}

export interface ConstValue {
  readonly kind: 'const';
  /** ONNX dims, batch included when it has one. */
  readonly dims: readonly number[];
  /** The values in ONNX (row-major) order; integers as exact doubles. */
  readonly data: Float64Array;
  readonly integer: boolean;
}

export type ImportValue = GraphValue | ConstValue;

export const constant = (dims: readonly number[], data: ArrayLike<number>, integer = false): ConstValue => ({
  kind: 'const',
  dims: [...dims],
  data: Float64Array.from(data),
  integer,
});

/** The ONNX dims of a graph value (batch first, NCHW for images). */
export function onnxDimsOf(v: GraphValue): number[] {
  if (v.shape.length !== 3) return [-1, ...v.shape];
  const [h, w, c] = v.shape as [number, number, number];
  return [-1, c, h, w];
}

/**
 * Append `op` reading `from` to `nodes` (the Graph being assembled) and return its value; a shape
 * it cannot take is `fail(why)`, so the error names the node or layer being converted.
 */
export function appendNode(nodes: GraphNode[], op: Layer | Merge, from: readonly GraphValue[], fail: (why: string) => never): GraphValue {
  let shape: number[];
  try {
    shape = op instanceof Merge ? op.outputShape(from.map((v) => v.shape)) : op.outputShape(from[0]!.shape);
  } catch (err) {
    if (err instanceof ShapeError) return fail(err.message);
    throw err;
  }
  nodes.push({ name: op.name, op, inputs: from.map((v) => v.node) });
  return { kind: 'graph', node: op.name, shape };
}
