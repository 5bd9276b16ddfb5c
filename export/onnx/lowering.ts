/** The contract of one layer kind's ONNX lowering. */
import { Layer } from '../../src/nn/layer';
import { GraphBuilder } from './graph';

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
