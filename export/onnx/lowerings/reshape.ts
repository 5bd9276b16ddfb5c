import { ChannelsFirstFlatten, Flatten, ImageReshape } from '../../../src/nn/reshape';
import { Lowering, output } from '../lowering';
import { isImageShape, NCHW_TO_NHWC, NHWC_TO_NCHW } from '../layout';

/** A 1 x 1 image: NHWC and NCHW hold its values in the same order. */
const isPixel = (shape: readonly number[]): boolean => shape[0] === 1 && shape[1] === 1;

/** Images are transposed back to NHWC before flattening so the row order matches tfjs (see layout.ts); a 1 x 1 image has one order. */
export const lowerFlatten: Lowering<Flatten> = (layer, input, { graph }) => {
  const source =
    isImageShape(input.shape) && !isPixel(input.shape)
      ? graph.node('Transpose', [input.name], layer.name, { perm: { ints: [...NCHW_TO_NHWC] } })
      : input.name;
  return output(layer, input, graph.node('Flatten', [source], layer.name, { axis: { i: 1 } }));
};

/** Flat HWC pixels -> NCHW image: reshape to NHWC, then transpose (a single reshape when C = 1 or the image is 1 x 1). */
export const lowerImageReshape: Lowering<ImageReshape> = (layer, input, { graph }) => {
  const { height: h, width: w, channels: c } = layer;
  if (c === 1 || (h === 1 && w === 1))
    return output(layer, input, graph.node('Reshape', [input.name, graph.int64Initializer(`${layer.name}.shape`, [-1, c, h, w])], layer.name));
  const nhwc = graph.node('Reshape', [input.name, graph.int64Initializer(`${layer.name}.shape`, [-1, h, w, c])], layer.name);
  return output(layer, input, graph.node('Transpose', [nhwc], layer.name, { perm: { ints: [...NHWC_TO_NCHW] } }));
};

/** The graph is NCHW already: a plain Flatten reads C, H, W order. */
export const lowerChannelsFirstFlatten: Lowering<ChannelsFirstFlatten> = (layer, input, { graph }) =>
  output(layer, input, graph.node('Flatten', [input.name], layer.name, { axis: { i: 1 } }));
