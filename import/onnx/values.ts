/**
 * What an ONNX tensor becomes at import: a value of the graph being built (a node of the latephase
 * Graph, with its per-example shape in tfjs layout: NCHW images become [H, W, C]), or a constant
 * known at import time (initializers, Constant nodes and everything computed from constants only,
 * such as the Shape -> Gather -> Unsqueeze -> Concat chains PyTorch emits for a Reshape).
 */
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
