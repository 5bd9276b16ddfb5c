/**
 * Gemm (A [N, K] by a constant B, transB as PyTorch's Linear writes it, plus a constant C) and
 * MatMul by a constant -> Dense; the Gemm that produces the graph's output is made through the
 * factory's head (the late-phase head kind claims it when chosen).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Dense } from '../../../src/nn/dense';
import { Converter, ConvertContext } from '../converter';
import { ConstValue, GraphValue } from '../values';

/** The [in, out] kernel from B ([in, out], or [out, in] with transposed). */
function kernelOf(b: ConstValue, transposed: boolean): tf.Tensor2D {
  const [r, c] = b.dims as [number, number];
  const k = tf.tensor2d(Float32Array.from(b.data), [r, c]);
  if (!transposed) return k;
  const t = tf.transpose(k) as tf.Tensor2D;
  k.dispose();
  return t;
}

function dense(ctx: ConvertContext, x: GraphValue, b: ConstValue, transposed: boolean, bias: ConstValue | null): GraphValue {
  if (x.shape.length !== 1) ctx.fail(`input of shape [${x.shape.join(', ')}] per example: a Gemm/MatMul by a constant takes vectors`);
  if (b.dims.length !== 2) ctx.fail(`B of shape [${b.dims.join(', ')}] is not a matrix`);
  const [inUnits, outUnits] = transposed ? [b.dims[1]!, b.dims[0]!] : [b.dims[0]!, b.dims[1]!];
  if (inUnits !== x.shape[0]) ctx.fail(`B takes ${inUnits} features, the input has ${x.shape[0]}`);
  if (bias && bias.data.length !== outUnits && bias.data.length !== 1) ctx.fail(`C holds ${bias.data.length} values for ${outUnits} outputs`);
  const values = {
    weight: () => kernelOf(b, transposed),
    ...(bias && { bias: () => tf.tensor1d(bias.data.length === 1 ? new Float32Array(outUnits).fill(bias.data[0]!) : Float32Array.from(bias.data)) }),
  };
  const opts = { rng: ctx.factory.rng, source: ctx.source(values), bias: bias !== null, ...(ctx.isOutput && { role: 'head' as const }) };
  return ctx.addLayer(new Dense(ctx.name, inUnits, outUnits, opts), x);
}

export const convertGemm: Converter = (ctx) => {
  if (ctx.attrFloat('alpha', 1) !== 1 || ctx.attrFloat('beta', 1) !== 1) ctx.fail('alpha or beta other than 1 is not supported');
  if (ctx.attrInt('transA', 0) !== 0) ctx.fail('transA 1 is not supported');
  return dense(ctx, ctx.graphInput(0), ctx.constInput(1), ctx.attrInt('transB', 0) === 1, ctx.has(2) ? ctx.constInput(2) : null);
};

export const convertMatMul: Converter = (ctx) => dense(ctx, ctx.graphInput(0), ctx.constInput(1), false, null);
