/**
 * A TensorFlow.js layers model (Sequential or functional, as `tf.LayersModel.save` writes it) -> a
 * trainable latephase Model: a Graph of latephase layers with the file's weights; late-phase kinds
 * apply as for the zoo and ONNX imports. Every layer class must be in the converter table
 * (converters.ts): all the unsupported ones are named at once, before any layer is made.
 */
import * as path from 'path';
import { ConfigError, DataError } from '../../src/errors';
import { Model } from '../../src/nn/model';
import { Graph, GRAPH_INPUT, GraphNode } from '../../src/nn/graph';
import { Layer } from '../../src/nn/layer';
import { Merge } from '../../src/nn/merge';
import { Rng } from '../../src/nn/rng';
import { LayerFactory, NO_LATE_PHASE } from '../../src/latephase/layerFactory';
import { appendNode, GraphValue } from '../onnx/values';
import type { ImportedModel, ImportedNode, ImportOptions } from '../onnx/importOnnx';
import { readTfjsModel, TfjsLayerSpec } from './readTfjs';
import { TFJS_CONVERTERS, TfjsContext } from './converters';

export function importTfjs(file: string, opts: ImportOptions = {}): ImportedModel {
  const read = readTfjsModel(file);
  const where = `tfjs model '${read.file}'`;
  const nameOf = (spec: TfjsLayerSpec): string => spec.name ?? String(spec.config['name'] ?? spec.class_name);
  const unsupported = read.layers.filter((l) => !TFJS_CONVERTERS[l.class_name]);
  if (unsupported.length)
    throw new ConfigError(
      `${where}: ${unsupported.length} layer(s) of classes the importer does not support: ${unsupported.map((l) => `'${nameOf(l)}' (${l.class_name})`).join(', ')}; supported: ${Object.keys(TFJS_CONVERTERS).join(', ')}`,
    );
  const functional = read.layers.some((l) => l.inbound_nodes !== undefined);
  const inputShape = inputShapeOf(read.layers, where);
  const outputName = functional ? read.outputLayers[0] : nameOf(read.layers[read.layers.length - 1]!);
  if (functional && (read.inputLayers.length !== 1 || read.outputLayers.length !== 1))
    throw new ConfigError(`${where}: ${read.inputLayers.length} inputs and ${read.outputLayers.length} outputs; the importer takes one of each`);
  const factory = new LayerFactory(opts.latePhase ?? NO_LATE_PHASE, new Rng(opts.seed ?? 0));
  const nodes: GraphNode[] = [];
  const values = new Map<string, GraphValue>();
  const report: ImportedNode[] = [];
  let previous: GraphValue = { kind: 'graph', node: GRAPH_INPUT, shape: inputShape };
  for (const spec of read.layers) {
    const name = nameOf(spec);
    const fail = (why: string): never => {
      throw new ConfigError(`${where}: layer '${name}' (${spec.class_name}): ${why}`);
    };
    const inputs = functional ? inboundOf(spec, values, fail, inputShape) : [previous];
    const before = nodes.length;
    const add = (op: Layer | Merge, from: readonly GraphValue[]): GraphValue => appendNode(nodes, op, from, fail);
    const ctx: TfjsContext = {
      name,
      className: spec.class_name,
      config: spec.config,
      inputs,
      isOutput: name === outputName,
      factory,
      hasWeight: (suffix) => read.weights.has(`${name}/${suffix}`),
      weight: (suffix) => {
        const w = read.weights.get(`${name}/${suffix}`);
        if (!w) throw new DataError(`${where}: layer '${name}' (${spec.class_name}): weight '${name}/${suffix}' is not in the weights manifest`);
        return w;
      },
      addLayer: (layer, input) => add(layer, [input]),
      addMerge: (merge, from) => add(merge, from),
      fail,
    };
    const value = TFJS_CONVERTERS[spec.class_name]!(ctx);
    values.set(name, value);
    previous = value;
    const became = nodes.slice(before).map((n) => n.op.kind);
    report.push({ name, op: spec.class_name, became: became.length ? became : ['passed on'], output: name === outputName });
  }
  const out = values.get(outputName ?? '') ?? previous;
  if (out.node === GRAPH_INPUT) throw new ConfigError(`${where}: the model computes nothing from its input`);
  const base = path.basename(read.file, '.json') === 'model' ? path.basename(path.dirname(read.file)) : path.basename(read.file, '.json');
  const model = new Model(base, new Graph(base, nodes, out.node), inputShape);
  factory.checkAllUsed([...model.net.children()]);
  return {
    model,
    report: {
      file: read.file,
      opset: 0,
      producer: `TensorFlow.js layers (${read.className})`,
      input: { name: read.inputLayers[0] ?? 'input', dims: ['batch', ...inputShape] },
      output: { name: outputName ?? '' },
      nodes: report,
      parameters: model.params().reduce((n, p) => n + p.variable.size, 0),
      finalSoftmax: read.layers.some(
        (l) => (functional ? nameOf(l) === outputName : l === read.layers[read.layers.length - 1]) && l.config['activation'] === 'softmax',
      ),
    },
  };
}

/** The recipe entry point (data-parallel workers rebuild the model from the file). */
export function buildImportedTfjsModel(file: string, opts: ImportOptions = {}): Model {
  return importTfjs(file, opts).model;
}

/** Per-example input shape from the InputLayer or the first layer's batch_input_shape; only the batch may be free. */
function inputShapeOf(layers: readonly TfjsLayerSpec[], where: string): number[] {
  const first = layers.find((l) => l.class_name === 'InputLayer') ?? layers[0]!;
  const shape = (first.config['batch_input_shape'] ?? first.config['batchInputShape']) as Array<number | null> | undefined;
  if (!shape) throw new ConfigError(`${where}: the first layer states no batch_input_shape`);
  const rest = shape.slice(1);
  if (rest.some((d) => typeof d !== 'number' || d <= 0))
    throw new ConfigError(`${where}: input shape [${shape.join(', ')}]: only the batch dimension may be free`);
  if (rest.length !== 1 && rest.length !== 3)
    throw new ConfigError(`${where}: input shape [${shape.join(', ')}]: the importer takes [H, W, C] images or feature vectors`);
  return rest as number[];
}

/** A functional layer's inputs: its one call's inbound layers (InputLayer: the graph's input). */
function inboundOf(spec: TfjsLayerSpec, values: ReadonlyMap<string, GraphValue>, fail: (why: string) => never, inputShape: number[]): GraphValue[] {
  if (spec.class_name === 'InputLayer') return [{ kind: 'graph', node: GRAPH_INPUT, shape: inputShape }];
  const calls = spec.inbound_nodes ?? [];
  if (calls.length !== 1) return fail(`called ${calls.length} times; shared layers are not supported`);
  return calls[0]!.map(([layer]) => values.get(layer) ?? fail(`reads '${layer}', which is not an earlier layer`));
}
