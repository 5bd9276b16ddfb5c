/**
 * A directed acyclic graph of layers and merges: named nodes, each reading the graph's input or
 * earlier nodes, run in topological order (ResNet shortcuts, DenseNet concatenations,
 * squeeze-excitation gates). A layer node reads one tensor, a merge (merge.ts) several. Gradients
 * flow through the tape like any other layer's; folding and cloning map its layers (`map`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ForwardContext, Layer, NamedVariable, Param, uniqueByVariable } from './layer';
import { Merge } from './merge';
import { ConfigError, ShapeError } from '../errors';

/** The name a node uses for the graph's own input. */
export const GRAPH_INPUT = 'input';

export interface GraphNode {
  /** Unique within the graph (and not GRAPH_INPUT). */
  readonly name: string;
  /** A layer (exactly one input) or a merge (two or more). */
  readonly op: Layer | Merge;
  /** The nodes it reads, by name; GRAPH_INPUT for the graph's input. */
  readonly inputs: readonly string[];
}

export class Graph implements Layer {
  readonly kind = 'graph';
  /** The nodes in an order where every node comes after the nodes it reads. */
  readonly nodes: readonly GraphNode[];

  constructor(
    readonly name: string,
    nodes: readonly GraphNode[],
    /** The node whose value is the graph's output (default: the last node given). */
    readonly output: string = nodes[nodes.length - 1]?.name ?? GRAPH_INPUT,
  ) {
    this.nodes = topologicalOrder(name, nodes);
    if (!this.nodes.some((n) => n.name === output)) throw new ConfigError(`graph '${name}': the output '${output}' is not a node`);
  }

  outputShape(input: readonly number[]): number[] {
    const shapes = new Map<string, readonly number[]>([[GRAPH_INPUT, input]]);
    for (const node of this.nodes) {
      const ins = node.inputs.map((i) => shapes.get(i)!);
      try {
        shapes.set(node.name, node.op instanceof Merge ? node.op.outputShape(ins) : node.op.outputShape(ins[0]!));
      } catch (err) {
        if (err instanceof ShapeError) throw new ShapeError(`graph '${this.name}', node '${node.name}': ${err.message}`, { cause: err });
        throw err;
      }
    }
    return [...shapes.get(this.output)!];
  }

  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    const values = new Map<string, tf.Tensor>([[GRAPH_INPUT, x]]);
    for (const node of this.nodes) {
      const ins = node.inputs.map((i) => values.get(i)!);
      values.set(node.name, node.op instanceof Merge ? node.op.forward(ins) : node.op.forward(ins[0]!, ctx));
    }
    return values.get(this.output)!;
  }

  params(): Param[] {
    return uniqueByVariable(this.children().flatMap((l) => l.params()));
  }

  state(): NamedVariable[] {
    return uniqueByVariable(this.children().flatMap((l) => l.state()));
  }

  /** The layers of its nodes, in node order (a layer used by two nodes once). */
  children(): readonly Layer[] {
    return [...new Set(this.nodes.flatMap((n) => (n.op instanceof Merge ? [] : [n.op])))];
  }

  clone(): Graph {
    return this.map((layer) => layer.clone());
  }

  /** The same graph over `fn(layer)` for each of its layers (a layer shared by nodes stays shared). */
  map(fn: (layer: Layer) => Layer): Graph {
    const mapped = new Map(this.children().map((l) => [l, fn(l)]));
    return new Graph(
      this.name,
      this.nodes.map((n) => (n.op instanceof Merge ? n : { ...n, op: mapped.get(n.op)! })),
      this.output,
    );
  }

  dispose(): void {
    for (const l of this.children()) l.dispose();
  }
}

/** The nodes sorted so that each follows its inputs (stable: given order where free); a ConfigError names what is wrong. */
function topologicalOrder(graph: string, nodes: readonly GraphNode[]): GraphNode[] {
  const byName = new Map<string, GraphNode>();
  for (const n of nodes) {
    if (n.name === GRAPH_INPUT || byName.has(n.name))
      throw new ConfigError(`graph '${graph}': node name '${n.name}' is ${n.name === GRAPH_INPUT ? 'reserved for the input' : 'used twice'}`);
    byName.set(n.name, n);
  }
  for (const n of nodes) {
    const wanted = n.op instanceof Merge ? 'two or more inputs' : 'exactly one input';
    if (n.op instanceof Merge ? n.inputs.length < 2 : n.inputs.length !== 1)
      throw new ConfigError(`graph '${graph}': node '${n.name}' (${n.op.kind}) needs ${wanted}, got ${n.inputs.length}`);
    const unknown = n.inputs.find((i) => i !== GRAPH_INPUT && !byName.has(i));
    if (unknown !== undefined) throw new ConfigError(`graph '${graph}': node '${n.name}' reads '${unknown}', which is not a node`);
  }
  const order: GraphNode[] = [];
  const done = new Set<string>([GRAPH_INPUT]);
  let pending = [...nodes];
  while (pending.length) {
    const ready = pending.filter((n) => n.inputs.every((i) => done.has(i)));
    if (!ready.length) throw new ConfigError(`graph '${graph}': a cycle through ${pending.map((n) => `'${n.name}'`).join(', ')}`);
    for (const n of ready) {
      order.push(n);
      done.add(n.name);
    }
    pending = pending.filter((n) => !done.has(n.name));
  }
  return order;
}
