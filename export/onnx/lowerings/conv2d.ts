import { Conv2d } from '../../../src/nn/conv2d';
import { filterShape } from '../../../src/nn/convGeometry';
import { Lowering, output, weightData } from '../lowering';
import { filterToOIHW, windowPads } from '../layout';

export const lowerConv2d: Lowering<Conv2d> = (layer, input, { graph }) => {
  const g = layer.geometry;
  const k = g.kernelSize;
  const w = graph.floatInitializer(`${layer.name}.weight`, filterToOIHW(weightData(layer, layer.filter), filterShape(g)), [
    g.outChannels,
    g.inChannels / g.groups,
    k,
    k,
  ]);
  const inputs = [input.name, w];
  if (layer.bias) inputs.push(graph.floatInitializer(`${layer.name}.bias`, weightData(layer, layer.bias), [g.outChannels]));
  const [h, wd] = input.shape as [number, number, number];
  const out = graph.node('Conv', inputs, layer.name, {
    kernel_shape: { ints: [k, k] },
    strides: { ints: [g.stride, g.stride] },
    pads: { ints: windowPads(h, wd, k, g.stride, g.padding) },
    dilations: { ints: [1, 1] },
    group: { i: g.groups },
  });
  return output(layer, input, out);
};
