/**
 * One converter per tfjs layer class (the Keras layer names), in one table. TensorFlow.js computes
 * NHWC like latephase, so kernels ([kh, kw, in, out], [in, out]) and shapes carry over unchanged; a
 * layer's `activation` becomes an activation layer after it (a final softmax is taken off: the
 * model ends in logits).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Layer } from '../../src/nn/layer';
import { Merge, Add, Concatenate, Multiply } from '../../src/nn/merge';
import { Conv2d } from '../../src/nn/conv2d';
import { Dense } from '../../src/nn/dense';
import { Clip, ReLU, Sigmoid, Tanh } from '../../src/nn/activation';
import { AvgPool, GlobalAvgPool, MaxPool } from '../../src/nn/pooling';
import { Flatten, ImageReshape } from '../../src/nn/reshape';
import { Pad2d } from '../../src/nn/pad';
import { Standardize } from '../../src/nn/standardize';
import { LayerFactory } from '../../src/latephase/layerFactory';
import { WeightRequest, WeightSource } from '../../src/nn/weight';
import { GraphValue } from '../onnx/values';

export interface TfjsContext {
  readonly name: string;
  readonly className: string;
  readonly config: Readonly<Record<string, unknown>>;
  readonly inputs: readonly GraphValue[];
  /** Whether the layer is the model's output (a Dense there is the head; a softmax there is taken off). */
  readonly isOutput: boolean;
  readonly factory: LayerFactory;
  /** The layer's weight `<name>/<suffix>` (a DataError names it when the file lacks it). */
  weight(suffix: string): { readonly shape: readonly number[]; readonly values: Float32Array };
  hasWeight(suffix: string): boolean;
  addLayer(layer: Layer, input: GraphValue): GraphValue;
  addMerge(merge: Merge, inputs: readonly GraphValue[]): GraphValue;
  fail(why: string): never;
}

export type TfjsConverter = (ctx: TfjsContext) => GraphValue;

const num = (ctx: TfjsContext, key: string, fallback?: number): number => {
  const v = ctx.config[key];
  if (v === undefined || v === null) return fallback ?? ctx.fail(`config '${key}' is missing`);
  if (typeof v !== 'number') return ctx.fail(`config '${key}' is not a number`);
  return v;
};

/** A square window's size and stride from `[n, n]` pairs (or one number). */
function square(ctx: TfjsContext, key: string, fallback?: number): number {
  const v = ctx.config[key] ?? fallback;
  const pair = Array.isArray(v) ? (v as number[]) : [v as number, v as number];
  if (pair[0] !== pair[1] || typeof pair[0] !== 'number')
    return ctx.fail(`${key} ${JSON.stringify(v)}: only square windows and equal strides are supported`);
  return pair[0];
}

function padding(ctx: TfjsContext): 'same' | 'valid' {
  const p = ctx.config['padding'] ?? 'valid';
  if (p !== 'same' && p !== 'valid') return ctx.fail(`padding '${String(p)}' is not supported (same, valid)`);
  return p;
}

function channelsLast(ctx: TfjsContext): void {
  const f = ctx.config['data_format'];
  if (f !== undefined && f !== 'channels_last') ctx.fail(`data_format '${String(f)}' is not supported (channels_last)`);
}

/** The layer's `activation` as a layer after `x` (none for linear; a final softmax is taken off). */
export function activation(ctx: TfjsContext, x: GraphValue, name = ctx.config['activation'] ?? 'linear'): GraphValue {
  switch (name) {
    case 'linear':
      return x;
    case 'relu':
      return ctx.addLayer(new ReLU(`${ctx.name}.relu`), x);
    case 'relu6':
      return ctx.addLayer(new Clip(`${ctx.name}.relu6`, 0, 6), x);
    case 'sigmoid':
      return ctx.addLayer(new Sigmoid(`${ctx.name}.sigmoid`), x);
    case 'tanh':
      return ctx.addLayer(new Tanh(`${ctx.name}.tanh`), x);
    case 'softmax':
      return ctx.isOutput
        ? x
        : ctx.fail('a softmax inside the model is not supported (only the final one, which the model leaves to its loss and exporter)');
    default:
      return ctx.fail(`activation '${String(name)}' is not supported (linear, relu, relu6, sigmoid, tanh, a final softmax)`);
  }
}

/** DepthwiseConv2D (depth multiplier 1) -> a Conv2d with one group per channel. */
const depthwiseConv2d: TfjsConverter = (ctx) => {
  const bias = ctx.config['use_bias'] !== false;
  return activation(ctx, depthwise(ctx, ctx.name, bias));
};

/** SeparableConv2D -> its depthwise convolution, then a 1x1 convolution over channels (with the bias), then the activation. */
const separableConv2d: TfjsConverter = (ctx) => {
  const x = depthwise(ctx, `${ctx.name}.depthwise`, false);
  const bias = ctx.config['use_bias'] !== false;
  const layer = new Conv2d(`${ctx.name}.pointwise`, x.shape[2]!, num(ctx, 'filters'), {
    kernelSize: 1,
    bias,
    rng: ctx.factory.rng,
    source: source(ctx, { weight: 'pointwise_kernel', ...(bias && { bias: 'bias' }) }),
  });
  return activation(ctx, ctx.addLayer(layer, x));
};

/** The depthwise convolution `name` (weights `depthwise_kernel`, and `bias` when `bias`): [kh, kw, C, 1] holds the values of [kh, kw, 1, C]. */
function depthwise(ctx: TfjsContext, name: string, bias: boolean): GraphValue {
  channelsLast(ctx);
  const x = image(ctx);
  if (num(ctx, 'depth_multiplier', 1) !== 1) ctx.fail('depth_multiplier other than 1 is not supported');
  if (square(ctx, 'dilation_rate', 1) !== 1) ctx.fail('dilation is not supported');
  const channels = x.shape[2]!;
  const kernel = square(ctx, 'kernel_size');
  const layer = new Conv2d(name, channels, channels, {
    groups: channels,
    kernelSize: kernel,
    stride: square(ctx, 'strides', 1),
    padding: padding(ctx),
    bias,
    rng: ctx.factory.rng,
    source: source(ctx, { weight: 'depthwise_kernel', ...(bias && { bias: 'bias' }) }, { depthwise_kernel: [kernel, kernel, 1, channels] }),
  });
  return ctx.addLayer(layer, x);
}

/** Weight requests answered with the file's values (the late-phase kinds chosen claim what they want, starting from them). */
function source(ctx: TfjsContext, values: Readonly<Record<string, string>>, viewAs: Readonly<Record<string, readonly number[]>> = {}): WeightSource {
  return (request: WeightRequest) => {
    const suffix = values[request.tensor] ?? ctx.fail(`no weight for the ${request.tensor} of layer '${request.layer}'`);
    const w = ctx.weight(suffix);
    const shape = viewAs[suffix] && w.values.length === viewAs[suffix].reduce((a, b) => a * b, 1) ? viewAs[suffix] : w.shape;
    if (shape.join() !== request.shape.join())
      ctx.fail(`weight '${ctx.name}/${suffix}' has shape [${w.shape.join(', ')}], the layer needs [${request.shape.join(', ')}]`);
    return ctx.factory.source({ ...request, init: () => tf.tensor(w.values, [...shape]) });
  };
}

const one = (ctx: TfjsContext): GraphValue => (ctx.inputs.length === 1 ? ctx.inputs[0]! : ctx.fail(`takes one input, got ${ctx.inputs.length}`));
const image = (ctx: TfjsContext): GraphValue => {
  const x = one(ctx);
  return x.shape.length === 3 ? x : ctx.fail(`input of shape [${x.shape.join(', ')}] per example: an image [H, W, C] is expected`);
};

const conv2d: TfjsConverter = (ctx) => {
  channelsLast(ctx);
  const x = image(ctx);
  if (square(ctx, 'dilation_rate', 1) !== 1) ctx.fail('dilation is not supported');
  const bias = ctx.config['use_bias'] !== false;
  const layer = new Conv2d(ctx.name, x.shape[2]!, num(ctx, 'filters'), {
    kernelSize: square(ctx, 'kernel_size'),
    stride: square(ctx, 'strides', 1),
    padding: padding(ctx),
    bias,
    rng: ctx.factory.rng,
    source: source(ctx, { weight: 'kernel', ...(bias && { bias: 'bias' }) }),
  });
  return activation(ctx, ctx.addLayer(layer, x));
};

const dense: TfjsConverter = (ctx) => {
  const x = one(ctx);
  const bias = ctx.config['use_bias'] !== false;
  const layer = new Dense(ctx.name, x.shape[x.shape.length - 1]!, num(ctx, 'units'), {
    bias,
    rng: ctx.factory.rng,
    source: source(ctx, { weight: 'kernel', ...(bias && { bias: 'bias' }) }),
    ...(ctx.isOutput && { role: 'head' as const }),
  });
  return activation(ctx, ctx.addLayer(layer, x));
};

const batchNormalization: TfjsConverter = (ctx) => {
  const x = one(ctx);
  const axis = ctx.config['axis'] ?? -1;
  const last = Array.isArray(axis) ? axis[0] : axis;
  if (last !== -1 && last !== x.shape.length) ctx.fail(`axis ${JSON.stringify(axis)}: only the channels (last) axis is supported`);
  const channels = x.shape[x.shape.length - 1]!;
  // Keras's momentum weighs the old running value; latephase's, like PyTorch's, the batch
  const layer = ctx.factory.batchNorm(ctx.name, channels, { epsilon: num(ctx, 'epsilon', 1e-3), momentum: 1 - num(ctx, 'momentum', 0.99) });
  const fill = (v: number): Float32Array => new Float32Array(channels).fill(v);
  const value = (suffix: string, absent: number): Float32Array => (ctx.hasWeight(suffix) ? ctx.weight(suffix).values : fill(absent));
  const tensors = [value('gamma', 1), value('beta', 0), ctx.weight('moving_mean').values, ctx.weight('moving_variance').values];
  const targets = [...layer.params().map((p) => p.variable), ...layer.state().map((s) => s.variable)];
  tensors.forEach((t, i) => {
    if (t.length !== channels) ctx.fail(`weight ${i} holds ${t.length} values for ${channels} channels`);
    targets[i]!.assign(tf.tensor1d(t));
  });
  return ctx.addLayer(layer, x);
};

const reluLayer: TfjsConverter = (ctx) => {
  const x = one(ctx);
  if ((ctx.config['negative_slope'] ?? 0) !== 0 || (ctx.config['threshold'] ?? 0) !== 0) ctx.fail('negative_slope and threshold are not supported');
  const max = ctx.config['max_value'];
  return ctx.addLayer(typeof max === 'number' ? new Clip(ctx.name, 0, max) : new ReLU(ctx.name), x);
};

const pool =
  (Kind: typeof MaxPool | typeof AvgPool): TfjsConverter =>
  (ctx) => {
    channelsLast(ctx);
    const size = square(ctx, 'pool_size', 2);
    return ctx.addLayer(new Kind(ctx.name, size, square(ctx, 'strides', size), padding(ctx)), image(ctx));
  };

const reshape: TfjsConverter = (ctx) => {
  const x = one(ctx);
  const target = (ctx.config['target_shape'] ?? []) as number[];
  if (x.shape.length === 1 && target.length === 3) return ctx.addLayer(new ImageReshape(ctx.name, target[0]!, target[1]!, target[2]!), x);
  if (target.length === 1) return ctx.addLayer(new Flatten(ctx.name), x);
  return ctx.fail(`a reshape of [${x.shape.join(', ')}] to [${target.join(', ')}] is not supported (flat <-> image only)`);
};

const zeroPadding: TfjsConverter = (ctx) => {
  channelsLast(ctx);
  const p = ctx.config['padding'] ?? 1;
  const pairs =
    typeof p === 'number'
      ? [
          [p, p],
          [p, p],
        ]
      : Array.isArray(p) && typeof p[0] === 'number'
        ? [
            [p[0], p[0]],
            [p[1], p[1]],
          ]
        : (p as number[][]);
  const [[t, b], [l, r]] = pairs as [[number, number], [number, number]];
  return ctx.addLayer(new Pad2d(ctx.name, [t, l, b, r]), image(ctx));
};

/** y = x * scale + offset as Standardize: (x - mean) / std with std = 1 / scale, mean = -offset / scale. */
const rescaling: TfjsConverter = (ctx) => {
  const scale = num(ctx, 'scale');
  const offset = num(ctx, 'offset', 0);
  if (!(scale > 0)) ctx.fail(`scale ${scale}: only positive scales are supported`);
  return ctx.addLayer(new Standardize(ctx.name, -offset / scale, 1 / scale), one(ctx));
};

const concatenate: TfjsConverter = (ctx) => {
  const axis = num(ctx, 'axis', -1);
  return ctx.addMerge(new Concatenate(ctx.name, axis < 0 ? axis : axis - 1), ctx.inputs);
};

export const TFJS_CONVERTERS: Readonly<Record<string, TfjsConverter>> = {
  InputLayer: one,
  Conv2D: conv2d,
  DepthwiseConv2D: depthwiseConv2d,
  SeparableConv2D: separableConv2d,
  Dense: dense,
  BatchNormalization: batchNormalization,
  Activation: (ctx) => activation(ctx, one(ctx)),
  ReLU: reluLayer,
  MaxPooling2D: pool(MaxPool),
  AveragePooling2D: pool(AvgPool),
  GlobalAveragePooling2D: (ctx) => {
    channelsLast(ctx);
    if (ctx.config['keepdims'] === true) ctx.fail('keepdims is not supported');
    return ctx.addLayer(new GlobalAvgPool(ctx.name), image(ctx));
  },
  Flatten: (ctx) => {
    const x = one(ctx);
    return x.shape.length === 1 ? x : ctx.addLayer(new Flatten(ctx.name), x);
  },
  Reshape: reshape,
  Dropout: one,
  Add: (ctx) => ctx.addMerge(new Add(ctx.name), ctx.inputs),
  Multiply: (ctx) => ctx.addMerge(new Multiply(ctx.name), ctx.inputs),
  Concatenate: concatenate,
  ZeroPadding2D: zeroPadding,
  Rescaling: rescaling,
};
