/** Accumulates ONNX nodes and initializers with unique names; knows nothing about layers. */
import { onnx } from 'onnx-proto';
import { ExportError } from '../../src/errors';
import { attributes, AttributeValue, float32Tensor, int64Tensor } from '../../src/onnx/proto';

export type { AttributeValue } from '../../src/onnx/proto';

export class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  private readonly taken = new Set<string>();

  /** A fresh tensor or node name based on `base`. */
  uniqueName(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_.\-/]/g, '_');
    let name = clean;
    for (let i = 1; this.taken.has(name); i++) name = `${clean}_${i}`;
    this.taken.add(name);
    return name;
  }

  /** Reserve an exact name (graph inputs and outputs). */
  reserve(name: string): string {
    if (this.taken.has(name)) throw new ExportError(`ONNX name '${name}' is already used`);
    this.taken.add(name);
    return name;
  }

  floatInitializer(base: string, values: ArrayLike<number>, dims: readonly number[]): string {
    const name = this.uniqueName(base);
    this.initializers.push(float32Tensor(name, values, dims));
    return name;
  }

  int64Initializer(base: string, values: readonly number[]): string {
    const name = this.uniqueName(base);
    this.initializers.push(int64Tensor(name, values));
    return name;
  }

  /** Adds a node and returns its output name (`output` if given, else a fresh name from `base`). */
  node(opType: string, inputs: readonly string[], base: string, attrs: Record<string, AttributeValue> = {}, output?: string): string {
    const out = output ?? this.uniqueName(base);
    this.nodes.push({
      opType,
      name: this.uniqueName(`${base}/${opType}`),
      input: [...inputs],
      output: [out],
      attribute: attributes(attrs),
    });
    return out;
  }
}
