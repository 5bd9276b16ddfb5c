/**
 * The contract of one ONNX operator's converter (the mirror of export/onnx/lowering.ts): it reads
 * the node's inputs as graph values or constants and its attributes, adds latephase layers or
 * merges to the Graph being built, or computes a constant; it returns the value of the node's
 * first output. Anything it cannot express is `ctx.fail(why)`: a ConfigError naming the node.
 */
import * as tf from '@tensorflow/tfjs-core';
import { onnx } from 'onnx-proto';
import { Layer } from '../../src/nn/layer';
import { Merge } from '../../src/nn/merge';
import { LayerFactory } from '../../src/latephase/layerFactory';
import { WeightSource } from '../../src/nn/weight';
import { ConstValue, GraphValue, ImportValue } from './values';

export interface ConvertContext {
  readonly node: onnx.INodeProto;
  /** The node's name (its first output's when unnamed): names the layers it makes. */
  readonly name: string;
  /** The default-domain opset the model imports. */
  readonly opset: number;
  /** Whether input `i` is given (optional inputs may be empty). */
  has(i: number): boolean;
  input(i: number): ImportValue;
  /** Input `i` as a value of the graph (a ConfigError when it is a constant, or an NHWC-ordered image unless `nhwc`). */
  graphInput(i: number, nhwc?: boolean): GraphValue;
  /** Input `i` as a constant (a ConfigError when it is computed from the model's input). */
  constInput(i: number): ConstValue;
  attrInt(name: string, fallback?: number): number;
  attrInts(name: string, fallback?: readonly number[]): number[];
  attrFloat(name: string, fallback?: number): number;
  attrString(name: string, fallback?: string): string;
  /** Whether the node's output is the graph's output (a Gemm there is the classifier head). */
  readonly isOutput: boolean;
  /**
   * The weight source for a layer this node makes: the imported values by tensor ('weight',
   * 'bias'), handed through the late-phase kinds chosen (a kind claims a weight and starts its
   * members from these values).
   */
  source(values: Readonly<Record<string, () => tf.Tensor>>): WeightSource;
  readonly factory: LayerFactory;
  addLayer(layer: Layer, input: GraphValue): GraphValue;
  addMerge(merge: Merge, inputs: readonly GraphValue[]): GraphValue;
  fail(why: string): never;
}

export type Converter = (ctx: ConvertContext) => ImportValue;
