/**
 * Flatten (axis 1) and a Reshape to [N, -1] (or [N, features]): an image flattens in ONNX's
 * C, H, W order (ChannelsFirstFlatten, a plain Flatten again at export), so the weights that follow
 * keep their order; a 1 x 1 image or a vector needs no reorder.
 */
import { ChannelsFirstFlatten, Flatten, ImageReshape } from '../../../src/nn/reshape';
import { Converter, ConvertContext } from '../converter';
import { GraphValue } from '../values';

function flatten(ctx: ConvertContext, x: GraphValue): GraphValue {
  if (x.shape.length === 1) return x;
  if (x.shape.length !== 3) ctx.fail(`flattening a per-example shape [${x.shape.join(', ')}] is not supported`);
  const [h, w] = x.shape as [number, number, number];
  // an NHWC tensor flattens in H, W, C order: tfjs's own Flatten
  const hwc = x.layout === 'nhwc' || (h === 1 && w === 1);
  return ctx.addLayer(hwc ? new Flatten(ctx.name) : new ChannelsFirstFlatten(ctx.name), { ...x, layout: undefined });
}

/** Flat features reshaped to an image: [N, 1, H, W] is an NCHW image already; [N, H, W, C] an NHWC one (a Transpose follows). */
function toImage(ctx: ConvertContext, x: GraphValue, target: readonly number[]): GraphValue | null {
  if (x.shape.length !== 1 || target.length !== 4 || !(target[0] === -1 || target[0] === 0)) return null;
  const [, a, b, c] = target as [number, number, number, number];
  if (a * b * c !== x.shape[0]) return null;
  if (a === 1) return ctx.addLayer(new ImageReshape(ctx.name, b, c, 1), x);
  const image = ctx.addLayer(new ImageReshape(ctx.name, a, b, c), x);
  return { ...image, layout: 'nhwc' };
}

export const convertFlatten: Converter = (ctx) => {
  const axis = ctx.attrInt('axis', 1);
  if (axis !== 1) ctx.fail(`axis ${axis}: only axis 1 (keep the batch) is supported`);
  return flatten(ctx, ctx.graphInput(0, true));
};

export const convertReshape: Converter = (ctx) => {
  const x = ctx.graphInput(0, true);
  const target = Array.from(ctx.constInput(1).data);
  const image = x.layout === 'nhwc' ? null : toImage(ctx, x, target);
  if (image) return image;
  const features = x.shape.reduce((a, b) => a * b, 1);
  const flat = target.length === 2 && (target[0] === -1 || target[0] === 0 || target[0]! > 0) && (target[1] === -1 || target[1] === features);
  if (!flat) ctx.fail(`a reshape to [${target.join(', ')}] is not supported (only to [batch, ${features}])`);
  return flatten(ctx, x);
};

/**
 * Transpose between the two image orders only: [0, 3, 1, 2] makes an NHWC tensor the NCHW image
 * it stands for, [0, 2, 3, 1] the reverse (before a Flatten that reads H, W, C); no layer either way.
 */
export const convertTranspose: Converter = (ctx) => {
  const x = ctx.graphInput(0, true);
  const perm = ctx.attrInts('perm', []).join();
  if (x.shape.length === 3 && x.layout === 'nhwc' && perm === '0,3,1,2') return { ...x, layout: undefined };
  if (x.shape.length === 3 && x.layout === undefined && perm === '0,2,3,1') return { ...x, layout: 'nhwc' };
  return ctx.fail(`perm [${perm}] on a per-example shape [${x.shape.join(', ')}]: only the NHWC <-> NCHW transposes of an image are supported`);
};
