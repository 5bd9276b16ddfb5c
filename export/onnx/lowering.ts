/** The contract of one layer kind's ONNX lowering. */
import { Layer } from '../../src/nn/layer';
import { GraphBuilder } from './graph';
import { isPlainWeight, Weight } from '../../src/nn/weight';
import { ExportError } from '../../src/errors';

/** A tensor in the graph: its ONNX name and its per-example tfjs shape (layout.ts maps it to ONNX dims). */
export interface OnnxValue {
  readonly name: string;
  readonly shape: readonly number[];
}

export interface LoweringContext {
  readonly graph: GraphBuilder;
  /** Lower a sub-layer (containers use this). */
  lower(layer: Layer, input: OnnxValue): OnnxValue;
}

export type Lowering<L extends Layer> = (layer: L, input: OnnxValue, ctx: LoweringContext) => OnnxValue;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type LayerClass<L extends Layer> = abstract new (...args: any[]) => L;

export interface LoweringEntry {
  readonly type: LayerClass<Layer>;
  readonly lower: Lowering<Layer>;
}

/** Pair a layer class with its lowering; the table matches classes exactly (no subclass surprises). */
export function lowering<L extends Layer>(type: LayerClass<L>, lower: Lowering<L>): LoweringEntry {
  return { type, lower: lower as Lowering<Layer> };
}

/** The value a layer produces from `input`, shape-checked by the layer itself. */
export function output(layer: Layer, input: OnnxValue, name: string): OnnxValue {
  return { name, shape: layer.outputShape(input.shape) };
}

/** A plain weight's values; the exporter reads plain (folded) models only. */
export function weightData(layer: Layer, w: Weight): Float32Array {
  if (!isPlainWeight(w)) throw new ExportError(`layer '${layer.name}': weight '${w.name}' is not plain; fold first with foldMembers(model)`);
  return w.variable.dataSync() as Float32Array;
}
