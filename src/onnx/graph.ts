/**
 * balmkit's ONNX graph IR: typed values with symbolic shapes, nodes and initializers.
 *
 * A model in balmkit is a TypeScript function that emits a graph from a config and named weights.
 * Every node is shape- and dtype-checked the moment it is added (see `shapes.ts`), so a wrong
 * graph fails at build time with the node's name and the shapes involved, before ORT sees it.
 * We write our own IR because nothing in JavaScript builds ONNX graphs with build-time inference.
 */
import type { DType } from './dtype.js';
import { inferNode } from './shapes.js';

/** A dimension: a number, a symbolic name shared across the graph (`"batch"`), or unknown (`null`). */
export type Dim = number | string | null;
export type Shape = Dim[];

/** Raw tensor content for initializers; float16/bfloat16 are raw bits in a Uint16Array, bool a Uint8Array. */
export type TensorBytes = Float32Array | Float64Array | Uint16Array | BigInt64Array | BigUint64Array | Int32Array | Uint32Array | Int16Array | Int8Array | Uint8Array;

export interface TensorInit {
  dtype: DType;
  dims: number[];
  data: TensorBytes;
}

export type Attr =
  | { type: 'int'; value: number }
  | { type: 'float'; value: number }
  | { type: 'string'; value: string }
  | { type: 'ints'; value: number[] }
  | { type: 'floats'; value: number[] }
  | { type: 'strings'; value: string[] }
  | { type: 'tensor'; value: TensorInit };

/** Attribute constructors: ONNX distinguishes int from float, JavaScript numbers do not. */
export const attr = {
  int: (value: number): Attr => ({ type: 'int', value }),
  float: (value: number): Attr => ({ type: 'float', value }),
  string: (value: string): Attr => ({ type: 'string', value }),
  ints: (value: number[]): Attr => ({ type: 'ints', value }),
  floats: (value: number[]): Attr => ({ type: 'floats', value }),
  strings: (value: string[]): Attr => ({ type: 'strings', value }),
  tensor: (value: TensorInit): Attr => ({ type: 'tensor', value }),
};

export type Attrs = Record<string, Attr>;

/** A graph build error: names the node (or input) and shows the shapes involved. */
export class GraphError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GraphError';
  }
}

/** A tensor flowing through the graph. `known` holds the content of small integer tensors (shapes, axes) when build-time inference can tell. */
export class Value {
  constructor(
    readonly graph: GraphBuilder,
    readonly name: string,
    readonly dtype: DType,
    readonly shape: Shape | null,
    readonly known?: Dim[],
  ) {}

  get rank(): number | null {
    return this.shape === null ? null : this.shape.length;
  }

  toString(): string {
    return `${this.name}: ${this.dtype}${formatShape(this.shape)}`;
  }
}

export function formatShape(shape: Shape | null): string {
  if (shape === null) return '[?rank]';
  return `[${shape.map((d) => (d === null ? '?' : String(d))).join(',')}]`;
}

export interface NodeRecord {
  name: string;
  opType: string;
  domain: string;
  inputs: (string | null)[];
  outputs: string[];
  attrs: Attrs;
}

export interface GraphOptions {
  /** Default-domain opset (17 or newer; op helpers emit opset-17 forms). */
  opset?: number;
  /** com.microsoft opset used by ORT's contrib ops. */
  msOpset?: number;
  irVersion?: number;
  producer?: string;
  docString?: string;
}

export interface NodeOptions {
  /** A readable name; scoped and made unique. Defaults to the op type. */
  name?: string;
  domain?: string;
  /** Number of outputs to create (ops with optional outputs). Default: the op's default. */
  outputs?: number;
  /** Names for the outputs (graph value names). */
  outputNames?: string[];
}

export const MS_DOMAIN = 'com.microsoft';

export class GraphBuilder {
  readonly opset: number;
  readonly msOpset: number;
  readonly irVersion: number;
  readonly producer: string;
  readonly docString: string;
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  readonly nodes: NodeRecord[] = [];
  readonly initializers = new Map<string, { value: Value; tensor: TensorInit }>();
  readonly metadata = new Map<string, string>();
  private readonly values = new Map<string, Value>();
  private readonly usedNames = new Set<string>();
  private readonly scopes: string[] = [];
  private usesMsDomain = false;

  constructor(
    readonly name: string,
    options: GraphOptions = {},
  ) {
    this.opset = options.opset ?? 17;
    this.msOpset = options.msOpset ?? 1;
    this.irVersion = options.irVersion ?? 8;
    this.producer = options.producer ?? 'balmkit';
    this.docString = options.docString ?? '';
    if (this.opset < 17) throw new GraphError(`opset ${this.opset} is too old: balmkit emits opset 17 or newer`);
    if (this.irVersion > 13) throw new GraphError(`IR version ${this.irVersion} is newer than 13`);
  }

  /** Run `fn` with node names prefixed by `prefix/` (e.g. `layers.0/attn`). */
  scope<T>(prefix: string, fn: () => T): T {
    this.scopes.push(prefix);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  /** A graph input. Symbolic dims are strings; the same string means the same size everywhere. */
  input(name: string, dtype: DType, shape: Shape): Value {
    this.claim(name, `graph input '${name}'`);
    const v = new Value(this, name, dtype, [...shape]);
    this.values.set(name, v);
    this.inputs.push(v);
    return v;
  }

  /** Mark `value` as a graph output, optionally under another name (adds an Identity). */
  output(value: Value, name?: string): Value {
    this.own(value, `graph output '${name ?? value.name}'`);
    let out = value;
    if (name !== undefined && name !== value.name) {
      [out] = this.node('Identity', [value], {}, { name: `output_${name}`, outputNames: [name] });
    }
    if (this.outputs.some((o) => o.name === out.name)) {
      throw new GraphError(`graph output '${out.name}' is declared twice`);
    }
    this.outputs.push(out);
    return out;
  }

  /** A named weight (or any constant tensor) stored in the model. */
  initializer(name: string, tensor: TensorInit): Value {
    const n = tensor.dims.reduce((a, b) => a * b, 1);
    if (tensor.data.length !== n) {
      throw new GraphError(`initializer '${name}': ${tensor.data.length} values for dims [${tensor.dims.join(',')}] (${n} expected)`);
    }
    this.claim(name, `initializer '${name}'`);
    const known = n <= 64 && (tensor.dtype === 'int64' || tensor.dtype === 'int32') && tensor.dims.length <= 1 ? Array.from(tensor.data as ArrayLike<number | bigint>, (x) => Number(x)) : undefined;
    const v = new Value(this, name, tensor.dtype, [...tensor.dims], known);
    this.values.set(name, v);
    this.initializers.set(name, { value: v, tensor });
    return v;
  }

  /** A fresh unique name under the current scope. */
  uniqueName(base: string): string {
    const prefix = this.scopes.length ? `${this.scopes.join('/')}/` : '';
    let name = `${prefix}${base}`;
    for (let i = 1; this.usedNames.has(name); i++) name = `${prefix}${base}_${i}`;
    return name;
  }

  /**
   * Add a node. Its outputs' dtypes and shapes come from the op's inference rule, which
   * throws a {@link GraphError} naming this node when the inputs do not fit.
   */
  node(opType: string, inputs: (Value | null | undefined)[], attrs: Attrs = {}, options: NodeOptions = {}): Value[] {
    const domain = options.domain ?? '';
    const nodeName = this.uniqueName(options.name ?? opType);
    const ins = inputs.map((v, i) => {
      if (v === null || v === undefined) return null;
      this.own(v, `node '${nodeName}' (${opType}) input ${i}`);
      return v;
    });
    // Trailing missing optional inputs are dropped, as ONNX writes them.
    while (ins.length > 0 && ins[ins.length - 1] === null) ins.pop();
    const inferred = inferNode({ nodeName, opType, domain, inputs: ins, attrs, numOutputs: options.outputs, opset: this.opset });
    this.usedNames.add(nodeName);
    const outs = inferred.map((o, i) => {
      const name = options.outputNames?.[i] ?? (inferred.length === 1 ? `${nodeName}/out` : `${nodeName}/out${i}`);
      this.claim(name, `output ${i} of node '${nodeName}'`);
      const v = new Value(this, name, o.dtype, o.shape, o.known);
      this.values.set(name, v);
      return v;
    });
    if (domain === MS_DOMAIN) this.usesMsDomain = true;
    this.nodes.push({ name: nodeName, opType, domain, inputs: ins.map((v) => v?.name ?? null), outputs: outs.map((v) => v.name), attrs });
    return outs;
  }

  /** Look up a value by name (inputs, initializers, node outputs). */
  get(name: string): Value {
    const v = this.values.get(name);
    if (!v) throw new GraphError(`no value named '${name}' in graph '${this.name}'`);
    return v;
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  get opsetImports(): { domain: string; version: number }[] {
    const imports = [{ domain: '', version: this.opset }];
    if (this.usesMsDomain) imports.push({ domain: MS_DOMAIN, version: this.msOpset });
    return imports;
  }

  private claim(name: string, what: string): void {
    if (name === '') throw new GraphError(`${what}: empty name`);
    if (this.values.has(name)) throw new GraphError(`${what}: the name '${name}' is already used in graph '${this.name}'`);
    this.usedNames.add(name);
  }

  private own(v: Value, where: string): void {
    if (v.graph !== this) throw new GraphError(`${where}: value '${v.name}' belongs to graph '${v.graph.name}', not '${this.name}'`);
    if (this.values.get(v.name) !== v) throw new GraphError(`${where}: value '${v.name}' is not defined in graph '${this.name}'`);
  }
}
