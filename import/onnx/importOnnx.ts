/**
 * ONNX -> a trainable latephase Model. The file is read by the safe reader `verify` uses (size
 * limits, external data checked); the default-domain opset must be 11-21; every operator must be
 * in the converter table (registry.ts) or be foldable at import, checked for the whole graph
 * before any layer is made, so a model the importer cannot take fails at once with every such node
 * named. Images come in NCHW and are [H, W, C] inside (as every latephase layer computes); the
 * exporter turns them back, so the input keeps its NCHW layout. Which weights become late-phase is
 * the LayerFactory's choice, as for the zoo.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { onnx } from 'onnx-proto';
import { readOnnxModel, toInt } from '../../src/onnx/readOnnx';
import { ConfigError } from '../../src/errors';
import { Model } from '../../src/nn/model';
import { Graph, GRAPH_INPUT, GraphNode } from '../../src/nn/graph';
import { Layer } from '../../src/nn/layer';
import { Merge } from '../../src/nn/merge';
import { Rng } from '../../src/nn/rng';
import { WeightRequest } from '../../src/nn/weight';
import { LayerFactory, NO_LATE_PHASE } from '../../src/latephase/layerFactory';
import { LatePhaseChoice, latePhaseKinds, parseLatePhaseChoice } from '../../src/latephase/kindRegistry';
import { ConvertContext } from './converter';
import { CONVERTERS, MAX_OPSET, MIN_OPSET, supportedOperators } from './registry';
import { CONSTANT_FOLDS, shapeOf } from './converters/constants';
import { constantOf } from './tensors';
import { appendNode, ConstValue, GraphValue, ImportValue } from './values';

export interface ImportOptions {
  /** Which weights become late-phase (as `latePhase.kinds` in a job config); default none. */
  readonly latePhase?: LatePhaseChoice;
  /** Seeds what the late-phase kinds initialise beyond the file's weights (rank-1 factors, ...). */
  readonly seed?: number;
  /** The safe reader's limit on the file's size. */
  readonly maxBytes?: number;
}

export interface ImportedNode {
  readonly name: string;
  readonly op: string;
  /** What it became: the kinds of the layers or merges it added, 'constant' (folded) or 'passed on'. */
  readonly became: readonly string[];
  /** Whether it computes the model's output (a Gemm there is the classifier head). */
  readonly output: boolean;
}

export interface ImportReport {
  readonly file: string;
  readonly opset: number;
  readonly producer: string;
  readonly input: { readonly name: string; readonly dims: readonly (number | string)[] };
  readonly output: { readonly name: string };
  readonly nodes: readonly ImportedNode[];
  readonly parameters: number;
  /** Whether the original ended in a softmax the import took off (its outputs are probabilities). */
  readonly finalSoftmax: boolean;
}

export interface ImportedModel {
  readonly model: Model;
  readonly report: ImportReport;
}

const ATTR = onnx.AttributeProto.AttributeType;

/** Read `file` and build the model it describes; ConfigError naming the node for anything unsupported. */
export function importOnnx(file: string, opts: ImportOptions = {}): ImportedModel {
  const read = readOnnxModel(file, opts.maxBytes === undefined ? {} : { maxBytes: opts.maxBytes });
  return new Importer(read.model, path.resolve(file), opts).run();
}

/** The model recipe entry point (data-parallel workers rebuild the model from the file). */
export function buildImportedModel(file: string, opts: ImportOptions = {}): Model {
  return importOnnx(file, opts).model;
}

class Importer {
  private readonly values = new Map<string, ImportValue>();
  private readonly nodes: GraphNode[] = [];
  private readonly names = new Set<string>([GRAPH_INPUT]);
  private readonly factory: LayerFactory;
  private readonly choice: LatePhaseChoice;
  private readonly opset: number;
  private readonly where: string;

  constructor(
    private readonly proto: onnx.ModelProto,
    private readonly file: string,
    opts: ImportOptions,
  ) {
    this.where = `ONNX model '${file}'`;
    this.choice = opts.latePhase ?? NO_LATE_PHASE;
    this.factory = new LayerFactory(this.choice, new Rng(opts.seed ?? 0));
    const opset = (proto.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
    this.opset = opset ? toInt(opset.version, `${this.where}: opset`) : 0;
    if (this.opset < MIN_OPSET || this.opset > MAX_OPSET)
      throw new ConfigError(
        `${this.where}: opset ${this.opset} is not supported at import (opsets ${MIN_OPSET} to ${MAX_OPSET}); re-export it with opset 17`,
      );
  }

  run(): ImportedModel {
    const graph = this.proto.graph!;
    this.checkOperators(graph);
    const initializers = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
    (graph.initializer ?? []).forEach((t, i) => this.values.set(t.name ?? '', constantOf(t, `${this.where}: initializer '${t.name ?? `#${i}`}'`)));
    const inputs = (graph.input ?? []).filter((v) => !initializers.has(v.name ?? ''));
    if (inputs.length !== 1) throw new ConfigError(`${this.where}: ${inputs.length} graph inputs; the importer takes models with exactly one`);
    const input = inputs[0]!;
    const { dims, shape } = this.inputShape(input);
    this.values.set(input.name ?? '', { kind: 'graph', node: GRAPH_INPUT, shape });
    const outputName = this.logitsOutput(graph);
    const probabilities = (graph.output ?? []).map((o) => o.name ?? '').find((n) => n !== outputName);
    const report: ImportedNode[] = [];
    const computing = this.computingOutput(graph, outputName);
    for (const [i, node] of (graph.node ?? []).entries()) report.push(this.convert(node, i, computing));
    this.checkBatchNormChoice(report);
    const out = this.values.get(outputName);
    if (!out || out.kind !== 'graph') throw new ConfigError(`${this.where}: the output '${outputName}' is ${out ? 'a constant' : 'never computed'}`);
    const net = new Graph(this.proto.graph?.name || path.basename(this.file, '.onnx'), this.nodes, out.node);
    const onnxNames = { input: input.name ?? '', logits: outputName, ...(probabilities !== undefined && { probabilities }) };
    const model = new Model(path.basename(this.file, '.onnx'), net, [...shape], { onnxNames });
    this.factory.checkAllUsed([...net.children()]);
    const parameters = model.params().reduce((n, p) => n + p.variable.size, 0);
    return {
      model,
      report: {
        file: this.file,
        opset: this.opset,
        producer: `${this.proto.producerName ?? ''} ${this.proto.producerVersion ?? ''}`.trim() || 'unknown',
        input: { name: input.name ?? '', dims },
        output: { name: outputName },
        nodes: report,
        parameters,
        finalSoftmax: report.some((n) => n.op === 'Softmax'),
      },
    };
  }

  /**
   * The output the model computes: latephase models end in logits (the loss and the exporter apply
   * the softmax), so a final Softmax, alone or beside the logits it reads, is taken off.
   */
  private logitsOutput(graph: onnx.IGraphProto): string {
    const names = (graph.output ?? []).map((o) => o.name ?? '');
    const producer = (name: string): onnx.INodeProto | undefined => (graph.node ?? []).find((n) => n.output?.[0] === name);
    const softmaxInput = (name: string): string | undefined => {
      const p = producer(name);
      return p?.opType === 'Softmax' ? (p.input?.[0] ?? undefined) : undefined;
    };
    const kept = names.filter((n) => !(softmaxInput(n) !== undefined && names.includes(softmaxInput(n)!)));
    if (kept.length !== 1)
      throw new ConfigError(
        `${this.where}: ${names.length} graph outputs (${names.join(', ')}); the importer takes one output (or logits and their softmax)`,
      );
    return softmaxInput(kept[0]!) ?? kept[0]!;
  }

  /** The value that computes `output`, behind the Identity and Dropout nodes that pass it on (latephase's exports end in an Identity). */
  private computingOutput(graph: onnx.IGraphProto, output: string): string {
    let name = output;
    for (;;) {
      const p = (graph.node ?? []).find((n) => n.output?.[0] === name);
      if (!p || (p.opType !== 'Identity' && p.opType !== 'Dropout') || !p.input?.[0]) return name;
      name = p.input[0];
    }
  }

  /** Late-phase BatchNorm needs BatchNorm layers; an eval-mode export folded them away (named, with the kinds that still apply). */
  private checkBatchNormChoice(nodes: readonly ImportedNode[]): void {
    const chosen = parseLatePhaseChoice(this.choice).map(({ kind }) => kind.key);
    if (!chosen.includes('batchNorm') || nodes.some((n) => n.op === 'BatchNormalization')) return;
    const others = latePhaseKinds()
      .map((k) => k.key)
      .filter((k) => k !== 'batchNorm');
    throw new ConfigError(
      `${this.where}: late-phase batchNorm is chosen, but the model has no BatchNormalization nodes (an eval-mode export folds them into the convolutions; re-export keeping them, e.g. PyTorch's training=TrainingMode.PRESERVE without constant folding, or latephase's export.foldBatchNorm: false); kinds that still apply: ${others.join(', ')}`,
    );
  }

  /** Every node's operator is known before anything is built: all the unsupported ones named at once. */
  private checkOperators(graph: onnx.IGraphProto): void {
    const supported = supportedOperators();
    const bad = (graph.node ?? []).filter((n) => (n.domain && n.domain !== 'ai.onnx') || !supported.includes(n.opType ?? ''));
    if (!bad.length) return;
    const list = bad
      .slice(0, 8)
      .map((n) => `'${n.name || n.output?.[0] || '?'}' (${n.domain ? `${n.domain}.` : ''}${n.opType}, opset ${this.opset})`);
    throw new ConfigError(
      `${this.where}: ${bad.length} node(s) use operators the importer does not support: ${list.join(', ')}${bad.length > 8 ? ', ...' : ''}; supported: ${supported.join(', ')}`,
    );
  }

  /** The input's ONNX dims and its per-example tfjs shape: [N, C, H, W] images or [N, F] vectors, the batch free, the rest fixed. */
  private inputShape(v: onnx.IValueInfoProto): { dims: (number | string)[]; shape: number[] } {
    const what = `${this.where}: input '${v.name}'`;
    const t = v.type?.tensorType;
    if (!t?.shape?.dim) throw new ConfigError(`${what} has no tensor shape`);
    if (t.elemType !== onnx.TensorProto.DataType.FLOAT) throw new ConfigError(`${what} is not float32`);
    const dims = t.shape.dim.map((d) => (d.dimParam ? d.dimParam : toInt(d.dimValue ?? 0, `${what}: dimension`)));
    const rest = dims.slice(1);
    if (rest.some((d) => typeof d !== 'number' || d <= 0))
      throw new ConfigError(`${what}: dims [${dims.join(', ')}]: only the batch dimension may be dynamic (re-export with fixed sizes)`);
    const fixed = rest as number[];
    if (fixed.length === 3) return { dims, shape: [fixed[1]!, fixed[2]!, fixed[0]!] };
    if (fixed.length === 1) return { dims, shape: fixed };
    throw new ConfigError(`${what}: dims [${dims.join(', ')}]: the importer takes [N, C, H, W] images or [N, features] vectors`);
  }

  /** `outputName`: the value computing the model's output (its node is the head, where it is a Gemm). */
  private convert(node: onnx.INodeProto, index: number, outputName: string): ImportedNode {
    const op = node.opType ?? '';
    const name = this.uniqueName(node.name || node.output?.[0] || `${op}_${index}`);
    const before = this.nodes.length;
    const ctx = this.context(node, name, outputName);
    const ins = (node.input ?? []).filter((i) => i !== '');
    let value: ImportValue;
    let became: string[];
    if (op === 'Shape') {
      value = shapeOf(ctx.input(0));
      became = ['constant'];
    } else if (op === 'Softmax') {
      const final = (this.proto.graph?.output ?? []).some((o) => o.name === node.output?.[0]);
      if (!final) ctx.fail('a Softmax inside the graph is not supported (only the final one, which the model leaves to its loss and exporter)');
      value = ctx.input(0);
      became = ['taken off (the exporter adds the probabilities output again)'];
    } else if (CONSTANT_FOLDS[op] && ins.every((i) => this.values.get(i)?.kind === 'const')) {
      value = CONSTANT_FOLDS[op]!(ctx);
      became = ['constant'];
    } else {
      const converter = CONVERTERS[op] ?? ctx.fail(`operator ${op} on computed values is not supported (only folded when its inputs are constants)`);
      value = converter(ctx);
      became = this.nodes.slice(before).map((n) => n.op.kind);
      if (!became.length) became = ['passed on'];
    }
    this.values.set(node.output?.[0] ?? '', value);
    return { name, op, became, output: ctx.isOutput };
  }

  private uniqueName(base: string): string {
    const clean = base.replace(/[^\w.\-/]/g, '_') || 'node';
    let name = clean;
    for (let i = 1; this.names.has(name); i++) name = `${clean}_${i}`;
    this.names.add(name);
    return name;
  }

  private context(node: onnx.INodeProto, name: string, outputName: string): ConvertContext {
    const fail = (why: string): never => {
      throw new ConfigError(`${this.where}: node '${name}' (${node.opType}, opset ${this.opset}): ${why}`);
    };
    const attr = (key: string): onnx.IAttributeProto | undefined => (node.attribute ?? []).find((a) => a.name === key);
    const input = (i: number): ImportValue => {
      const id = node.input?.[i];
      if (!id) return fail(`input ${i} is missing`);
      const v = this.values.get(id);
      if (!v) return fail(`input '${id}' is not computed by any earlier node`);
      return v;
    };
    const missing = (key: string): never => fail(`attribute '${key}' is missing`);
    return {
      node,
      name,
      opset: this.opset,
      isOutput: node.output?.[0] === outputName,
      factory: this.factory,
      has: (i) => Boolean(node.input?.[i]),
      input,
      graphInput: (i, nhwc = false) => {
        const v = input(i);
        if (v.kind !== 'graph') return fail(`input ${i} ('${node.input?.[i]}') is a constant where a computed value is expected`);
        if (v.layout === 'nhwc' && !nhwc)
          return fail(`input ${i} ('${node.input?.[i]}') is an image in NHWC order; only a Transpose to NCHW or a Flatten may read it`);
        return v;
      },
      constInput: (i): ConstValue => {
        const v = input(i);
        return v.kind === 'const'
          ? v
          : fail(`input ${i} ('${node.input?.[i]}') is computed from the model's input; only constants are supported there`);
      },
      attrInt: (key, fallback) => {
        const a = attr(key);
        if (!a) return fallback ?? missing(key);
        if (a.type !== ATTR.INT) return fail(`attribute '${key}' is not an integer`);
        return toInt(a.i ?? 0, `attribute '${key}'`);
      },
      attrInts: (key, fallback) => {
        const a = attr(key);
        if (!a) return fallback ? [...fallback] : missing(key);
        return (a.ints ?? []).map((v) => toInt(v, `attribute '${key}'`));
      },
      attrFloat: (key, fallback) => {
        const a = attr(key);
        if (!a) return fallback ?? missing(key);
        return a.f ?? 0;
      },
      attrString: (key, fallback) => {
        const a = attr(key);
        if (!a) return fallback ?? missing(key);
        return new TextDecoder().decode(a.s ?? new Uint8Array());
      },
      source: (values) => (request: WeightRequest) => {
        const init = values[request.tensor];
        if (!init) return fail(`no imported values for the ${request.tensor} of layer '${request.layer}'`);
        return this.factory.source({ ...request, init: () => checkedInit(init, request, fail) });
      },
      addLayer: (layer: Layer, from: GraphValue) => appendNode(this.nodes, layer, [from], fail),
      addMerge: (merge: Merge, from: readonly GraphValue[]) => appendNode(this.nodes, merge, from, fail),
      fail,
    };
  }
}

/** The imported tensor for `request`, whose shape must be the one the layer asks for. */
function checkedInit(init: () => tf.Tensor, request: WeightRequest, fail: (why: string) => never): tf.Tensor {
  const t = init();
  if (t.shape.join() !== request.shape.join()) {
    t.dispose();
    return fail(
      `the ${request.tensor} of layer '${request.layer}' has shape [${t.shape.join(', ')}] in the file, the layer needs [${request.shape.join(', ')}]`,
    );
  }
  return t;
}
