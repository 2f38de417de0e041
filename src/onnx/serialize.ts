/**
 * GraphBuilder → ONNX ModelProto bytes (protobufjs against the ONNX schema), and back to a
 * plain description for inspection and tests.
 */
import { dtypeCode, dtypeFromCode, type DType } from './dtype.js';
import { type Attr, type GraphBuilder, type Shape, type TensorInit, type Value, GraphError } from './graph.js';
import { AttributeType, ModelProto } from './schema.js';

function tensorProto(name: string, t: TensorInit): Record<string, unknown> {
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return { name, dims: t.dims, data_type: dtypeCode(t.dtype), raw_data: bytes };
}

function typeProto(dtype: DType, shape: Shape | null): Record<string, unknown> {
  const tensor: Record<string, unknown> = { elem_type: dtypeCode(dtype) };
  if (shape !== null) {
    tensor.shape = { dim: shape.map((d) => (typeof d === 'number' ? { dim_value: d } : typeof d === 'string' ? { dim_param: d } : {})) };
  }
  return { tensor_type: tensor };
}

function valueInfo(v: Value): Record<string, unknown> {
  return { name: v.name, type: typeProto(v.dtype, v.shape) };
}

function attributeProto(name: string, a: Attr): Record<string, unknown> {
  const enc = new TextEncoder();
  switch (a.type) {
    case 'int':
      return { name, type: AttributeType.INT, i: a.value };
    case 'float':
      return { name, type: AttributeType.FLOAT, f: a.value };
    case 'string':
      return { name, type: AttributeType.STRING, s: enc.encode(a.value) };
    case 'ints':
      return { name, type: AttributeType.INTS, ints: a.value };
    case 'floats':
      return { name, type: AttributeType.FLOATS, floats: a.value };
    case 'strings':
      return { name, type: AttributeType.STRINGS, strings: a.value.map((s) => enc.encode(s)) };
    case 'tensor':
      return { name, type: AttributeType.TENSOR, t: tensorProto('', a.value) };
  }
}

export interface SerializeOptions {
  /** Include inferred shapes of intermediate values as value_info (helps ORT and debugging). */
  valueInfo?: boolean;
}

/** Serialize a built graph to ONNX model bytes. Fails if the graph has no outputs. */
export function serializeModel(g: GraphBuilder, options: SerializeOptions = {}): Uint8Array {
  if (g.outputs.length === 0) throw new GraphError(`graph '${g.name}' has no outputs`);
  const graphIO = new Set([...g.inputs, ...g.outputs].map((v) => v.name));
  const intermediates: Record<string, unknown>[] = [];
  if (options.valueInfo) {
    for (const n of g.nodes) for (const o of n.outputs) if (!graphIO.has(o)) intermediates.push(valueInfo(g.get(o)));
  }
  const model = {
    ir_version: g.irVersion,
    producer_name: g.producer,
    producer_version: '0.1.0',
    doc_string: g.docString,
    opset_import: g.opsetImports,
    metadata_props: [...g.metadata].map(([key, value]) => ({ key, value })),
    graph: {
      name: g.name,
      node: g.nodes.map((n) => ({
        name: n.name,
        op_type: n.opType,
        domain: n.domain,
        input: n.inputs.map((i) => i ?? ''),
        output: n.outputs,
        attribute: Object.entries(n.attrs).map(([k, a]) => attributeProto(k, a)),
      })),
      initializer: [...g.initializers].map(([name, { tensor }]) => tensorProto(name, tensor)),
      input: g.inputs.map(valueInfo),
      output: g.outputs.map(valueInfo),
      value_info: intermediates,
    },
  };
  const err = ModelProto.verify(model);
  if (err) throw new GraphError(`graph '${g.name}' does not fit the ONNX schema: ${err}`);
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}

/** What a serialized model holds, decoded (for tests, `doctor` and debugging). */
export interface ModelSummary {
  irVersion: number;
  opsets: { domain: string; version: number }[];
  inputs: { name: string; dtype: DType; shape: Shape | null }[];
  outputs: { name: string; dtype: DType; shape: Shape | null }[];
  nodes: { name: string; opType: string; domain: string; inputs: string[]; outputs: string[] }[];
  initializers: { name: string; dtype: DType; dims: number[]; bytes: number }[];
}

interface DecodedTensor {
  name: string;
  dims: unknown[];
  data_type: number;
  raw_data?: Uint8Array;
}

interface DecodedValueInfo {
  name: string;
  type?: { tensor_type?: { elem_type: number; shape?: { dim?: { dim_value?: unknown; dim_param?: string }[] } } };
}

function decodeInfo(v: DecodedValueInfo) {
  const t = v.type?.tensor_type;
  const shape = t?.shape ? (t.shape.dim ?? []).map((d) => (d.dim_value !== undefined && d.dim_value !== null ? Number(d.dim_value) : (d.dim_param ?? null))) : null;
  return { name: v.name, dtype: dtypeFromCode(t?.elem_type ?? 0), shape };
}

export function describeModel(bytes: Uint8Array): ModelSummary {
  const m = ModelProto.toObject(ModelProto.decode(bytes), { defaults: true, longs: Number }) as {
    ir_version: number;
    opset_import: { domain: string; version: number }[];
    graph: {
      input: DecodedValueInfo[];
      output: DecodedValueInfo[];
      node: { name: string; op_type: string; domain: string; input: string[]; output: string[] }[];
      initializer: DecodedTensor[];
    };
  };
  return {
    irVersion: m.ir_version,
    opsets: m.opset_import,
    inputs: m.graph.input.map(decodeInfo),
    outputs: m.graph.output.map(decodeInfo),
    nodes: m.graph.node.map((n) => ({ name: n.name, opType: n.op_type, domain: n.domain, inputs: n.input, outputs: n.output })),
    initializers: m.graph.initializer.map((t) => ({ name: t.name, dtype: dtypeFromCode(t.data_type), dims: t.dims.map(Number), bytes: t.raw_data?.length ?? 0 })),
  };
}
