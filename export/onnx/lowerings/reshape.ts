import { ChannelsFirstFlatten, Flatten, ImageReshape } from '../../../src/nn/reshape';
import { Lowering, output } from '../lowering';
import { isImageShape, NCHW_TO_NHWC, NHWC_TO_NCHW } from '../layout';

/** Images are transposed back to NHWC before flattening so the row order matches tfjs (see layout.ts). */
export const lowerFlatten: Lowering<Flatten> = (layer, input, { graph }) => {
  const source = isImageShape(input.shape) ? graph.node('Transpose', [input.name], layer.name, { perm: { ints: [...NCHW_TO_NHWC] } }) : input.name;
  return output(layer, input, graph.node('Flatten', [source], layer.name, { axis: { i: 1 } }));
};

/** Flat HWC pixels -> NCHW image: reshape to NHWC, then transpose (a single reshape when C = 1). */
export const lowerImageReshape: Lowering<ImageReshape> = (layer, input, { graph }) => {
  const { height: h, width: w, channels: c } = layer;
  if (c === 1)
    return output(layer, input, graph.node('Reshape', [input.name, graph.int64Initializer(`${layer.name}.shape`, [-1, 1, h, w])], layer.name));
  const nhwc = graph.node('Reshape', [input.name, graph.int64Initializer(`${layer.name}.shape`, [-1, h, w, c])], layer.name);
  return output(layer, input, graph.node('Transpose', [nhwc], layer.name, { perm: { ints: [...NHWC_TO_NCHW] } }));
};

/** The graph is NCHW already: a plain Flatten reads C, H, W order. */
export const lowerChannelsFirstFlatten: Lowering<ChannelsFirstFlatten> = (layer, input, { graph }) =>
  output(layer, input, graph.node('Flatten', [input.name], layer.name, { axis: { i: 1 } }));
