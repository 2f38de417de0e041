/**
 * safetensors reader and writer (https://github.com/huggingface/safetensors): an 8-byte
 * little-endian header length N, N bytes of JSON `{name: {dtype, shape, data_offsets}}` with an
 * optional `__metadata__` of string pairs, then the tensor bytes (little endian, row-major).
 *
 * The reader treats every file as hostile: each header field is checked, the tensors must tile the
 * data area exactly (no overlap, no gap, no trailing bytes), and nothing is read outside the file.
 */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';

import { allocTensorData, assertLittleEndianHost, bytesPerElement, hostTensor, numel, tensorBytes, type HostTensor, type NamedTensors, type TensorDType } from './tensor.js';
import { memorySource, openFileSource, type ByteSource } from './zip.js';

/** safetensors dtype codes balmkit reads and writes, and the matching {@link TensorDType}. */
const ST_TO_DTYPE: Record<string, TensorDType> = {
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  F64: 'float64',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};
const DTYPE_TO_ST = Object.fromEntries(Object.entries(ST_TO_DTYPE).map(([k, v]) => [v, k])) as Record<TensorDType, string>;

/** The upstream library refuses headers over 100 MB; a larger one is certainly not a weight file. */
const MAX_HEADER_BYTES = 100_000_000;

/** Contents of a safetensors file. */
export interface SafetensorsFile {
  /** Tensors in header order. */
  tensors: NamedTensors;
  /** The `__metadata__` string pairs (empty when the file has none). */
  metadata: Record<string, string>;
}

/** One validated header entry. */
export interface SafetensorsEntry {
  name: string;
  dtype: TensorDType;
  shape: number[];
  /** Byte range relative to the start of the data area. */
  begin: number;
  end: number;
}

/** A parsed and validated safetensors header. */
export interface SafetensorsHeader {
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
  /** Absolute file offset of the data area (8 + header length). */
  dataStart: number;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * Reads and validates the header of a safetensors source without reading tensor data.
 * @throws an `Error` naming the file (and tensor) for any malformed or inconsistent field.
 */
export function readSafetensorsHeader(src: ByteSource): SafetensorsHeader {
  const file = src.name;
  if (src.size < 8) throw new Error(`${file}: not a safetensors file (${src.size} bytes, shorter than the 8-byte header length)`);
  const lenBytes = src.read(0, 8);
  const n64 = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(src.size - 8)) {
    throw new Error(`${file}: safetensors header length ${n64} is larger than the file (${src.size} bytes)`);
  }
  const n = Number(n64);
  if (n > MAX_HEADER_BYTES) throw new Error(`${file}: safetensors header of ${n} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(src.read(8, n));
  } catch {
    throw new Error(`${file}: safetensors header is not valid UTF-8`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: safetensors header is not valid JSON (${(err as Error).message})`, { cause: err });
  }
  if (!isPlainObject(json)) throw new Error(`${file}: safetensors header is not a JSON object`);

  const dataStart = 8 + n;
  const dataSize = src.size - dataStart;
  const metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, info] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isPlainObject(info)) throw new Error(`${file}: __metadata__ must be an object of strings`);
      for (const [k, v] of Object.entries(info)) {
        if (typeof v !== 'string') throw new Error(`${file}: __metadata__ value '${k}' is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const where = `${file}: tensor '${name}'`;
    if (!isPlainObject(info)) throw new Error(`${where}: header entry is not an object`);
    const st = info.dtype;
    if (typeof st !== 'string') throw new Error(`${where}: dtype is missing or not a string`);
    if (!Object.prototype.hasOwnProperty.call(ST_TO_DTYPE, st)) {
      throw new Error(`${where}: dtype '${st}' is not supported (supported: ${Object.keys(ST_TO_DTYPE).join(', ')})`);
    }
    const dtype = ST_TO_DTYPE[st];
    const shape = info.shape;
    if (!Array.isArray(shape)) throw new Error(`${where}: shape is missing or not an array`);
    for (const d of shape) {
      if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
        throw new Error(`${where}: shape [${shape.join(', ')}] has a dimension that is not a non-negative integer`);
      }
    }
    let count: number;
    try {
      count = numel(shape as number[]);
    } catch (err) {
      throw new Error(`${where}: ${(err as Error).message}`, { cause: err });
    }
    const offs = info.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o): o is number => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)) {
      throw new Error(`${where}: data_offsets must be two non-negative integers`);
    }
    const [begin, end] = offs;
    if (begin > end) throw new Error(`${where}: data_offsets [${begin}, ${end}] are reversed`);
    if (end > dataSize) {
      throw new Error(`${where}: data_offsets [${begin}, ${end}] run past the end of the data (${dataSize} bytes)`);
    }
    const want = count * bytesPerElement(dtype);
    if (end - begin !== want) {
      throw new Error(`${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes, but ${st} [${shape.join(', ')}] needs ${want}`);
    }
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }

  // The tensors must tile the data area: no overlap (aliasing), no gap, nothing after the last one.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let prev: SafetensorsEntry | undefined;
  for (const e of sorted) {
    if (e.begin < cursor) {
      throw new Error(`${file}: tensor '${e.name}' (bytes ${e.begin}..${e.end}) overlaps tensor '${prev?.name}' (ends at ${cursor})`);
    }
    if (e.begin > cursor) {
      throw new Error(`${file}: tensor '${e.name}' starts at byte ${e.begin}, leaving a gap of ${e.begin - cursor} bytes after ${prev ? `tensor '${prev.name}'` : 'the header'}`);
    }
    cursor = e.end;
    prev = e;
  }
  if (cursor !== dataSize) {
    throw new Error(`${file}: ${dataSize - cursor} bytes after the last tensor are not described by the header`);
  }
  return { entries, metadata, dataStart };
}

function readEntry(src: ByteSource, header: SafetensorsHeader, e: SafetensorsEntry): HostTensor {
  const data = allocTensorData(e.dtype, numel(e.shape));
  // Reading into the typed array's own buffer gives aligned data whatever the file offset was.
  src.read(header.dataStart + e.begin, e.end - e.begin, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  if (e.dtype === 'bool') {
    const b = data as Uint8Array;
    for (let i = 0; i < b.length; i++) {
      if (b[i] > 1) throw new Error(`${src.name}: tensor '${e.name}' is BOOL but element ${i} is ${b[i]}, not 0 or 1`);
    }
  }
  return hostTensor(e.dtype, e.shape, data);
}

/**
 * Reads a safetensors file (by path, read by offset without loading the file whole) or buffer.
 * @param input - a file path, or the file's bytes.
 * @param options.names - read only these tensors (all others are validated but not read).
 * @returns tensors in header order, plus the `__metadata__` pairs.
 * @throws an `Error` naming the file and tensor when the file is malformed (see module docs).
 */
export function readSafetensors(input: string | Uint8Array, options: { names?: readonly string[] } = {}): SafetensorsFile {
  assertLittleEndianHost();
  const src = typeof input === 'string' ? openFileSource(input) : memorySource(input);
  try {
    const header = readSafetensorsHeader(src);
    const wanted = options.names ? new Set(options.names) : undefined;
    if (wanted) {
      const have = new Set(header.entries.map((e) => e.name));
      for (const w of wanted) if (!have.has(w)) throw new Error(`${src.name}: no tensor named '${w}'`);
    }
    const tensors: NamedTensors = new Map();
    for (const e of header.entries) {
      if (!wanted || wanted.has(e.name)) tensors.set(e.name, readEntry(src, header, e));
    }
    return { tensors, metadata: header.metadata };
  } finally {
    src.close();
  }
}

type TensorsInput = NamedTensors | Record<string, HostTensor>;

function entriesOf(tensors: TensorsInput): [string, HostTensor][] {
  return tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
}

/** Header bytes (length prefix + space-padded JSON) and the tensors' bytes, in file order. */
function layout(tensors: TensorsInput, metadata: Record<string, string> | undefined): { head: Uint8Array; blobs: Uint8Array[] } {
  assertLittleEndianHost();
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`safetensors metadata '${k}' must be a string`);
    }
    header.__metadata__ = metadata;
  }
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of entriesOf(tensors)) {
    if (name === '__metadata__') throw new Error(`'__metadata__' is reserved and cannot name a tensor`);
    let checked: HostTensor;
    try {
      checked = hostTensor(t.dtype, t.shape, t.data);
    } catch (err) {
      throw new Error(`tensor '${name}': ${(err as Error).message}`, { cause: err });
    }
    const bytes = tensorBytes(checked);
    header[name] = { dtype: DTYPE_TO_ST[t.dtype], shape: checked.shape, data_offsets: [offset, offset + bytes.length] };
    blobs.push(bytes);
    offset += bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const n = json.length + ((8 - (json.length % 8)) % 8); // pad so the data area starts 8-aligned
  const head = new Uint8Array(8 + n).fill(0x20, 8);
  new DataView(head.buffer).setBigUint64(0, BigInt(n), true);
  head.set(json, 8);
  return { head, blobs };
}

/**
 * Serializes tensors (in iteration order) and optional string metadata to safetensors bytes.
 * @throws when a tensor's data does not match its dtype and shape, or a name is `__metadata__`.
 */
export function serializeSafetensors(tensors: TensorsInput, metadata?: Record<string, string>): Uint8Array {
  const { head, blobs } = layout(tensors, metadata);
  const out = new Uint8Array(head.length + blobs.reduce((s, b) => s + b.length, 0));
  out.set(head, 0);
  let p = head.length;
  for (const b of blobs) {
    out.set(b, p);
    p += b.length;
  }
  return out;
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) {
    done += writeSync(fd, bytes, done, Math.min(bytes.length - done, 1 << 30));
  }
}

/**
 * Writes tensors to a safetensors file atomically: the bytes go to `<path>.tmp-<pid>`, are
 * flushed, and the file is renamed over `path`, so an interrupted run never leaves a half file.
 * Tensors are streamed one by one (no full-file buffer).
 */
export function writeSafetensors(path: string, tensors: TensorsInput, metadata?: Record<string, string>): void {
  const { head, blobs } = layout(tensors, metadata);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeAll(fd, head);
    for (const b of blobs) writeAll(fd, b);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (err) {
    unlinkSync(tmp);
    throw err;
  }
}
