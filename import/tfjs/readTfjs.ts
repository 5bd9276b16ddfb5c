/**
 * A TensorFlow.js layers model as `tf.LayersModel.save` writes it: model.json (the topology and a
 * weights manifest) and binary shards beside it. Read with limits: model.json's size, shard paths
 * inside its folder (no absolute paths, no `..`, no links out), the shards' total against what the
 * manifest declares (a truncated shard or a manifest that disagrees is a DataError naming both).
 */
import * as fs from 'fs';
import * as path from 'path';
import { DataError } from '../../src/errors';
import { checkExternalLocation } from '../../src/onnx/readOnnx';

export interface TfjsLayerSpec {
  readonly class_name: string;
  readonly name?: string;
  readonly config: Readonly<Record<string, unknown>>;
  /** Functional models: [[[inbound layer, node index, tensor index, kwargs], ...]] per call. */
  readonly inbound_nodes?: ReadonlyArray<ReadonlyArray<readonly [string, number, number, unknown?]>>;
}

export interface TfjsModelFile {
  readonly file: string;
  readonly className: string;
  readonly layers: readonly TfjsLayerSpec[];
  readonly inputLayers: readonly string[];
  readonly outputLayers: readonly string[];
  /** Weights by name (`<layer>/kernel`), float32. */
  readonly weights: ReadonlyMap<string, { readonly shape: readonly number[]; readonly values: Float32Array }>;
}

const MAX_TOPOLOGY_BYTES = 64 * 2 ** 20;
const MAX_WEIGHT_BYTES = 2 * 2 ** 30;

interface WeightSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype?: string;
}

export function readTfjsModel(file: string): TfjsModelFile {
  const what = `tfjs model '${file}'`;
  let text: string;
  try {
    const size = fs.statSync(file).size;
    if (size > MAX_TOPOLOGY_BYTES) throw new DataError(`${what}: model.json is ${size} bytes, over the ${MAX_TOPOLOGY_BYTES}-byte limit`);
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError(`${what}: cannot read (${(err as Error).message})`);
  }
  let json: { modelTopology?: unknown; weightsManifest?: unknown };
  try {
    json = JSON.parse(text) as typeof json;
  } catch (err) {
    throw new DataError(`${what}: not JSON (${(err as Error).message})`);
  }
  const topology = json.modelTopology as
    { class_name?: string; config?: unknown; model_config?: { class_name?: string; config?: unknown } } | undefined;
  const model = topology?.model_config ?? topology;
  if (!model?.class_name || !model.config)
    throw new DataError(`${what}: no layers-model topology (a graph model from tfjs_converter is not a layers model)`);
  const config = model.config as {
    layers?: TfjsLayerSpec[];
    input_layers?: Array<[string, number, number]>;
    output_layers?: Array<[string, number, number]>;
  };
  const layers = Array.isArray(model.config) ? (model.config as TfjsLayerSpec[]) : (config.layers ?? []);
  if (!layers.length) throw new DataError(`${what}: the topology has no layers`);
  const dir = path.dirname(path.resolve(file));
  const manifest = (json.weightsManifest ?? []) as Array<{ paths?: string[]; weights?: WeightSpec[] }>;
  const weights = new Map<string, { shape: readonly number[]; values: Float32Array }>();
  for (const [g, group] of manifest.entries()) {
    const specs = group.weights ?? [];
    const declared = specs.reduce((n, s) => n + 4 * s.shape.reduce((a, b) => a * b, 1), 0);
    if (specs.some((s) => (s.dtype ?? 'float32') !== 'float32'))
      throw new DataError(`${what}: weight group ${g}: only float32 weights are supported (${specs.find((s) => s.dtype !== 'float32')?.name})`);
    if (declared > MAX_WEIGHT_BYTES)
      throw new DataError(`${what}: weight group ${g} declares ${declared} bytes, over the ${MAX_WEIGHT_BYTES}-byte limit`);
    const shards = (group.paths ?? []).map((p) => {
      const real = checkExternalLocation(dir, p, `${what}: weight shard`);
      return fs.readFileSync(real);
    });
    const bytes = Buffer.concat(shards);
    if (bytes.length !== declared)
      throw new DataError(
        `${what}: weight group ${g}: the shards (${(group.paths ?? []).join(', ')}) hold ${bytes.length} bytes, the manifest declares ${declared} (${specs.length} weights): a truncated shard or a manifest that disagrees`,
      );
    let offset = 0;
    for (const s of specs) {
      const count = s.shape.reduce((a, b) => a * b, 1);
      const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + offset + 4 * count));
      if (values.some((v) => !Number.isFinite(v))) throw new DataError(`${what}: weight '${s.name}' holds NaN or Inf values`);
      weights.set(s.name, { shape: s.shape, values });
      offset += 4 * count;
    }
  }
  const names = (list: Array<[string, number, number]> | undefined): string[] => (list ?? []).map((e) => e[0]);
  return {
    file: path.resolve(file),
    className: model.class_name,
    layers,
    inputLayers: names(config.input_layers),
    outputLayers: names(config.output_layers),
    weights,
  };
}
