/**
 * Flatten (axis 1) and a Reshape to [N, -1] (or [N, features]): an image flattens in ONNX's
 * C, H, W order (ChannelsFirstFlatten, a plain Flatten again at export), so the weights that follow
 * keep their order; a 1 x 1 image or a vector needs no reorder.
 */
import { ChannelsFirstFlatten, Flatten } from '../../../src/nn/reshape';
import { Converter, ConvertContext } from '../converter';
import { GraphValue } from '../values';

function flatten(ctx: ConvertContext, x: GraphValue): GraphValue {
  if (x.shape.length === 1) return x;
  if (x.shape.length !== 3) ctx.fail(`flattening a per-example shape [${x.shape.join(', ')}] is not supported`);
  const [h, w] = x.shape as [number, number, number];
  return ctx.addLayer(h === 1 && w === 1 ? new Flatten(ctx.name) : new ChannelsFirstFlatten(ctx.name), x);
}

export const convertFlatten: Converter = (ctx) => {
  const axis = ctx.attrInt('axis', 1);
  if (axis !== 1) ctx.fail(`axis ${axis}: only axis 1 (keep the batch) is supported`);
  return flatten(ctx, ctx.graphInput(0));
};

export const convertReshape: Converter = (ctx) => {
  const x = ctx.graphInput(0);
  const target = Array.from(ctx.constInput(1).data);
  const features = x.shape.reduce((a, b) => a * b, 1);
  const flat = target.length === 2 && (target[0] === -1 || target[0] === 0 || target[0]! > 0) && (target[1] === -1 || target[1] === features);
  if (!flat) ctx.fail(`a reshape to [${target.join(', ')}] is not supported (only to [batch, ${features}])`);
  return flatten(ctx, x);
};
