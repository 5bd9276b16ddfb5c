/** Pad (constant mode, on H and W only) -> Pad2d. The pads and the value come as constants (inputs from opset 11). */
import { Pad2d } from '../../../src/nn/pad';
import { Converter } from '../converter';

export const convertPad: Converter = (ctx) => {
  const x = ctx.graphInput(0);
  if (x.shape.length !== 3) ctx.fail(`input of shape [${x.shape.join(', ')}] per example: only images are padded`);
  const mode = ctx.attrString('mode', 'constant');
  if (mode !== 'constant') ctx.fail(`mode ${mode}: only constant padding is supported`);
  if (ctx.has(3)) ctx.fail('the axes input is not supported');
  const pads = Array.from(ctx.constInput(1).data);
  if (pads.length !== 8) ctx.fail(`pads [${pads.join(', ')}]: expected 8 values for an NCHW image`);
  const [nb, cb, t, l, ne, ce, b, r] = pads as [number, number, number, number, number, number, number, number];
  if (nb || cb || ne || ce) ctx.fail(`pads [${pads.join(', ')}]: only the height and width are padded`);
  const value = ctx.has(2) ? ctx.constInput(2).data[0]! : 0;
  return ctx.addLayer(new Pad2d(ctx.name, [t, l, b, r], value), x);
};
