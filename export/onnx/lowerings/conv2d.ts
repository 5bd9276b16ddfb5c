import { Conv2d } from '../../../src/nn/conv2d';
import { Lowering, output } from '../lowering';
import { filterToOIHW, windowPads } from '../layout';

export const lowerConv2d: Lowering<Conv2d> = (layer, input, { graph }) => {
  const k = layer.kernelSize;
  const filterShape = [k, k, layer.inChannels, layer.outChannels] as const;
  const w = graph.floatInitializer(`${layer.name}.weight`, filterToOIHW(layer.filter.variable.dataSync(), filterShape), [layer.outChannels, layer.inChannels, k, k]);
  const inputs = [input.name, w];
  if (layer.bias) inputs.push(graph.floatInitializer(`${layer.name}.bias`, layer.bias.variable.dataSync(), [layer.outChannels]));
  const [h, wd] = input.shape as [number, number, number];
  const out = graph.node('Conv', inputs, layer.name, {
    kernel_shape: { ints: [k, k] },
    strides: { ints: [layer.stride, layer.stride] },
    pads: { ints: windowPads(h, wd, k, layer.stride, layer.padding) },
    dilations: { ints: [1, 1] },
    group: { i: 1 },
  });
  return output(layer, input, out);
};
