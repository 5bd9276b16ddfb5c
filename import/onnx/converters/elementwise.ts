/**
 * Add and Mul of two graph values -> the Add and Multiply merges (size-1 dimensions broadcast);
 * Add, Sub, Mul, Div of a graph value and a constant scalar or per-channel vector -> Standardize
 * ((x - mean) / std: the input normalisation exporters write as Sub and Div); Concat of graph
 * values -> Concatenate. (Constants only: folded at import, see constants.ts.)
 */
import { Add, Concatenate, Multiply } from '../../../src/nn/merge';
import { Standardize } from '../../../src/nn/standardize';
import { Converter, ConvertContext } from '../converter';
import { ConstValue, GraphValue } from '../values';

/** A constant's values as a scalar or one per channel of `x` (ONNX [C, 1, 1] / [1, C, 1, 1] / [C]). */
function perChannel(ctx: ConvertContext, c: ConstValue, x: GraphValue): number[] {
  const channels = x.shape[x.shape.length - 1]!;
  const values = Array.from(c.data);
  if (values.length === 1) return values;
  const nonUnit = c.dims.filter((d) => d !== 1);
  const channelAxisOk = x.shape.length === 3 ? c.dims.length >= 3 && c.dims[c.dims.length - 3] === channels : c.dims[c.dims.length - 1] === channels;
  if (nonUnit.length !== 1 || values.length !== channels || !channelAxisOk)
    ctx.fail(
      `a constant of shape [${c.dims.join(', ')}] with an input of per-example shape [${x.shape.join(', ')}]: only scalars and per-channel constants are supported`,
    );
  return values;
}

function affine(ctx: ConvertContext, op: 'Add' | 'Sub' | 'Mul' | 'Div'): GraphValue {
  const [a, b] = [ctx.input(0), ctx.input(1)];
  const graphFirst = a.kind === 'graph';
  const x = (graphFirst ? a : b) as GraphValue;
  const c = (graphFirst ? b : a) as ConstValue;
  if (!graphFirst && (op === 'Sub' || op === 'Div')) ctx.fail(`${op} of a constant by a computed value is not supported`);
  const v = perChannel(ctx, c, x);
  const ones = v.map(() => 1);
  const zeros = v.map(() => 0);
  const [mean, std] = op === 'Add' ? [v.map((k) => -k), ones] : op === 'Sub' ? [v, ones] : op === 'Mul' ? [zeros, v.map((k) => 1 / k)] : [zeros, v];
  if (std.some((s) => !(s > 0))) ctx.fail(`${op} by ${op === 'Mul' ? 'a factor' : 'a divisor'} that is not positive is not supported`);
  return ctx.addLayer(new Standardize(ctx.name, mean, std), x);
}

function binary(op: 'Add' | 'Sub' | 'Mul' | 'Div'): Converter {
  return (ctx) => {
    const [a, b] = [ctx.input(0), ctx.input(1)];
    if (a.kind === 'graph' && b.kind === 'graph') {
      if (op === 'Add') return ctx.addMerge(new Add(ctx.name), [a, b]);
      if (op === 'Mul') return ctx.addMerge(new Multiply(ctx.name), [a, b]);
      ctx.fail(`${op} of two computed values is not supported (Add and Mul are)`);
    }
    return affine(ctx, op);
  };
}

export const convertAdd = binary('Add');
export const convertSub = binary('Sub');
export const convertMul = binary('Mul');
export const convertDiv = binary('Div');

/** ONNX axis (batch included, NCHW) -> an axis of the per-example tfjs shape. */
function perExampleAxis(ctx: ConvertContext, axis: number, x: GraphValue): number {
  const rank = x.shape.length + 1;
  const a = axis < 0 ? axis + rank : axis;
  if (a <= 0 || a >= rank) ctx.fail(`axis ${axis}: concatenating along the batch or outside rank ${rank} is not supported`);
  return x.shape.length === 3 ? [2, 0, 1][a - 1]! : a - 1;
}

export const convertConcat: Converter = (ctx) => {
  const inputs = (ctx.node.input ?? []).map((_, i) => ctx.graphInput(i));
  if (inputs.length === 1) return inputs[0]!; // a list of one (DenseNet's first layer): nothing to join
  return ctx.addMerge(new Concatenate(ctx.name, perExampleAxis(ctx, ctx.attrInt('axis'), inputs[0]!)), inputs);
};
