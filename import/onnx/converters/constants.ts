/**
 * Constant folding at import: a node whose inputs are all constants is computed here, so the
 * shape arithmetic PyTorch's exporter writes (Shape -> Gather -> Unsqueeze -> Concat -> Reshape)
 * becomes the constant target shape the Reshape converter reads. Shape of a computed value gives
 * its ONNX dims with the batch as 0 (ONNX Reshape's "keep this dimension").
 */
import { onnx } from 'onnx-proto';
import { ConvertContext } from '../converter';
import { constantOf } from '../tensors';
import { constant, ConstValue, ImportValue, onnxDimsOf } from '../values';

export type ConstantFold = (ctx: ConvertContext) => ConstValue;

const strides = (dims: readonly number[]): number[] => dims.map((_, i) => dims.slice(i + 1).reduce((a, b) => a * b, 1));
const normAxis = (ctx: ConvertContext, axis: number, rank: number): number => {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) ctx.fail(`axis ${axis} is outside rank ${rank}`);
  return a;
};

/** The axes of Unsqueeze/Squeeze: an attribute before opset 13, an input from 13 on. */
const axesOf = (ctx: ConvertContext): number[] => (ctx.opset >= 13 && ctx.has(1) ? Array.from(ctx.constInput(1).data) : ctx.attrInts('axes', []));

function elementwise(ctx: ConvertContext, f: (a: number, b: number) => number): ConstValue {
  const [a, b] = [ctx.constInput(0), ctx.constInput(1)];
  if (a.data.length !== 1 && b.data.length !== 1 && a.dims.join() !== b.dims.join())
    ctx.fail(`constant operands of shapes [${a.dims.join(', ')}] and [${b.dims.join(', ')}]: only equal shapes or a scalar are folded`);
  const big = a.data.length >= b.data.length ? a : b;
  const out = big.data.map((_, i) => f(a.data[a.data.length === 1 ? 0 : i]!, b.data[b.data.length === 1 ? 0 : i]!));
  return constant(big.dims, out, a.integer && b.integer);
}

export const CONSTANT_FOLDS: Readonly<Record<string, ConstantFold>> = {
  Constant: (ctx) => {
    const attr = (ctx.node.attribute ?? []).find((a) => a.name === 'value');
    const t = attr?.t;
    if (!t) return ctx.fail('only the tensor form (value) of Constant is supported');
    return constantOf(t as onnx.ITensorProto, `node '${ctx.name}' (Constant)`);
  },
  Gather: (ctx) => {
    const [data, idx] = [ctx.constInput(0), ctx.constInput(1)];
    const axis = normAxis(ctx, ctx.attrInt('axis', 0), data.dims.length);
    const st = strides(data.dims);
    const outer = data.dims.slice(0, axis).reduce((x, y) => x * y, 1);
    const n = data.dims[axis]!;
    const out: number[] = [];
    for (let o = 0; o < outer; o++)
      for (const raw of idx.data) {
        const i = raw < 0 ? raw + n : raw;
        if (i < 0 || i >= n) ctx.fail(`index ${raw} is outside ${n}`);
        for (let k = 0; k < st[axis]!; k++) out.push(data.data[o * n * st[axis]! + i * st[axis]! + k]!);
      }
    return constant([...data.dims.slice(0, axis), ...idx.dims, ...data.dims.slice(axis + 1)], out, data.integer);
  },
  Unsqueeze: (ctx) => {
    const x = ctx.constInput(0);
    const rank = x.dims.length + axesOf(ctx).length;
    const axes = new Set(axesOf(ctx).map((a) => normAxis(ctx, a, rank)));
    const dims: number[] = [];
    for (let i = 0, j = 0; i < rank; i++) dims.push(axes.has(i) ? 1 : x.dims[j++]!);
    return constant(dims, x.data, x.integer);
  },
  Squeeze: (ctx) => {
    const x = ctx.constInput(0);
    const axes = axesOf(ctx).map((a) => normAxis(ctx, a, x.dims.length));
    return constant(
      x.dims.filter((d, i) => (axes.length ? !axes.includes(i) : d !== 1)),
      x.data,
      x.integer,
    );
  },
  Concat: (ctx) => {
    const parts = (ctx.node.input ?? []).map((_, i) => ctx.constInput(i));
    if (parts.some((p) => p.dims.length !== 1)) ctx.fail('only 1-D constants are concatenated at import');
    const data = parts.flatMap((p) => Array.from(p.data));
    return constant(
      [data.length],
      data,
      parts.every((p) => p.integer),
    );
  },
  Cast: (ctx) => {
    const x = ctx.constInput(0);
    const to = ctx.attrInt('to');
    const integer = ![onnx.TensorProto.DataType.FLOAT, onnx.TensorProto.DataType.DOUBLE, onnx.TensorProto.DataType.FLOAT16].includes(to);
    return constant(x.dims, integer ? x.data.map(Math.trunc) : x.data, integer);
  },
  Identity: (ctx) => ctx.constInput(0),
  Reshape: (ctx) => {
    const x = ctx.constInput(0);
    const target = Array.from(ctx.constInput(1).data).map((d, i) => (d === 0 ? x.dims[i]! : d));
    const known = target.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const dims = target.map((d) => (d === -1 ? x.data.length / known : d));
    return constant(dims, x.data, x.integer);
  },
  Add: (ctx) => elementwise(ctx, (a, b) => a + b),
  Sub: (ctx) => elementwise(ctx, (a, b) => a - b),
  Mul: (ctx) => elementwise(ctx, (a, b) => a * b),
  Div: (ctx) => elementwise(ctx, (a, b) => (ctx.constInput(0).integer && ctx.constInput(1).integer ? Math.trunc(a / b) : a / b)),
};

/** Shape of a computed value: known at import (its dims, the batch as 0). */
export function shapeOf(value: ImportValue): ConstValue {
  const dims = value.kind === 'graph' ? onnxDimsOf(value).map((d) => (d === -1 ? 0 : d)) : [...value.dims];
  return constant([dims.length], dims, true);
}
