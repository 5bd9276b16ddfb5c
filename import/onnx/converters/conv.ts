/**
 * Conv (grouped and depthwise too, square kernels, equal strides, dilation 1) -> Conv2d; explicit pads that tfjs's
 * 'same' or 'valid' cannot express (PyTorch's symmetric padding) -> Pad2d with zeros, then a
 * 'valid' convolution. ONNX filters are [out, in, kh, kw], tfjs's [kh, kw, in, out].
 */
import * as tf from '@tensorflow/tfjs-core';
import { Conv2d } from '../../../src/nn/conv2d';
import { Pad2d } from '../../../src/nn/pad';
import { samePads } from '../../../src/nn/shape';
import { Padding } from '../../../src/nn/convGeometry';
import { Converter, ConvertContext } from '../converter';
import { GraphValue } from '../values';

/** [out, in, kh, kw] (ONNX) -> [kh, kw, in, out] (tfjs). */
export function filterFromOIHW(data: Float64Array, [o, i, kh, kw]: readonly number[]): tf.Tensor {
  const out = new Float32Array(data.length);
  for (let a = 0; a < o!; a++)
    for (let b = 0; b < i!; b++)
      for (let y = 0; y < kh!; y++) for (let x = 0; x < kw!; x++) out[((y * kw! + x) * i! + b) * o! + a] = data[((a * i! + b) * kh! + y) * kw! + x]!;
  return tf.tensor4d(out, [kh!, kw!, i!, o!]);
}

/** The window geometry of a Conv or pool node: kernel, stride and how its pads map onto tfjs (a Pad2d first where needed). */
export function windowGeometry(
  ctx: ConvertContext,
  input: GraphValue,
  kernelShape: readonly number[],
): { kernel: number; stride: number; padding: Padding; pads: [number, number, number, number] | null } {
  const [kh, kw] = kernelShape;
  if (kernelShape.length !== 2 || kh !== kw) ctx.fail(`kernel_shape [${kernelShape.join(', ')}]: only square 2-D windows are supported`);
  const strides = ctx.attrInts('strides', [1, 1]);
  if (strides[0] !== strides[1]) ctx.fail(`strides [${strides.join(', ')}]: only equal strides are supported`);
  const dilations = ctx.attrInts('dilations', [1, 1]);
  if (dilations.some((d) => d !== 1)) ctx.fail(`dilations [${dilations.join(', ')}]: only dilation 1 is supported`);
  const autoPad = ctx.attrString('auto_pad', 'NOTSET');
  const stride = strides[0]!;
  if (autoPad === 'VALID') return { kernel: kh!, stride, padding: 'valid', pads: null };
  const [h, w] = input.shape as [number, number, number];
  const same = samePads(h, w, kh!, stride);
  if (autoPad === 'SAME_UPPER') return { kernel: kh!, stride, padding: 'same', pads: null };
  if (autoPad !== 'NOTSET') ctx.fail(`auto_pad ${autoPad} is not supported (NOTSET, VALID, SAME_UPPER)`);
  const [t, l, b, r] = ctx.attrInts('pads', [0, 0, 0, 0]) as [number, number, number, number];
  if (t === 0 && l === 0 && b === 0 && r === 0) return { kernel: kh!, stride, padding: 'valid', pads: null };
  if ([t, l, b, r].join() === same.join()) return { kernel: kh!, stride, padding: 'same', pads: null };
  return { kernel: kh!, stride, padding: 'valid', pads: [t, l, b, r] };
}

export const convertConv: Converter = (ctx) => {
  const x = ctx.graphInput(0);
  if (x.shape.length !== 3) ctx.fail(`input of shape [${x.shape.join(', ')}] per example: only 2-D images (NCHW) are supported`);
  const w = ctx.constInput(1);
  const [o, i, kh, kw] = w.dims as [number, number, number, number];
  const groups = ctx.attrInt('group', 1);
  if (i * groups !== x.shape[2]) ctx.fail(`the filter takes ${i} channels per group (${groups} group(s)), the input has ${x.shape[2]}`);
  if (o % groups !== 0) ctx.fail(`${o} output channels do not split into ${groups} groups`);
  const g = windowGeometry(ctx, x, [kh, kw]);
  const padded = g.pads ? ctx.addLayer(new Pad2d(`${ctx.name}.pad`, g.pads), x) : x;
  const bias = ctx.has(2) ? ctx.constInput(2) : null;
  const layer = new Conv2d(ctx.name, i * groups, o, {
    groups,
    kernelSize: g.kernel,
    stride: g.stride,
    padding: g.padding,
    bias: bias !== null,
    rng: ctx.factory.rng,
    source: ctx.source({
      weight: () => filterFromOIHW(w.data, w.dims),
      ...(bias && { bias: () => tf.tensor1d(Float32Array.from(bias.data)) }),
    }),
  });
  return ctx.addLayer(layer, padded);
};
