/**
 * 2-D convolutions and their two gradients on onnxruntime's native CPU kernels (MLAS: AVX2/AVX-512
 * where the CPU has them), for the wasm backend, whose XNNPACK kernels are limited to 128-bit SIMD
 * on one thread (bench/README.md#onnxruntime-convolutions).
 *
 * tfjs kernels are synchronous, so this uses onnxruntime-node's synchronous session binding (the
 * object its public, promise-based InferenceSession wraps). That binding is not documented API:
 * package.json pins onnxruntime-node exactly, the kernel tests run every operation through it,
 * and where it cannot load the engine falls back to XNNPACK and says so. Each operation is a tiny ONNX graph
 * with symbolic sizes, built once per attribute set and cached; tensors stay NHWC at the boundary
 * (the graphs transpose inside, where onnxruntime fuses or runs the transposes natively):
 * - forward: Conv;
 * - input gradient: ConvTranspose of dy with the same filter, strides and pads, or for stride 1 a
 *   Conv with the flipped filter where that measured faster;
 * - filter gradient: one GEMM per filter tap (see filterGradientGraph).
 */
import { onnx } from 'onnx-proto';
import { attribute, encodeModel, floatValueInfo, int64Tensor } from '../onnx/proto';
import type { Binding } from 'onnxruntime-node/dist/binding';

/** Geometry of one convolution, NHWC / HWIO as tfjs has it. */
export interface ConvGeometry2D {
  readonly strides: readonly [number, number];
  readonly dilations: readonly [number, number];
  /** top, left, bottom, right */
  readonly pads: readonly [number, number, number, number];
}

interface OrtTensorLike {
  readonly data: unknown;
  readonly dims: readonly number[];
}
type TensorConstructor = new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensorLike;

interface Runtime {
  readonly Session: Binding.InferenceSessionConstructor;
  readonly Tensor: TensorConstructor;
}

/** Loads onnxruntime-node's native binding; the error says why it cannot (then XNNPACK does the work). */
function loadRuntime(): Runtime {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { binding, initOrt } = require('onnxruntime-node/dist/binding') as typeof import('onnxruntime-node/dist/binding');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Tensor } = require('onnxruntime-node') as { Tensor: TensorConstructor };
  initOrt();
  if (typeof binding.InferenceSession !== 'function') throw new Error('onnxruntime-node has no synchronous session binding');
  return { Session: binding.InferenceSession, Tensor };
}

const ints = (name: string, values: readonly number[]): onnx.IAttributeProto => attribute(name, { ints: values });
const int = (name: string, i: number): onnx.IAttributeProto => attribute(name, { i });

function transpose(input: string, output: string, perm: readonly number[]): onnx.INodeProto {
  return { opType: 'Transpose', input: [input], output: [output], attribute: [ints('perm', perm)] };
}

/** A float graph input or output (rank 4 unless said) with symbolic sizes. */
function value(name: string, rank = 4): onnx.IValueInfoProto {
  return floatValueInfo(
    name,
    Array.from({ length: rank }, (_, i) => `${name}_${i}`),
  );
}

function model(nodes: onnx.INodeProto[], inputs: readonly string[], initializer: onnx.ITensorProto[] = [], outRank = 4): Uint8Array {
  return encodeModel({ name: 'latephase_conv', node: nodes, input: inputs.map((n) => value(n)), output: [value('out', outRank)], initializer });
}

const int64s = int64Tensor;

/** ONNX pads order: begin of each spatial axis, then end of each. */
const onnxPads = (p: ConvGeometry2D['pads']): number[] => [p[0], p[1], p[2], p[3]];

function forwardGraph(g: ConvGeometry2D): Uint8Array {
  return model(
    [
      transpose('x', 'xc', [0, 3, 1, 2]),
      transpose('w', 'wc', [3, 2, 0, 1]),
      {
        opType: 'Conv',
        input: ['xc', 'wc'],
        output: ['yc'],
        attribute: [ints('strides', g.strides), ints('dilations', g.dilations), ints('pads', onnxPads(g.pads))],
      },
      transpose('yc', 'out', [0, 2, 3, 1]),
    ],
    ['x', 'w'],
  );
}

function inputGradientGraph(g: ConvGeometry2D, outputPadding: readonly [number, number]): Uint8Array {
  return model(
    [
      transpose('dy', 'dyc', [0, 3, 1, 2]),
      transpose('w', 'wc', [3, 2, 0, 1]), // [out, in, kh, kw]: ConvTranspose reads dim 0 as its input channels
      {
        opType: 'ConvTranspose',
        input: ['dyc', 'wc'],
        output: ['dxc'],
        attribute: [
          ints('strides', g.strides),
          ints('dilations', g.dilations),
          ints('pads', onnxPads(g.pads)),
          ints('output_padding', outputPadding),
        ],
      },
      transpose('dxc', 'out', [0, 2, 3, 1]),
    ],
    ['dy', 'w'],
  );
}

/**
 * dW as one GEMM per filter tap, on NHWC data as it is: for tap (i, j), the strided window of the
 * padded x ([n * oh * ow, c]) transposed times dy ([n * oh * ow, o]). Faster than a
 * convolution with dy as the kernel (whose output is only kh x kw pixels, a poor GEMM shape).
 */
/**
 * Stride-1 dx as a forward Conv of dy with the spatially flipped filter (Slice with negative steps)
 * and pads k - 1 - pad; faster than ConvTranspose when the layer does not widen (in channels >=
 * out channels), slower when it does, so inputGradient picks by that (bench/README.md#onnxruntime-convolutions).
 */
function flippedConvGraph(g: ConvGeometry2D, filterHW: readonly [number, number]): Uint8Array {
  const big = 2 ** 62;
  const back = (axis: 0 | 1, pad: number): number => g.dilations[axis] * (filterHW[axis] - 1) - pad;
  const pads = [back(0, g.pads[0]), back(1, g.pads[1]), back(0, g.pads[2]), back(1, g.pads[3])];
  return model(
    [
      transpose('dy', 'dyc', [0, 3, 1, 2]),
      { opType: 'Slice', input: ['w', 'flipStarts', 'flipEnds', 'flipAxes', 'flipSteps'], output: ['wf'] },
      transpose('wf', 'wc', [2, 3, 0, 1]), // [in, out, kh, kw]: the layer's inputs are this Conv's outputs
      { opType: 'Conv', input: ['dyc', 'wc'], output: ['dxc'], attribute: [ints('dilations', g.dilations), ints('pads', pads)] },
      transpose('dxc', 'out', [0, 2, 3, 1]),
    ],
    ['dy', 'w'],
    [int64s('flipStarts', [-1, -1]), int64s('flipEnds', [-big, -big]), int64s('flipAxes', [0, 1]), int64s('flipSteps', [-1, -1])],
  );
}

function filterGradientGraph(
  g: ConvGeometry2D,
  filterHW: readonly [number, number],
  outHW: readonly [number, number],
  inHW: readonly [number, number],
): Uint8Array {
  const [kh, kw] = filterHW;
  const span = (axis: 0 | 1): number => g.dilations[axis] * (filterHW[axis] - 1) + g.strides[axis] * (outHW[axis] - 1) + 1;
  const [bottom, right] = [Math.max(0, span(0) - inHW[0] - g.pads[0]), Math.max(0, span(1) - inHW[1] - g.pads[1])];
  const big = 2 ** 62;
  const nodes: onnx.INodeProto[] = [
    { opType: 'Pad', input: ['x', 'pads'], output: ['xp'] },
    { opType: 'Flatten', input: ['dy'], output: ['dyf'], attribute: [int('axis', 3)] },
  ];
  const init: onnx.ITensorProto[] = [
    int64s('pads', [0, g.pads[0], g.pads[1], 0, 0, bottom, right, 0]),
    int64s('steps', [1, g.strides[0], g.strides[1], 1]),
    int64s('axis0', [0]),
  ];
  const taps: string[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const [r, c] = [i * g.dilations[0], j * g.dilations[1]];
      const t = `t${i}_${j}`;
      init.push(
        int64s(`${t}_starts`, [0, r, c, 0]),
        int64s(`${t}_ends`, [big, r + g.strides[0] * (outHW[0] - 1) + 1, c + g.strides[1] * (outHW[1] - 1) + 1, big]),
      );
      nodes.push(
        { opType: 'Slice', input: ['xp', `${t}_starts`, `${t}_ends`, '', 'steps'], output: [`${t}_win`] },
        { opType: 'Flatten', input: [`${t}_win`], output: [`${t}_rows`], attribute: [int('axis', 3)] },
        { opType: 'Gemm', input: [`${t}_rows`, 'dyf'], output: [`${t}_dw`], attribute: [int('transA', 1)] },
        { opType: 'Unsqueeze', input: [`${t}_dw`, 'axis0'], output: [`${t}_dw1`] },
      );
      taps.push(`${t}_dw1`);
    }
  }
  nodes.push({ opType: 'Concat', input: taps, output: ['out'], attribute: [int('axis', 0)] });
  return model(nodes, ['x', 'dy'], init, 3);
}

/** A view of a float tensor's values (for wasm: straight on the heap) with its NHWC/HWIO shape. */
export interface HostTensor {
  readonly values: Float32Array;
  readonly shape: readonly [number, number, number, number];
}

export class OrtConvolution {
  private readonly sessions = new Map<string, Binding.InferenceSession>();

  private constructor(
    private readonly runtime: Runtime,
    /** onnxruntime intra-op threads per session. */
    readonly threads: number,
  ) {}

  /** The engine, or the reason it cannot start. */
  static create(threads: number): OrtConvolution | Error {
    try {
      return new OrtConvolution(loadRuntime(), threads);
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  }

  /** y = conv(x, w), written into `out` ([n, oh, ow, o]). */
  conv2d(x: HostTensor, w: HostTensor, g: ConvGeometry2D, out: HostTensor): void {
    this.run(`fwd ${key(g)}`, () => forwardGraph(g), { x, w }, out);
  }

  /** dx, written into `out` (x's shape). */
  inputGradient(dy: HostTensor, w: HostTensor, g: ConvGeometry2D, out: HostTensor): void {
    const inputHW = [out.shape[1], out.shape[2]] as const;
    const span = (axis: 0 | 1): number =>
      g.strides[axis] * (dy.shape[axis + 1]! - 1) + g.dilations[axis] * (w.shape[axis]! - 1) + 1 - g.pads[axis]! - g.pads[axis + 2]!;
    const outputPadding: [number, number] = [inputHW[0] - span(0), inputHW[1] - span(1)];
    if (outputPadding.some((p, axis) => p < 0 || p >= Math.max(g.strides[axis]!, g.dilations[axis]!))) {
      throw new Error(`onnxruntime input gradient: no output padding fits input ${inputHW.join('x')} (got ${outputPadding.join(', ')})`);
    }
    const filterHW: [number, number] = [w.shape[0], w.shape[1]];
    const unstrided = g.strides[0] === 1 && g.strides[1] === 1;
    const padsFit = g.pads.every((p, i) => p <= g.dilations[i % 2]! * (filterHW[i % 2]! - 1));
    if (unstrided && padsFit && w.shape[2] >= w.shape[3])
      return this.run(`dx-flip ${key(g)} k${filterHW.join(',')}`, () => flippedConvGraph(g, filterHW), { dy, w }, out);
    this.run(`dx ${key(g)} op ${outputPadding.join(',')}`, () => inputGradientGraph(g, outputPadding), { dy, w }, out);
  }

  /** dW, written into `out` ([kh, kw, c, o]). */
  filterGradient(x: HostTensor, dy: HostTensor, g: ConvGeometry2D, out: HostTensor): void {
    const filterHW: [number, number] = [out.shape[0], out.shape[1]];
    const outHW: [number, number] = [dy.shape[1], dy.shape[2]];
    const inHW: [number, number] = [x.shape[1], x.shape[2]];
    this.run(
      `dw ${key(g)} k${filterHW.join(',')} o${outHW.join(',')} i${inHW.join(',')}`,
      () => filterGradientGraph(g, filterHW, outHW, inHW),
      { x, dy },
      out,
      [filterHW[0] * filterHW[1], out.shape[2], out.shape[3]],
    );
  }

  /**
   * Run graph `id` with onnxruntime writing its output straight into `out` (a view of the wasm
   * tensor that receives it): no fresh output buffer for onnxruntime to page in, and no copy into
   * the heap afterwards (bench/README.md#onnxruntime-convolutions). `outDims`: the graph's output shape, if not out's.
   */
  private run(id: string, graph: () => Uint8Array, feeds: Record<string, HostTensor>, out: HostTensor, outDims: readonly number[] = out.shape): void {
    let session = this.sessions.get(id);
    if (!session) {
      session = new this.runtime.Session();
      // No memory arena: each session's arena kept its peak (im2col buffers, tap windows) for good;
      // without it WRN-16-4 training peaked lower at the same speed (bench/README.md#onnxruntime-convolutions).
      const bytes = graph();
      session.loadModel(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength, {
        intraOpNumThreads: this.threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
        enableCpuMemArena: false,
      });
      this.sessions.set(id, session);
    }
    const ortFeeds: Record<string, OrtTensorLike> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new this.runtime.Tensor('float32', t.values, t.shape);
    const fetch = new this.runtime.Tensor('float32', out.values, outDims);
    // The binding still returns a JS copy of the output; onnxruntime itself wrote into `out`.
    if (!session.run(ortFeeds as never, { out: fetch } as never, {})['out']) throw new Error(`onnxruntime convolution '${id}' returned no output`);
  }

  dispose(): void {
    for (const s of this.sessions.values()) s.dispose();
    this.sessions.clear();
  }
}

function key(g: ConvGeometry2D): string {
  return `s${g.strides.join(',')} d${g.dilations.join(',')} p${g.pads.join(',')}`;
}
