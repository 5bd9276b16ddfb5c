import * as tf from '@tensorflow/tfjs-core';
import { EVAL, ForwardContext, Layer, Param, uniqueByVariable, walkLayers } from './layer';
import { ConfigError, ShapeError } from '../errors';

/** What a deployment needs to know about the model's input beyond its shape. */
export interface ModelMeta {
  /** How the input values are laid out, e.g. 'flat row-major HWC 28x28x1'. */
  readonly inputLayout?: string;
  /** What the caller must do to raw data first (ideally nothing: normalisation lives in the graph). */
  readonly preprocessing?: string;
  readonly labels?: readonly string[];
  /**
   * The ONNX names to export under (a model imported from ONNX keeps its original's, so the export
   * is a drop-in): the input, the logits output and, where the original had one, the probabilities
   * output (absent: no probabilities output).
   */
  readonly onnxNames?: { readonly input: string; readonly logits: string; readonly probabilities?: string };
}

/** A network with a fixed per-example input shape (batch excluded). */
export class Model {
  readonly outputShape: readonly number[];

  constructor(
    readonly name: string,
    readonly net: Layer,
    readonly inputShape: readonly number[],
    readonly meta: ModelMeta = {},
  ) {
    this.outputShape = net.outputShape(inputShape); // validates the whole stack up front
  }

  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    const got = x.shape.slice(1);
    if (got.length !== this.inputShape.length || got.some((d, i) => d !== this.inputShape[i])) {
      throw new ShapeError(`model '${this.name}': expected input [batch, ${this.inputShape.join(', ')}], got [${x.shape.join(', ')}]`);
    }
    return this.net.forward(x, ctx);
  }

  /** Eval-mode outputs, batched to bound memory. */
  predict(x: tf.Tensor, batchSize = 500): tf.Tensor {
    const n = x.shape[0]!;
    if (n <= batchSize) return tf.tidy(() => this.forward(x, EVAL));
    const parts: tf.Tensor[] = [];
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      parts.push(tf.tidy(() => this.forward(tf.slice(x, start, size), EVAL)));
    }
    const out = tf.concat(parts);
    for (const p of parts) p.dispose();
    return out;
  }

  layers(): Layer[] {
    return [...walkLayers(this.net)];
  }

  /** Every trainable tensor once (shared tensors such as template banks are listed once). */
  params(): Param[] {
    return uniqueByVariable(this.net.params());
  }

  parameterCount(): number {
    return this.params().reduce((s, p) => s + p.variable.size, 0);
  }

  /** The same model around another network (used by folding). */
  withNet(net: Layer): Model {
    return new Model(this.name, net, this.inputShape, this.meta);
  }

  dispose(): void {
    this.net.dispose();
  }
}

/** Layers that hold sub-layers and can rebuild themselves around replacements. */
interface MappableContainer extends Layer {
  map(fn: (layer: Layer) => Layer): Layer;
}

function isMappable(layer: Layer): layer is MappableContainer {
  return typeof (layer as Partial<MappableContainer>).map === 'function';
}

/**
 * A deep copy of a layer tree in which `replace` may substitute any layer (returning null keeps
 * a clone of it). Containers are rebuilt, so the result shares no variables with the input.
 */
export function mapLayerTree(root: Layer, replace: (layer: Layer) => Layer | null): Layer {
  const substitute = replace(root);
  if (substitute) return substitute;
  if (isMappable(root)) return root.map((child) => mapLayerTree(child, replace));
  if (root.children().length)
    throw new ConfigError(`layer '${root.name}' (${root.kind}) has children but no map(); containers must implement map() to be folded or cloned`);
  return root.clone();
}
