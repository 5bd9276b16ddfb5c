/**
 * How a graph consumes each of its inputs, for seeded verification: random values are meaningful
 * for data, but not for an input that a node reads as indices, a divisor, or structure (a shape,
 * axes, sizes, scales, pads, k). Seeded trials draw indices inside the indexed axis, divisors away
 * from zero, and never invent structure: those inputs come from golden data, or the trials are
 * skipped with the reason (verifyFile.ts). The tables name (operator, input position).
 */
import { onnx } from 'onnx-proto';
import { toInt } from '../../src/onnx/readOnnx';

export type InputRole =
  | { readonly kind: 'data' }
  /** Indices into `axis` of the node's input `of`; `bound` is that axis's size where the graph fixes it. */
  | { readonly kind: 'index'; readonly node: string; readonly op: string; readonly bound: number | null }
  | { readonly kind: 'divisor'; readonly node: string; readonly op: string }
  | { readonly kind: 'structure'; readonly node: string; readonly op: string; readonly what: string };

/** Inputs read as shapes, axes, sizes and the like: operator -> input position -> what it gives. */
const STRUCTURE: Readonly<Record<string, Readonly<Record<number, string>>>> = {
  Reshape: { 1: 'shape' },
  Expand: { 1: 'shape' },
  Tile: { 1: 'repeats' },
  ConstantOfShape: { 0: 'shape' },
  Resize: { 1: 'roi', 2: 'scales', 3: 'sizes' },
  Upsample: { 1: 'scales' },
  Slice: { 1: 'starts', 2: 'ends', 3: 'axes', 4: 'steps' },
  Pad: { 1: 'pads', 2: 'constant value', 3: 'axes' },
  Squeeze: { 1: 'axes' },
  Unsqueeze: { 1: 'axes' },
  ReduceSum: { 1: 'axes' },
  ReduceMean: { 1: 'axes' },
  ReduceMax: { 1: 'axes' },
  ReduceMin: { 1: 'axes' },
  ReduceProd: { 1: 'axes' },
  ReduceL1: { 1: 'axes' },
  ReduceL2: { 1: 'axes' },
  ReduceLogSum: { 1: 'axes' },
  ReduceLogSumExp: { 1: 'axes' },
  ReduceSumSquare: { 1: 'axes' },
  TopK: { 1: 'k' },
  Range: { 0: 'start', 1: 'limit', 2: 'delta' },
  RoiAlign: { 1: 'rois', 2: 'batch indices' },
  MaxRoiPool: { 1: 'rois' },
  NonMaxSuppression: { 2: 'max output boxes', 3: 'IoU threshold', 4: 'score threshold' },
  Split: { 1: 'split sizes' },
  CumSum: { 1: 'axis' },
  Trilu: { 1: 'k' },
  OneHot: { 1: 'depth' },
  ReverseSequence: { 1: 'sequence lengths' },
  CenterCropPad: { 1: 'shape' },
  Col2Im: { 1: 'image shape', 2: 'block shape' },
  DFT: { 1: 'DFT length', 2: 'axis' },
  STFT: { 1: 'frame step', 3: 'frame length' },
  BlackmanWindow: { 0: 'size' },
  HannWindow: { 0: 'size' },
  HammingWindow: { 0: 'size' },
  MelWeightMatrix: { 0: 'mel bins', 1: 'DFT length', 2: 'sample rate', 3: 'lower edge', 4: 'upper edge' },
  Dropout: { 1: 'ratio', 2: 'training mode' },
  Loop: { 0: 'trip count', 1: 'condition' },
  Bernoulli: { 0: 'probabilities (the output is random)' },
  MaxUnpool: { 1: 'indices', 2: 'output shape' },
  GridSample: { 1: 'grid' },
  AffineGrid: { 1: 'size' },
};

/** Inputs read as indices: operator -> input position -> [the indexed input, the axis attribute and its default]. */
const INDEX: Readonly<Record<string, Readonly<Record<number, readonly [number, string, number]>>>> = {
  Gather: { 1: [0, 'axis', 0] },
  GatherElements: { 1: [0, 'axis', 0] },
  GatherND: { 1: [0, '', 0] },
  ScatterElements: { 1: [0, 'axis', 0] },
  Scatter: { 1: [0, 'axis', 0] },
  ScatterND: { 1: [0, '', 0] },
  OneHot: { 0: [-1, '', 0] },
  NegativeLogLikelihoodLoss: { 1: [0, '', 1] },
  SoftmaxCrossEntropyLoss: { 1: [0, '', 1] },
};

/** Integer divisors (a zero is undefined behaviour, and a crash in some kernels). */
const DIVISOR: Readonly<Record<string, number>> = { Mod: 1, Div: 1 };

/** Operators that pass their input's values through unchanged (a role is looked for behind them). */
const PASS_THROUGH = new Set(['Identity', 'Cast', 'CastLike']);

/** Fixed dims of every value the graph declares (inputs, initializers, value_info). */
function staticShapes(graph: onnx.IGraphProto): Map<string, Array<number | null>> {
  const shapes = new Map<string, Array<number | null>>();
  for (const v of [...(graph.input ?? []), ...(graph.valueInfo ?? []), ...(graph.output ?? [])]) {
    const dims = v.type?.tensorType?.shape?.dim;
    if (dims && v.name)
      shapes.set(
        v.name,
        dims.map((d) => (d.dimValue !== null && d.dimValue !== undefined ? toInt(d.dimValue, 'dimension') : null)),
      );
  }
  for (const t of graph.initializer ?? [])
    if (t.name)
      shapes.set(
        t.name,
        (t.dims ?? []).map((d) => toInt(d, 'dimension')),
      );
  return shapes;
}

function intAttribute(node: onnx.INodeProto, name: string, fallback: number): number {
  const a = (node.attribute ?? []).find((x) => x.name === name);
  return a?.i !== null && a?.i !== undefined ? toInt(a.i, `attribute ${name}`) : fallback;
}

/** The role of the value `name` at node `node`'s input position `position`, or null for data. */
function roleAt(node: onnx.INodeProto, position: number, shapes: Map<string, Array<number | null>>): InputRole | null {
  const op = node.opType ?? '';
  const where = { node: node.name || op, op };
  const structure = STRUCTURE[op]?.[position];
  if (structure) return { kind: 'structure', ...where, what: structure };
  const index = INDEX[op]?.[position];
  if (index) {
    const [of, attribute, fallback] = index;
    const dims = of >= 0 ? shapes.get(node.input?.[of] ?? '') : undefined;
    let axis = attribute ? intAttribute(node, attribute, fallback) : fallback;
    if (dims && axis < 0) axis += dims.length;
    // GatherND indexes several axes at once: the smallest fixed one bounds every index.
    const bound = !dims ? null : op === 'GatherND' || op === 'ScatterND' ? Math.min(...dims.map((d) => d ?? Infinity)) : (dims[axis] ?? null);
    return { kind: 'index', ...where, bound: bound !== null && Number.isFinite(bound) ? bound : null };
  }
  if (DIVISOR[op] === position) return { kind: 'divisor', ...where };
  return null;
}

/**
 * Each graph input's role: the first non-data use wins (structure over index over divisor does
 * not arise in practice: one input rarely feeds two kinds). Values passed through Identity or Cast
 * keep their role; uses inside subgraphs count as data.
 */
export function inputRoles(model: onnx.IModelProto): Map<string, InputRole> {
  const graph = model.graph ?? {};
  const shapes = staticShapes(graph);
  const nodes = graph.node ?? [];
  const roles = new Map<string, InputRole>();
  for (const input of graph.input ?? []) {
    const name = input.name ?? '';
    const seen = new Set<string>([name]);
    const frontier = [name];
    let role: InputRole | null = null;
    while (frontier.length && !role) {
      const value = frontier.pop()!;
      for (const node of nodes) {
        (node.input ?? []).forEach((used, position) => {
          if (used !== value || role) return;
          if (PASS_THROUGH.has(node.opType ?? '')) {
            for (const out of node.output ?? [])
              if (!seen.has(out)) {
                seen.add(out);
                frontier.push(out);
              }
          } else role = roleAt(node, position, shapes);
        });
      }
    }
    roles.set(name, role ?? { kind: 'data' });
  }
  return roles;
}

/** A role in words, for reports: "gives the shape of node 'r' (Reshape)". */
export function describeRole(role: InputRole): string {
  if (role.kind === 'data') return 'data';
  const at = `node '${role.node}' (${role.op})`;
  if (role.kind === 'structure') return `gives the ${role.what} of ${at}`;
  if (role.kind === 'divisor') return `is the divisor of ${at}`;
  return `holds indices for ${at}${role.bound !== null ? `, below ${role.bound}` : ' into an axis of unknown size'}`;
}
