/**
 * MaxPool -> MaxPool (explicit pads tfjs cannot express: a Pad2d of -Infinity first, so padding
 * never wins a window); AveragePool without padding or with tfjs's 'same' and count_include_pad 0
 * -> AvgPool; GlobalAveragePool -> GlobalAvgPool, kept a 1 x 1 image as ONNX keeps it.
 */
import { AvgPool, GlobalAvgPool, MaxPool } from '../../../src/nn/pooling';
import { Pad2d } from '../../../src/nn/pad';
import { ImageReshape } from '../../../src/nn/reshape';
import { Converter } from '../converter';
import { windowGeometry } from './conv';

export const convertMaxPool: Converter = (ctx) => {
  const x = ctx.graphInput(0);
  if (x.shape.length !== 3) ctx.fail(`input of shape [${x.shape.join(', ')}] per example: only 2-D images are supported`);
  if (ctx.attrInt('ceil_mode', 0) !== 0) ctx.fail('ceil_mode 1 is not supported');
  if (ctx.node.output && ctx.node.output.length > 1 && ctx.node.output[1]) ctx.fail('the Indices output is not supported');
  const g = windowGeometry(ctx, x, ctx.attrInts('kernel_shape'));
  const padded = g.pads ? ctx.addLayer(new Pad2d(`${ctx.name}.pad`, g.pads, -Infinity), x) : x;
  return ctx.addLayer(new MaxPool(ctx.name, g.kernel, g.stride, g.padding), padded);
};

export const convertAveragePool: Converter = (ctx) => {
  const x = ctx.graphInput(0);
  if (x.shape.length !== 3) ctx.fail(`input of shape [${x.shape.join(', ')}] per example: only 2-D images are supported`);
  if (ctx.attrInt('ceil_mode', 0) !== 0) ctx.fail('ceil_mode 1 is not supported');
  const g = windowGeometry(ctx, x, ctx.attrInts('kernel_shape'));
  if (g.pads) ctx.fail(`pads [${g.pads.join(', ')}]: only none, or what tfjs's 'same' pads, are supported for AveragePool`);
  if (g.padding === 'same' && ctx.attrInt('count_include_pad', 0) !== 0)
    ctx.fail('count_include_pad 1 with padding: tfjs averages over the real cells only');
  return ctx.addLayer(new AvgPool(ctx.name, g.kernel, g.stride, g.padding), x);
};

/** [N, C, H, W] -> [N, C, 1, 1] as ONNX keeps it: GlobalAvgPool ([C]) and back to a 1 x 1 image. */
export const convertGlobalAveragePool: Converter = (ctx) => {
  const x = ctx.graphInput(0);
  if (x.shape.length !== 3) ctx.fail(`input of shape [${x.shape.join(', ')}] per example: only 2-D images are supported`);
  const pooled = ctx.addLayer(new GlobalAvgPool(ctx.name), x);
  return ctx.addLayer(new ImageReshape(`${ctx.name}.keepdims`, 1, 1, x.shape[2]!), pooled);
};
