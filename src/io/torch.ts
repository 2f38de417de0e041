/**
 * PyTorch checkpoint reader (`pytorch_model.bin`, `*.pt`, `*.pth`) without Python.
 *
 * Since torch 1.6, `torch.save` writes a zip archive: `<prefix>/data.pkl` (the pickled object, in
 * which every tensor is `_rebuild_tensor_v2(storage, offset, size, stride, ...)` and every storage
 * a persistent id `('storage', torch.FloatStorage, key, location, numel)`), the raw storages
 * `<prefix>/data/<key>`, and `<prefix>/byteorder`. The pickle is read by the restricted
 * interpreter in `pickle.ts` with an allow-list of exactly the globals a state dict needs, so a
 * checkpoint that would run code under `torch.load` is refused instead.
 */
import { PickleCustom, PickleDict, PickleGlobal, describe, unpickle, type AllowedGlobal, type PickleValue } from './pickle.js';
import { allocTensorData, assertLittleEndianHost, bytesPerElement, hostTensor, numel, type HostTensor, type NamedTensors, type TensorData, type TensorDType } from './tensor.js';
import { looksLikeZip, memorySource, openFileSource, ZipReader, type ByteSource, type ZipEntry } from './zip.js';

/** Legacy storage classes named in persistent ids, and the dtype of their elements. */
const STORAGE_DTYPES: Record<string, TensorDType> = {
  FloatStorage: 'float32',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  DoubleStorage: 'float64',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

/** A storage named by a persistent id: bytes in the zip entry `<prefix>/data/<key>`. */
class StorageRef extends PickleCustom {
  constructor(
    readonly key: string,
    readonly dtype: TensorDType,
    /** Number of elements. */
    readonly size: number,
    readonly entry: ZipEntry,
  ) {
    super();
  }
}

/** A tensor as the pickle describes it: a strided view into a storage, read on demand. */
class TensorRef extends PickleCustom {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {
    super();
  }
}

/**
 * A value of a checkpoint after loading: plain data, with tensors as {@link HostTensor}. Python
 * dicts (and OrderedDicts) are `Map`s, lists and tuples arrays, ints numbers (or bigints beyond
 * 2^53), `bytes` `Uint8Array`, sets `Set`s; an allow-listed global that appears as a plain value
 * (a storage class) is a `PickleGlobal`.
 */
export type CheckpointValue = null | boolean | number | bigint | string | Uint8Array | HostTensor | CheckpointValue[] | Map<CheckpointValue, CheckpointValue> | Set<CheckpointValue> | PickleGlobal;

/** Whether a checkpoint value is a tensor. */
export function isHostTensor(v: unknown): v is HostTensor {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map) && !(v instanceof Set) && !(v instanceof Uint8Array) && 'dtype' in v && 'shape' in v && 'data' in v;
}

const REFUSAL_HINT =
  'The file is not a plain PyTorch state dict: loading it would mean running code or classes named in it, ' +
  'which balmkit never does. Re-save only the tensors, e.g. torch.save(model.state_dict(), path), or convert to safetensors.';

const asInt = (v: PickleValue, what: string): number => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new Error(`${what} is a ${describe(v)}, not an integer`);
  return v;
};
const asIntTuple = (v: PickleValue, what: string): number[] => {
  if (!Array.isArray(v)) throw new Error(`${what} is a ${describe(v)}, not a tuple`);
  return (v as readonly PickleValue[]).map((x, i) => asInt(x, `${what}[${i}]`));
};

/**
 * `torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
 * backward_hooks[, metadata])`: a strided view of a storage. Gradients and hooks do not matter for
 * weights, and are ignored.
 */
function rebuildTensor(args: readonly PickleValue[]): PickleValue {
  if (args.length < 4 || args.length > 7) throw new Error(`_rebuild_tensor_v2 takes 6 or 7 arguments, got ${args.length}`);
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StorageRef)) throw new Error(`_rebuild_tensor_v2: storage is a ${describe(storage)}`);
  const shape = asIntTuple(size, 'tensor size');
  const strides = asIntTuple(stride, 'tensor stride');
  if (shape.length !== strides.length) {
    throw new Error(`tensor size (${shape.join(', ')}) and stride (${strides.join(', ')}) differ in length`);
  }
  return new TensorRef(storage, asInt(offset, 'tensor storage offset'), shape, strides);
}

/** `_rebuild_parameter(data, requires_grad, hooks)` and `..._with_state(..., state)`: the data. */
function rebuildParameter(args: readonly PickleValue[]): PickleValue {
  if (args.length < 3 || !(args[0] instanceof TensorRef)) throw new Error('_rebuild_parameter: expected (tensor, requires_grad, hooks)');
  return args[0];
}

function makeGlobals(): Map<string, AllowedGlobal> {
  const g = new Map<string, AllowedGlobal>();
  g.set('collections.OrderedDict', {
    call: (args) => {
      const d = new PickleDict(true);
      if (args.length > 1) throw new Error('OrderedDict takes at most one argument');
      if (args.length === 1 && args[0] !== null) {
        const init = args[0];
        if (init instanceof PickleDict) for (const [k, v] of init) d.set(k, v);
        else if (Array.isArray(init)) {
          for (const pair of init as readonly PickleValue[]) {
            if (!Array.isArray(pair) || pair.length !== 2) throw new Error('OrderedDict items must be (key, value) pairs');
            d.set((pair as readonly PickleValue[])[0], (pair as readonly PickleValue[])[1]);
          }
        } else throw new Error(`OrderedDict of a ${describe(init)}`);
      }
      return d;
    },
  });
  // Protocol 2 pickles `bytes` as _codecs.encode(text, 'latin1'); re-encoding latin-1 here is pure
  // (torch's own weights_only loader allows this global for the same reason).
  g.set('_codecs.encode', {
    call: (args) => {
      const [text, encoding] = args;
      if (args.length !== 2 || typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) {
        throw new Error(`_codecs.encode is only supported as encode(str, 'latin1'), the form pickle uses for bytes`);
      }
      const out = new Uint8Array(text.length);
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c > 0xff) throw new Error(`_codecs.encode: character U+${c.toString(16)} is not latin-1`);
        out[i] = c;
      }
      return out;
    },
  });
  g.set('torch._utils._rebuild_tensor_v2', { call: rebuildTensor });
  g.set('torch._utils._rebuild_parameter', { call: rebuildParameter });
  g.set('torch._utils._rebuild_parameter_with_state', { call: rebuildParameter });
  for (const cls of Object.keys(STORAGE_DTYPES)) g.set(`torch.${cls}`, {}); // values only, never called
  return g;
}

const GLOBALS = makeGlobals();

/** The opened archive: zip directory, record prefix, and the unpickled (not yet materialized) root. */
interface OpenedCheckpoint {
  src: ByteSource;
  zip: ZipReader;
  root: PickleValue;
}

const LEGACY_MESSAGE =
  'is a legacy (pre-1.6, non-zip) PyTorch checkpoint, which balmkit does not read. Re-save it with a newer torch: ' +
  'torch.save(torch.load(path), new_path) writes the zip format (or convert it to safetensors).';

function openCheckpoint(src: ByteSource): OpenedCheckpoint {
  assertLittleEndianHost();
  const name = src.name;
  const head = src.read(0, Math.min(src.size, 512));
  if (!looksLikeZip(head)) {
    // Legacy torch.save: a pickle stream (magic number first) or, before 0.4, a tar archive.
    const isTar = head.length >= 262 && new TextDecoder('latin1').decode(head.subarray(257, 262)) === 'ustar';
    if (head[0] === 0x80 || isTar) throw new Error(`${name} ${LEGACY_MESSAGE}`);
    throw new Error(`${name}: not a PyTorch checkpoint (neither a torch.save zip archive nor a legacy pickle)`);
  }
  const zip = ZipReader.open(src);
  const names = [...zip.entries.keys()];
  const pkl = names.filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkl.length !== 1) {
    if (names.some((n) => /^[^/]+\/(constants\.pkl|code\/)/.test(n))) {
      throw new Error(`${name} is a TorchScript archive (torch.jit.save), not a state dict; save model.state_dict() with torch.save instead`);
    }
    throw new Error(
      pkl.length === 0 ? `${name}: zip archive has no <prefix>/data.pkl, so it is not a torch.save checkpoint` : `${name}: zip archive has ${pkl.length} data.pkl records (${pkl.join(', ')})`,
    );
  }
  const prefix = pkl[0].slice(0, -'data.pkl'.length); // e.g. 'archive/'
  const bo = zip.get(`${prefix}byteorder`);
  if (bo) {
    const order = new TextDecoder().decode(zip.read(bo)).trim();
    if (order === 'big') {
      throw new Error(`${name} was saved on a big-endian machine (byteorder 'big'); balmkit reads little-endian checkpoints only — re-save it on a little-endian machine or convert to safetensors`);
    }
    if (order !== 'little') throw new Error(`${name}: unknown byteorder record '${order}'`);
  }

  const storages = new Map<string, StorageRef>();
  const persistentLoad = (pid: PickleValue): PickleValue => {
    if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') {
      throw new Error(`${name}: unsupported persistent id ${describe(pid)}${Array.isArray(pid) ? ` starting with ${String(pid[0])}` : ''}`);
    }
    const [, cls, key, , count] = pid as readonly PickleValue[];
    if (!(cls instanceof PickleGlobal) || cls.module !== 'torch' || !Object.prototype.hasOwnProperty.call(STORAGE_DTYPES, cls.name)) {
      throw new Error(`${name}: persistent id names a ${describe(cls)}, not a torch storage class`);
    }
    if (typeof key !== 'string') throw new Error(`${name}: storage key is a ${describe(key)}`);
    const dtype = STORAGE_DTYPES[cls.name];
    const size = asInt(count, `storage '${key}' element count`);
    const known = storages.get(key);
    if (known) {
      if (known.dtype !== dtype || known.size !== size) throw new Error(`${name}: storage '${key}' is described twice, differently`);
      return known;
    }
    const entry = zip.get(`${prefix}data/${key}`);
    if (!entry) throw new Error(`${name}: storage '${key}' has no zip entry ${prefix}data/${key}`);
    if (entry.size !== size * bytesPerElement(dtype)) {
      throw new Error(`${name}: storage '${key}' should hold ${size} ${dtype} elements (${size * bytesPerElement(dtype)} bytes), its entry has ${entry.size}`);
    }
    const ref = new StorageRef(key, dtype, size, entry);
    storages.set(key, ref);
    return ref;
  };

  const root = unpickle(zip.read(zip.get(pkl[0]) as ZipEntry), {
    globals: GLOBALS,
    persistentLoad,
    source: `${name} (${pkl[0]})`,
    refusalHint: REFUSAL_HINT,
  });
  return { src, zip, root };
}

/** Typed view of the same bytes with one unsigned word per element, for bit-exact copies. */
function wordView(data: TensorData, bpe: number): Uint8Array | Uint16Array | Uint32Array | BigUint64Array {
  const { buffer, byteOffset, length } = data;
  switch (bpe) {
    case 1:
      return new Uint8Array(buffer, byteOffset, length);
    case 2:
      return new Uint16Array(buffer, byteOffset, length);
    case 4:
      return new Uint32Array(buffer, byteOffset, length);
    default:
      return new BigUint64Array(buffer, byteOffset, length);
  }
}

/** Reads a tensor view into a fresh contiguous {@link HostTensor}, honouring offset and strides. */
function materialize(zip: ZipReader, t: TensorRef): HostTensor {
  const { storage, offset, shape, stride } = t;
  const where = `${zip.source.name}: tensor on storage '${storage.key}'`;
  const dtype = storage.dtype;
  const bpe = bytesPerElement(dtype);
  const n = numel(shape);
  const out = allocTensorData(dtype, n);
  if (n === 0) return hostTensor(dtype, shape, out);
  if (offset < 0 || stride.some((s) => s < 0)) throw new Error(`${where}: negative offset or stride`);
  // Highest element the view touches; it must lie inside the storage.
  let last = offset;
  for (let i = 0; i < shape.length; i++) last += (shape[i] - 1) * stride[i];
  if (!Number.isSafeInteger(last) || last >= storage.size) {
    throw new Error(`${where}: view (offset ${offset}, size [${shape}], stride [${stride}]) reaches element ${last}, past the storage's ${storage.size}`);
  }
  const outBytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);

  // Row-major contiguous (size-1 dims may have any stride): one positioned read.
  let contiguous = true;
  for (let i = shape.length - 1, expect = 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expect) contiguous = false;
    expect *= shape[i];
  }
  if (contiguous) {
    if (offset === 0 && n === storage.size)
      zip.read(storage.entry, outBytes); // whole storage: CRC checked too
    else zip.readRange(storage.entry, offset * bpe, n * bpe, outBytes);
    return hostTensor(dtype, shape, out);
  }

  // Strided: read the span the view covers, then gather element by element (bit-exact words).
  const spanLen = last - offset + 1;
  const span = allocTensorData(dtype, spanLen);
  zip.readRange(storage.entry, offset * bpe, spanLen * bpe, new Uint8Array(span.buffer, span.byteOffset, span.byteLength));
  const src = wordView(span, bpe);
  const dst = wordView(out, bpe);
  const rank = shape.length;
  const inner = shape[rank - 1];
  const innerStride = stride[rank - 1];
  const idx = new Array<number>(rank).fill(0);
  let s = 0; // source element index of the current row start
  for (let o = 0; o < n;) {
    for (let j = 0, p = s; j < inner; j++, p += innerStride) (dst as Uint32Array)[o++] = (src as Uint32Array)[p];
    // Advance the odometer over the outer dimensions.
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]++;
      s += stride[d];
      if (idx[d] < shape[d]) break;
      s -= stride[d] * shape[d];
      idx[d] = 0;
    }
  }
  return hostTensor(dtype, shape, out);
}

/** Node budget for walking an unpickled object (pickles can share subtrees exponentially). */
const WALK_LIMIT = 10_000_000;
/** Nesting limit, so a hostile pickle gets a clear error rather than a JS stack overflow. */
const MAX_DEPTH = 1000;

function checkDepth(depth: number, file: string): void {
  if (depth > MAX_DEPTH) throw new Error(`${file}: checkpoint object is nested more than ${MAX_DEPTH} levels deep`);
}

/** Turns pickle values into checkpoint values, reading tensors (each shared view read once). */
class Materializer {
  private readonly done = new Map<PickleCustom, HostTensor>();
  private readonly path = new Set<object>();
  private visits = 0;
  constructor(private readonly zip: ZipReader) {}

  tensor(t: TensorRef | StorageRef): HostTensor {
    let h = this.done.get(t);
    if (!h) {
      const ref = t instanceof StorageRef ? new TensorRef(t, 0, [t.size], [1]) : t;
      h = materialize(this.zip, ref);
      this.done.set(t, h);
    }
    return h;
  }

  value(v: PickleValue, depth = 0): CheckpointValue {
    checkDepth(depth, this.zip.source.name);
    if (++this.visits > WALK_LIMIT) throw new Error(`${this.zip.source.name}: checkpoint object is too large to walk`);
    if (v instanceof TensorRef || v instanceof StorageRef) return this.tensor(v);
    if (v === null || typeof v !== 'object' || v instanceof Uint8Array || v instanceof PickleGlobal) return v;
    if (v instanceof PickleCustom) throw new Error(`${this.zip.source.name}: unexpected ${describe(v)} in checkpoint`);
    if (this.path.has(v)) throw new Error(`${this.zip.source.name}: checkpoint object contains a cycle`);
    this.path.add(v);
    try {
      if (v instanceof PickleDict) {
        const m = new Map<CheckpointValue, CheckpointValue>();
        for (const [k, x] of v) m.set(this.value(k, depth + 1), this.value(x, depth + 1));
        return m;
      }
      if (v instanceof Set) return new Set([...v].map((x) => this.value(x, depth + 1)));
      return (v as readonly PickleValue[]).map((x) => this.value(x, depth + 1));
    } finally {
      this.path.delete(v);
    }
  }
}

function withCheckpoint<T>(input: string | Uint8Array, body: (ck: OpenedCheckpoint, m: Materializer) => T): T {
  const src = typeof input === 'string' ? openFileSource(input) : memorySource(input);
  try {
    const ck = openCheckpoint(src);
    return body(ck, new Materializer(ck.zip));
  } finally {
    src.close();
  }
}

function keyName(k: PickleValue): string | undefined {
  if (typeof k === 'string') return k;
  if (typeof k === 'number' || typeof k === 'bigint') return String(k);
  return undefined;
}

/** Contents of a checkpoint as {@link readTorchCheckpoint} returns them. */
export interface TorchCheckpoint {
  /**
   * Tensors that are values of the top-level dict, by key; with `flatten`, every tensor in nested
   * dicts and lists too, named by its key path joined with '.' (`model.encoder.weight`,
   * `optimizer.state.0.exp_avg`). Tensors tied in the checkpoint share one HostTensor object.
   */
  tensors: NamedTensors;
  /**
   * Everything else: the top-level object with those tensors taken out of their dicts (in lists
   * they are replaced by `null`), or `null` when nothing is left. Without `flatten`, nested
   * dicts keep their tensors here as HostTensors.
   */
  extra: CheckpointValue;
}

/** Options of {@link readTorchCheckpoint}. */
export interface ReadTorchCheckpointOptions {
  /** Also collect tensors nested in dicts and lists, with '.'-joined names. Default false. */
  flatten?: boolean;
}

/**
 * Reads any `torch.save` checkpoint whose pickle uses only plain data and tensors (for example
 * `{'model': state_dict, 'step': 3}`), without running Python.
 *
 * @param input - path of the file (read by offset, never wholly in memory), or its bytes.
 * @throws `PickleRefusedError` when the pickle names a global outside the allow-list
 * (`collections.OrderedDict`, `_codecs.encode` (latin-1 only: how protocol 2 stores `bytes`),
 * `torch._utils._rebuild_tensor_v2`, `torch._utils._rebuild_parameter`,
 * `torch._utils._rebuild_parameter_with_state`, `torch.{Float,Half,BFloat16,Double,Long,Int,Short,Char,Byte,Bool}Storage`);
 * `Error` for legacy (pre-1.6) or TorchScript files, big-endian checkpoints, compressed or corrupt
 * entries, and views outside their storage.
 */
export function readTorchCheckpoint(input: string | Uint8Array, options: ReadTorchCheckpointOptions = {}): TorchCheckpoint {
  return withCheckpoint(input, ({ root, src }, m) => {
    const tensors: NamedTensors = new Map();
    const add = (name: string, t: HostTensor): void => {
      if (tensors.has(name)) throw new Error(`${src.name}: two tensors flatten to the name '${name}'`);
      tensors.set(name, t);
    };
    // Splits `v` into tensors (added under `prefix`) and what is left; `undefined` = nothing left.
    const split = (v: PickleValue, prefix: string, depth: number): CheckpointValue | undefined => {
      checkDepth(depth, src.name);
      if (v instanceof TensorRef || v instanceof StorageRef) {
        add(prefix, m.tensor(v));
        return undefined;
      }
      if (v instanceof PickleDict && (depth === 0 || options.flatten)) {
        const rest = new Map<CheckpointValue, CheckpointValue>();
        for (const [k, x] of v) {
          const kn = keyName(k);
          if (kn === undefined) {
            rest.set(m.value(k, depth + 1), m.value(x, depth + 1));
            continue;
          }
          const left = split(x, prefix ? `${prefix}.${kn}` : kn, depth + 1);
          if (left !== undefined) rest.set(m.value(k, depth + 1), left);
        }
        return rest.size ? rest : undefined;
      }
      if (Array.isArray(v) && options.flatten) {
        const items = (v as readonly PickleValue[]).map((x, i) => split(x, prefix ? `${prefix}.${i}` : String(i), depth + 1));
        return items.some((x) => x !== undefined) ? items.map((x) => (x === undefined ? null : x)) : undefined;
      }
      return m.value(v, depth);
    };
    // A bare tensor at the top (torch.save(tensor)) has no name: it stays in `extra`.
    const bare = root instanceof TensorRef || root instanceof StorageRef;
    const extra = !bare && (root instanceof PickleDict || options.flatten) ? split(root, '', 0) : m.value(root);
    return { tensors, extra: extra ?? null };
  });
}

/** Options of {@link readTorchStateDict}. */
export interface ReadTorchStateDictOptions {
  /**
   * Top-level key holding the state dict in a training checkpoint (e.g. `'model'` or
   * `'state_dict'`). Without it the top-level object itself must be the state dict.
   */
  key?: string;
}

/**
 * Reads a state dict (`name → tensor`) from a `torch.save` checkpoint, e.g. `pytorch_model.bin`.
 * Nested dicts inside the state dict are flattened with '.'. Only the selected tensors are read
 * from disk; tensors tied in the checkpoint (one tensor under two names) share one HostTensor.
 *
 * @param input - path of the file, or its bytes.
 * @throws when the state dict holds anything but tensors (the message lists the top-level keys
 * and suggests `key`), plus everything {@link readTorchCheckpoint} throws.
 */
export function readTorchStateDict(input: string | Uint8Array, options: ReadTorchStateDictOptions = {}): NamedTensors {
  return withCheckpoint(input, ({ root, src }, m) => {
    const file = src.name;
    const summary = (d: PickleDict): string =>
      [...d]
        .slice(0, 12)
        .map(([k, x]) => `'${String(keyName(k) ?? describe(k))}' (${x instanceof TensorRef ? 'tensor' : describe(x)})`)
        .join(', ');
    let sd: PickleValue = root;
    if (options.key !== undefined) {
      if (!(root instanceof PickleDict)) throw new Error(`${file}: top-level object is a ${describe(root)}, so it has no key '${options.key}'`);
      if (!root.has(options.key)) throw new Error(`${file}: no top-level key '${options.key}'; keys are ${summary(root)}`);
      sd = root.get(options.key) as PickleValue;
    }
    const where = options.key === undefined ? file : `${file} ['${options.key}']`;
    if (!(sd instanceof PickleDict)) throw new Error(`${where}: expected a state dict, found a ${describe(sd)}`);
    const tensors: NamedTensors = new Map();
    const walk = (d: PickleDict, prefix: string, seen: Set<PickleDict>): void => {
      checkDepth(seen.size, file);
      if (seen.has(d)) throw new Error(`${where}: state dict contains a cycle`);
      seen.add(d);
      for (const [k, v] of d) {
        if (typeof k !== 'string') throw new Error(`${where}: state dict key ${describe(k)} is not a string`);
        const name = prefix + k;
        if (v instanceof TensorRef || v instanceof StorageRef) {
          if (tensors.has(name)) throw new Error(`${where}: two tensors flatten to the name '${name}'`);
          tensors.set(name, m.tensor(v));
        } else if (v instanceof PickleDict) {
          walk(v, `${name}.`, seen);
        } else {
          const hint =
            options.key === undefined && d === sd
              ? ` This looks like a training checkpoint; its top-level keys are ${summary(sd)}. Pass the key of the state dict (e.g. { key: 'model' }), or use readTorchCheckpoint.`
              : ' Use readTorchCheckpoint to read checkpoints that mix tensors and other values.';
          throw new Error(`${where}: entry '${name}' is a ${describe(v)}, not a tensor.${hint}`);
        }
      }
      seen.delete(d);
    };
    walk(sd, '', new Set());
    return tensors;
  });
}
