/**
 * The structure of an ONNX model, read before any value is computed: inputs and outputs (element
 * type, shape with named dynamic axes), opset imports, IR version, producer, operators used,
 * initializer count and sizes, metadata (with duplicate keys flagged: later readers would see only
 * one of them).
 */
import { onnx } from 'onnx-proto';
import { storedTensors, tensorByteSize, toInt } from '../../src/onnx/readOnnx';

export interface ValueSignature {
  readonly name: string;
  /** ONNX element type name (FLOAT, INT64, ...). */
  readonly dtype: string;
  /** Fixed sizes as numbers, dynamic axes by name ('?' when unnamed). */
  readonly shape: ReadonlyArray<number | string>;
}

export interface Inspection {
  readonly irVersion: number;
  readonly opsets: ReadonlyArray<{ readonly domain: string; readonly version: number }>;
  readonly producer: string;
  readonly inputs: readonly ValueSignature[];
  readonly outputs: readonly ValueSignature[];
  readonly nodes: number;
  /** Operator type -> node count (domain-qualified outside the default domain). */
  readonly operators: Readonly<Record<string, number>>;
  readonly initializers: {
    readonly count: number;
    readonly bytes: number;
    readonly largest: ReadonlyArray<{ readonly name: string; readonly bytes: number }>;
  };
  readonly metadata: Readonly<Record<string, string>>;
  /** metadata_props entries, duplicates included (metadata keeps the last value of each key). */
  readonly metadataEntries: number;
  readonly duplicateMetadataKeys: readonly string[];
}

const elementTypeName = (t: number | null | undefined): string => onnx.TensorProto.DataType[t ?? 0] ?? `type ${t}`;

/** A value type in words: FLOAT, or sequence<FLOAT>, optional<sequence<INT64>>, map<STRING, FLOAT>, sparse<FLOAT>. */
function typeName(t: onnx.ITypeProto | null | undefined): string {
  if (!t) return 'unknown';
  if (t.tensorType) return elementTypeName(t.tensorType.elemType);
  if (t.sequenceType) return `sequence<${typeName(t.sequenceType.elemType)}>`;
  if (t.optionalType) return `optional<${typeName(t.optionalType.elemType)}>`;
  if (t.mapType) return `map<${elementTypeName(t.mapType.keyType)}, ${typeName(t.mapType.valueType)}>`;
  if (t.sparseTensorType) return `sparse<${elementTypeName(t.sparseTensorType.elemType)}>`;
  return 'unknown';
}

function signature(v: onnx.IValueInfoProto): ValueSignature {
  const tensor = v.type?.tensorType;
  const dims = tensor?.shape?.dim ?? [];
  return {
    name: v.name ?? '',
    dtype: typeName(v.type),
    shape: dims.map((d) =>
      d.dimParam ? d.dimParam : d.dimValue !== null && d.dimValue !== undefined ? toInt(d.dimValue, `'${v.name}' dimension`) : '?',
    ),
  };
}

export function inspectOnnx(model: onnx.IModelProto): Inspection {
  const graph = model.graph ?? {};
  const initializerNames = new Set((graph.initializer ?? []).map((t) => t.name));
  const operators: Record<string, number> = {};
  for (const n of graph.node ?? []) {
    const op = n.domain ? `${n.domain}.${n.opType}` : (n.opType ?? '?');
    operators[op] = (operators[op] ?? 0) + 1;
  }
  const sizes = storedTensors(graph).map((t) => ({ name: t.name ?? '', bytes: tensorByteSize(t, `tensor '${t.name}'`) ?? 0 }));
  const metadata: Record<string, string> = {};
  const duplicates = new Set<string>();
  for (const kv of model.metadataProps ?? []) {
    const key = kv.key ?? '';
    if (key in metadata) duplicates.add(key);
    metadata[key] = kv.value ?? '';
  }
  return {
    irVersion: toInt(model.irVersion, 'IR version'),
    opsets: (model.opsetImport ?? []).map((o) => ({ domain: o.domain || 'ai.onnx', version: toInt(o.version, 'opset version') })),
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' ') || '(not stated)',
    // Graph inputs that are initializers are weights (IR < 4 style), not inputs a caller feeds.
    inputs: (graph.input ?? []).filter((i) => !initializerNames.has(i.name)).map(signature),
    outputs: (graph.output ?? []).map(signature),
    nodes: graph.node?.length ?? 0,
    operators,
    initializers: {
      count: sizes.length,
      bytes: sizes.reduce((s, t) => s + t.bytes, 0),
      largest: [...sizes].sort((a, b) => b.bytes - a.bytes).slice(0, 3),
    },
    metadata,
    metadataEntries: model.metadataProps?.length ?? 0,
    duplicateMetadataKeys: [...duplicates],
  };
}
