import os from 'node:os';
import ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ExecutionProviderError,
  OptionError,
  SessionCache,
  createSession,
  float32,
  graphHash,
  int64,
  readTensor,
  resolveEpOption,
  resolveSessionOptions,
  resolveThreads,
  toHostTensor,
  toOrtTensor,
  tryProvider,
} from '../../src/runtime/index.js';
import { affineGraph, affineRef, plusOneGraph } from './graphs.js';

const X = [1, 0, -1, 0.5, 2, -3];

describe('createSession', () => {
  it('computes x @ W + b, int64 and float16 outputs on the CPU', async () => {
    const s = await createSession(affineGraph(), { ep: 'cpu', threads: 1 });
    expect(s.ep).toBe('cpu');
    expect(s.inputNames).toEqual(['x', 'ids']);
    expect(s.outputNames).toEqual(['y', 'ids2', 'h']);
    expect(s.threads).toEqual({ intraOpNumThreads: 1, interOpNumThreads: 1, source: 'option' });

    const out = await s.run({
      x: { dtype: 'float32', dims: [2, 3], data: Float32Array.from(X) },
      ids: int64([3, -7]),
    });
    const y = readTensor(out.y);
    expect(y.dtype).toBe('float32');
    expect(y.dims).toEqual([2, 2]);
    expect(Array.from(y.data as Float32Array)).toEqual(affineRef(X));
    // by hand: row 0: 1·1 + 0·3 − 1·5 + 0.5 = −3.5, 1·2 + 0·4 − 1·6 − 1 = −5;
    //          row 1: 0.5·1 + 2·3 − 3·5 + 0.5 = −8, 0.5·2 + 2·4 − 3·6 − 1 = −10
    expect(Array.from(y.data as Float32Array)).toEqual([-3.5, -5, -8, -10]);
    expect(readTensor(out.ids2).data).toEqual(BigInt64Array.from([6n, -14n]));
    // float16 comes back as raw bits: 1 → 0x3c00, 0 → 0, -1 → 0xbc00, 0.5 → 0x3800, 2 → 0x4000, -3 → 0xc200
    const h = toHostTensor(out.h);
    expect(h.dtype).toBe('float16');
    expect(h.shape).toEqual([2, 3]);
    expect(Array.from(h.data as Uint16Array)).toEqual([0x3c00, 0, 0xbc00, 0x3800, 0x4000, 0xc200]);
    await s.release();
    expect(s.released).toBe(true);
    await expect(s.run({})).rejects.toThrow(/released/);
  });

  it('accepts HostTensor feeds ({dtype, shape, data}) and ORT tensors, and fetches chosen outputs', async () => {
    const s = await createSession(affineGraph(), { ep: 'cpu', threads: 1 });
    const out = await s.run({ x: { dtype: 'float32', shape: [1, 3], data: Float32Array.from([2, 2, 2]) }, ids: new ort.Tensor('int64', BigInt64Array.from([1n]), [1]) }, ['y']);
    expect(Object.keys(out)).toEqual(['y']);
    expect(Array.from(out.y.data as Float32Array)).toEqual(affineRef([2, 2, 2]));
    await s.release();
  });

  it('names missing and unknown inputs, and bad feeds', async () => {
    const s = await createSession(affineGraph(), { ep: 'cpu', threads: 1 });
    await expect(s.run({ x: float32([1, 2, 3], [1, 3]), idz: int64([1]) })).rejects.toThrow(/missing input 'ids'; unknown input 'idz'/);
    await expect(s.run({ x: { dtype: 'float32', dims: [2, 3], data: new Float32Array(5) }, ids: int64([1, 2]) })).rejects.toThrow(/x: 5 values for dims \[2,3\] \(6 expected\)/);
    await expect(s.run({ x: { dtype: 'float32', dims: [1, 3], data: new Float64Array(3) }, ids: int64([1]) })).rejects.toThrow(/x: float32 data must be a Float32Array, got Float64Array/);
    await s.release();
  });

  it('rejects bfloat16 feeds with a way out', () => {
    expect(() => toOrtTensor({ dtype: 'bfloat16', shape: [1], data: new Uint16Array(1) }, 'w')).toThrow(/w: .*no bfloat16.*toFloat32/);
  });

  it('wraps ORT errors for a broken graph', async () => {
    await expect(createSession(Uint8Array.from([1, 2, 3]), { ep: 'cpu' })).rejects.toThrow(/onnxruntime could not create a CPU session/);
  });

  it("ep: 'cuda' gives a CUDA session or an error that names CUDA and ORT's reason", async () => {
    const probe = await tryProvider('cuda');
    if (probe.available) {
      const s = await createSession(plusOneGraph(), { ep: 'cuda' });
      expect(s.ep).toBe('cuda');
      expect((await s.run({ x: float32([2]) })).y.data).toEqual(Float32Array.from([3]));
      await s.release();
      return;
    }
    const err = await createSession(plusOneGraph(), { ep: 'cuda' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExecutionProviderError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/^CUDA execution provider unavailable: /);
    expect(probe.ortMessage).toBeTruthy();
    expect(msg).toContain(probe.ortMessage!);
  });
});

describe('options', () => {
  it('threads default to os.availableParallelism(), BALMKIT_THREADS overrides, the option wins', () => {
    expect(resolveThreads(undefined, {})).toEqual({
      intraOpNumThreads: os.availableParallelism(),
      interOpNumThreads: 1,
      source: 'os.availableParallelism()',
    });
    expect(resolveThreads(undefined, { BALMKIT_THREADS: '3' }).intraOpNumThreads).toBe(3);
    expect(resolveThreads(5, { BALMKIT_THREADS: '3' })).toMatchObject({ intraOpNumThreads: 5, source: 'option' });
  });

  it('invalid values name the option or variable', () => {
    expect(() => resolveThreads(0, {})).toThrow(OptionError);
    expect(() => resolveThreads(1.5, {})).toThrow(/threads must be a whole number of threads ≥ 1, got 1.5/);
    expect(() => resolveThreads(undefined, { BALMKIT_THREADS: 'many' })).toThrow(/BALMKIT_THREADS .* got "many"/);
    expect(() => resolveEpOption(undefined, { BALMKIT_EP: 'gpu' })).toThrow(/BALMKIT_EP must be one of auto, cuda, cpu, got "gpu"/);
    expect(() => resolveEpOption('tpu', {})).toThrow(/^ep must be one of/);
    expect(() => resolveSessionOptions({ deviceId: -1 })).toThrow(/deviceId must be a CUDA device number ≥ 0/);
  });

  it('ep comes from the option, else BALMKIT_EP, else auto', () => {
    expect(resolveEpOption(undefined, {})).toBe('auto');
    expect(resolveEpOption(undefined, { BALMKIT_EP: 'CPU' })).toBe('cpu');
    expect(resolveEpOption('cuda', { BALMKIT_EP: 'cpu' })).toBe('cuda');
  });
});

describe('SessionCache', () => {
  const cache = new SessionCache();
  afterAll(() => cache.clear());

  it('returns the same session for the same bytes, also when asked concurrently', async () => {
    const bytes = plusOneGraph('cached');
    const [a, b, c] = await Promise.all([
      cache.get(bytes, { ep: 'cpu', threads: 1 }),
      cache.get(bytes, { ep: 'cpu', threads: 1 }),
      cache.get(Uint8Array.from(bytes), { ep: 'cpu', threads: 1 }), // same content, other array
    ]);
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(cache.size).toBe(1);
    expect((await a.run({ x: float32([41]) })).y.data).toEqual(Float32Array.from([42]));
  });

  it('keys by content and options', async () => {
    const bytes = plusOneGraph('cached');
    const a = await cache.get(bytes, { ep: 'cpu', threads: 1 });
    const otherThreads = await cache.get(bytes, { ep: 'cpu', threads: 2 });
    const otherGraph = await cache.get(plusOneGraph('cached2'), { ep: 'cpu', threads: 1 });
    expect(otherThreads).not.toBe(a);
    expect(otherGraph).not.toBe(a);
    expect(cache.size).toBe(3);
    expect(await cache.key(bytes, { ep: 'cpu', threads: 1 })).toBe(`${graphHash(bytes)}|cpu|intra=1|inter=1|opt=all`);
  });

  it('replaces a session released by hand, forgets failed creations, and clears', async () => {
    const bytes = plusOneGraph('cached');
    const a = await cache.get(bytes, { ep: 'cpu', threads: 1 });
    await a.release();
    const b = await cache.get(bytes, { ep: 'cpu', threads: 1 });
    expect(b).not.toBe(a);
    expect(b.released).toBe(false);

    const before = cache.size;
    await expect(cache.get(Uint8Array.from([9, 9, 9]), { ep: 'cpu' })).rejects.toThrow(/could not create/);
    expect(cache.size).toBe(before);

    expect(await cache.delete(bytes, { ep: 'cpu', threads: 1 })).toBe(true);
    expect(b.released).toBe(true);
    await cache.clear();
    expect(cache.size).toBe(0);
  });

  it('graphHash is the sha256 of the bytes', () => {
    expect(graphHash(new TextEncoder().encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
