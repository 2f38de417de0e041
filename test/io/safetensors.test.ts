import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { f32ToBf16, f32ToF16, hostTensor, readSafetensors, serializeSafetensors, writeSafetensors, type HostTensor, type NamedTensors } from '../../src/io/index.js';
import { fixture, rng, tensorDiff } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'balmkit-st-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function allDtypes(): NamedTensors {
  return new Map<string, HostTensor>([
    ['f32', hostTensor('float32', [2, 3], new Float32Array([1, -2.5, 3e38, -0, Infinity, NaN]))],
    ['f16', hostTensor('float16', [3], new Uint16Array([0x3c00, 0x7e01, 0x0001]))],
    ['bf16', hostTensor('bfloat16', [1, 2], new Uint16Array([0x3fc0, 0xff81]))],
    ['f64', hostTensor('float64', [2], new Float64Array([Math.PI, -1e-300]))],
    ['i64', hostTensor('int64', [3], new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n]))],
    ['i32', hostTensor('int32', [2], new Int32Array([-(2 ** 31), 2 ** 31 - 1]))],
    ['i16', hostTensor('int16', [2], new Int16Array([-32768, 32767]))],
    ['i8', hostTensor('int8', [3], new Int8Array([-128, 0, 127]))],
    ['u8', hostTensor('uint8', [1, 1, 3], new Uint8Array([0, 128, 255]))],
    ['bool', hostTensor('bool', [4], new Uint8Array([1, 0, 0, 1]))],
    ['scalar', hostTensor('float32', [], new Float32Array([7]))],
    ['empty', hostTensor('int32', [0, 5], new Int32Array(0))],
  ]);
}

function expectSame(a: NamedTensors, b: NamedTensors): void {
  expect([...a.keys()]).toEqual([...b.keys()]);
  for (const [k, t] of a) expect(tensorDiff(t, b.get(k)!), k).toBeUndefined();
}

describe('safetensors round trip', () => {
  it('serializes and reads back every dtype bit for bit, with metadata', () => {
    const tensors = allDtypes();
    const bytes = serializeSafetensors(tensors, { format: 'pt', note: 'héllo' });
    // Data area starts 8-aligned.
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const back = readSafetensors(bytes);
    expectSame(tensors, back.tensors);
    expect(back.metadata).toEqual({ format: 'pt', note: 'héllo' });
  });

  it('writes atomically to a file and reads it back by path', () => {
    const p = join(tmp, 'all.safetensors');
    writeSafetensors(p, allDtypes());
    expect(readdirSync(tmp).filter((f) => f.includes('.tmp-'))).toEqual([]);
    const back = readSafetensors(p);
    expectSame(allDtypes(), back.tensors);
    expect(back.metadata).toEqual({});
    // Overwriting replaces the file whole.
    writeSafetensors(p, new Map([['x', hostTensor('int8', [1], new Int8Array([5]))]]));
    expect([...readSafetensors(p).tensors.keys()]).toEqual(['x']);
    const sub = readSafetensors(serializeSafetensors(allDtypes()), { names: ['i64'] });
    expect([...sub.tensors.keys()]).toEqual(['i64']);
  });

  it('refuses to write inconsistent tensors', () => {
    const bad = new Map<string, HostTensor>([['x', { dtype: 'float32', shape: [3], data: new Float32Array(2) }]]);
    expect(() => serializeSafetensors(bad)).toThrow(/tensor 'x': .*needs 3 elements/);
    const reserved = new Map([['__metadata__', hostTensor('int8', [1], new Int8Array(1))]]);
    expect(() => serializeSafetensors(reserved)).toThrow(/reserved/);
  });

  it('reads tensors at unaligned offsets and from unaligned buffers', () => {
    const tensors = new Map<string, HostTensor>([
      ['a', hostTensor('uint8', [3], new Uint8Array([1, 2, 3]))],
      ['b', hostTensor('float32', [2], new Float32Array([1.25, -7]))],
      ['c', hostTensor('int64', [1], new BigInt64Array([-5n]))],
    ]);
    const bytes = serializeSafetensors(tensors); // b starts 3 bytes into the data area
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const back = readSafetensors(shifted.subarray(1));
    expectSame(tensors, back.tensors);
    expect(back.tensors.get('b')!.data.byteOffset % 4).toBe(0);
  });
});

describe('safetensors written by Python', () => {
  it('reads known.safetensors (values recomputed here from the same formulas)', () => {
    const { tensors, metadata } = readSafetensors(fixture('known.safetensors'));
    expect(metadata).toEqual({ format: 'pt', source: 'make_torch_fixtures.py' });
    const idx = Array.from({ length: 12 }, (_, i) => i);
    const want: Record<string, HostTensor> = {
      f32: hostTensor(
        'float32',
        [3, 4],
        Float32Array.from(idx, (i) => i * 0.5 - 3),
      ),
      f64: hostTensor(
        'float64',
        [2, 6],
        Float64Array.from(idx, (i) => i / 3),
      ),
      f16: hostTensor(
        'float16',
        [12],
        Uint16Array.from(idx, (i) => f32ToF16(i * 0.25 - 1)),
      ),
      bf16: hostTensor(
        'bfloat16',
        [2, 2, 3],
        Uint16Array.from(idx, (i) => f32ToBf16(i * 2 - 5)),
      ),
      i64: hostTensor(
        'int64',
        [12],
        BigInt64Array.from(idx, (i) => BigInt(i - 6) * 2n ** 40n),
      ),
      i32: hostTensor(
        'int32',
        [12],
        Int32Array.from(idx, (i) => (i - 6) * 1000),
      ),
      i16: hostTensor(
        'int16',
        [12],
        Int16Array.from(idx, (i) => (i - 6) * 100),
      ),
      i8: hostTensor(
        'int8',
        [12],
        Int8Array.from(idx, (i) => i - 6),
      ),
      u8: hostTensor(
        'uint8',
        [12],
        Uint8Array.from(idx, (i) => (i * 20) & 0xff),
      ),
      bool: hostTensor(
        'bool',
        [12],
        Uint8Array.from(idx, (i) => (i % 3 === 0 ? 1 : 0)),
      ),
      scalar: hostTensor('float32', [], new Float32Array([2.5])),
      empty: hostTensor('float32', [0, 4], new Float32Array(0)),
    };
    expect(new Set(tensors.keys())).toEqual(new Set(Object.keys(want)));
    for (const [k, t] of Object.entries(want)) expect(tensorDiff(tensors.get(k)!, t), k).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------
// Hostile files

function craft(header: unknown, dataLen: number, opts: { headerLen?: bigint; raw?: Uint8Array; data?: Uint8Array } = {}): Uint8Array {
  const json = opts.raw ?? new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataLen);
  new DataView(out.buffer).setBigUint64(0, opts.headerLen ?? BigInt(json.length), true);
  out.set(json, 8);
  if (opts.data) out.set(opts.data, 8 + json.length);
  return out;
}

const f32 = (shape: number[], begin: number, end: number) => ({ dtype: 'F32', shape, data_offsets: [begin, end] });

const hostile: [string, Uint8Array, RegExp][] = [
  ['shorter than 8 bytes', new Uint8Array([1, 2, 3, 4]), /shorter than the 8-byte header length/],
  ['header length past the file', craft({}, 0, { headerLen: 1000n }), /header length 1000 is larger than the file/],
  ['header length 2^63', craft({}, 0, { headerLen: 2n ** 63n }), /header length 9223372036854775808 is larger/],
  ['header not JSON', craft('{"a": [1, 2', 0), /header is not valid JSON/],
  ['header not UTF-8', craft(null, 0, { raw: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]) }), /not valid UTF-8/],
  ['header a JSON array', craft([1, 2], 0), /not a JSON object/],
  ['entry not an object', craft({ w: 3 }, 0), /tensor 'w': header entry is not an object/],
  ['unknown dtype', craft({ w: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, 1), /tensor 'w': dtype 'F8_E4M3' is not supported/],
  ['missing dtype', craft({ w: { shape: [1], data_offsets: [0, 4] } }, 4), /tensor 'w': dtype is missing/],
  ['negative dimension', craft({ w: f32([-1, 2], 0, 8) }, 8), /tensor 'w': shape \[-1, 2\] has a dimension that is not a non-negative integer/],
  ['non-integer dimension', craft({ w: f32([1.5], 0, 4) }, 4), /tensor 'w': shape .* not a non-negative integer/],
  ['string dimension', craft({ w: f32(['2' as unknown as number], 0, 8) }, 8), /tensor 'w': shape/],
  ['offsets past the data', craft({ w: f32([4], 0, 16) }, 8), /tensor 'w': data_offsets \[0, 16\] run past the end of the data \(8 bytes\)/],
  ['offsets not matching dtype x shape', craft({ w: f32([3], 0, 8) }, 8), /tensor 'w': data_offsets \[0, 8\] span 8 bytes, but F32 \[3\] needs 12/],
  ['negative offset', craft({ w: f32([1], -4, 0) }, 4), /tensor 'w': data_offsets must be two non-negative integers/],
  ['reversed offsets', craft({ w: f32([1], 4, 0) }, 4), /tensor 'w': data_offsets \[4, 0\] are reversed/],
  ['three offsets', craft({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4, 8] } }, 4), /data_offsets must be two/],
  ['overlapping tensors', craft({ a: f32([2], 0, 8), b: f32([2], 4, 12) }, 12), /tensor 'b' \(bytes 4..12\) overlaps tensor 'a'/],
  ['aliased tensors', craft({ a: f32([2], 0, 8), b: f32([2], 0, 8) }, 8), /overlaps tensor 'a'/],
  ['gap between tensors', craft({ a: f32([1], 0, 4), b: f32([1], 8, 12) }, 12), /tensor 'b' starts at byte 8, leaving a gap of 4 bytes after tensor 'a'/],
  ['gap at the start', craft({ a: f32([1], 4, 8) }, 8), /gap of 4 bytes after the header/],
  ['trailing bytes', craft({ a: f32([1], 0, 4) }, 12), /8 bytes after the last tensor are not described/],
  ['numel overflow', craft({ w: f32([2 ** 40, 2 ** 40], 0, 4) }, 4), /tensor 'w': .*more than 2\^53/],
  ['metadata not strings', craft({ __metadata__: { a: 1 } }, 0), /__metadata__ value 'a' is not a string/],
  ['metadata not an object', craft({ __metadata__: [] }, 0), /__metadata__ must be an object/],
  ['bool not 0/1', craft({ b: { dtype: 'BOOL', shape: [2], data_offsets: [0, 2] } }, 2, { data: new Uint8Array([1, 2]) }), /tensor 'b' is BOOL but element 1 is 2/],
];

describe('safetensors reader refuses hostile files', () => {
  it.each(hostile)('%s', (_name, bytes, message) => {
    expect(() => readSafetensors(bytes)).toThrow(message);
  });

  it('names the file in errors', () => {
    const p = join(tmp, 'hostile.safetensors');
    writeFileSync(p, hostile[12][1]);
    expect(() => readSafetensors(p)).toThrow(`${p}: tensor 'w': data_offsets`);
  });

  it('survives random corruption with a clear Error, never a RangeError or TypeError', () => {
    const good = serializeSafetensors(allDtypes(), { k: 'v' });
    const rand = rng(1234);
    let refused = 0;
    for (let trial = 0; trial < 400; trial++) {
      const b = good.slice(0, trial % 5 === 0 ? Math.floor(rand() * good.length) : good.length);
      const flips = 1 + Math.floor(rand() * 3);
      for (let f = 0; f < flips && b.length; f++) b[Math.floor(rand() * Math.min(b.length, 400))] ^= 1 << Math.floor(rand() * 8);
      try {
        readSafetensors(b);
      } catch (err) {
        refused++;
        expect((err as Error).constructor).toBe(Error);
        expect((err as Error).message).toMatch(/^<buffer>/);
      }
    }
    expect(refused).toBeGreaterThan(100);
  });
});
