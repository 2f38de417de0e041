import { existsSync, readFileSync, rmSync } from 'node:fs';

import { beforeAll, describe, expect, it } from 'vitest';

import { PickleRefusedError, isHostTensor, readSafetensors, readTorchCheckpoint, readTorchStateDict, toFloat32, type CheckpointValue, type NamedTensors } from '../../src/io/index.js';
import { ZipReader, memorySource } from '../../src/io/zip.js';
import { fixture, makeZip, rng, tensorDiff } from './helpers.js';

interface Manifest {
  checkpoints: { file: string; expected: string; key?: string }[];
  refused: { file: string; global?: string; python3?: string; marker?: string | null; message?: string }[];
}
const manifest = JSON.parse(readFileSync(fixture('manifest.json'), 'utf8')) as Manifest;

function expectBitExact(got: NamedTensors, want: NamedTensors): void {
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [k, t] of want) expect(tensorDiff(got.get(k)!, t), k).toBeUndefined();
}

describe('torch.save checkpoints load bit-exactly', () => {
  it('the manifest covers the required cases', () => {
    const files = manifest.checkpoints.map((c) => c.file);
    for (const f of ['dtypes.pt', 'views.pt', 'module.pt', 'nested.pt', 'params.pt', 'module_proto4.pt']) expect(files).toContain(f);
  });

  it.each(manifest.checkpoints)('$file', ({ file, expected, key }) => {
    const want = readSafetensors(fixture(expected)).tensors;
    const got = readTorchStateDict(fixture(file), key === undefined ? {} : { key });
    expectBitExact(got, want);
    // The same bytes from memory give the same tensors.
    expectBitExact(readTorchStateDict(readFileSync(fixture(file)), key === undefined ? {} : { key }), want);
  });

  it('covers every dtype, kept raw (fp16/bf16 as bits)', () => {
    const t = readTorchStateDict(fixture('dtypes.pt'));
    const dtypes = Object.fromEntries([...t].map(([k, v]) => [k, v.dtype]));
    expect(dtypes).toEqual({
      f32: 'float32',
      f16: 'float16',
      bf16: 'bfloat16',
      f64: 'float64',
      i64: 'int64',
      i32: 'int32',
      i16: 'int16',
      i8: 'int8',
      u8: 'uint8',
      bool: 'bool',
      f16_special: 'float16',
    });
    expect([...(t.get('i64')!.data as BigInt64Array)]).toEqual([0n, -1n, 2n ** 40n, -(2n ** 62n), 7n]);
    const special = toFloat32(t.get('f16_special')!);
    expect([...special.slice(0, 3)]).toEqual([0, -0, 65504]);
    expect(Object.is(special[1], -0)).toBe(true);
    expect(special[4]).toBe(Infinity);
    expect(Number.isNaN(special[6])).toBe(true);
  });

  it('views: strides, offsets, shared storage, 0-d, stride 0, tied tensors', () => {
    const t = readTorchStateDict(fixture('views.pt'));
    expect(t.get('transposed')!.shape).toEqual([6, 4]);
    expect(t.get('scalar')!.shape).toEqual([]);
    expect([...(t.get('scalar')!.data as Float32Array)]).toEqual([3.5]);
    expect([...(t.get('scalar_view')!.data as Float32Array)]).toEqual([7 * 0.25]);
    expect([...(t.get('shared_a')!.data as Float32Array)]).toEqual([2, 3, 4, 5, 6, 7].map((i) => i * 0.25));
    expect([...(t.get('shared_b')!.data as Float32Array)]).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14].map((i) => i * 0.25));
    expect([...(t.get('i64_cols')!.data as BigInt64Array)]).toEqual([0n, 2n, 4n, 6n, 8n, 10n, 12n, 14n, 16n, 18n, 20n, 22n]);
    expect(t.get('empty')!.shape).toEqual([0, 3]);
    expect(t.get('tied_1')).toBe(t.get('tied_2'));
  });

  it('module state dict: _metadata is tolerated, order is kept', () => {
    const t = readTorchStateDict(fixture('module.pt'));
    expect([...t.keys()]).toEqual(['0.weight', '0.bias', '1.weight', '1.bias', '2.weight', '2.bias', '2.running_mean', '2.running_var', '2.num_batches_tracked', '3.weight']);
    expect(t.get('2.num_batches_tracked')).toMatchObject({ dtype: 'int64', shape: [] });
  });
});

describe('nested checkpoints', () => {
  const get = (m: CheckpointValue, k: CheckpointValue): CheckpointValue => {
    if (!(m instanceof Map)) throw new Error('not a map');
    return m.get(k) as CheckpointValue;
  };

  it('readTorchStateDict without a key explains what to pass', () => {
    expect(() => readTorchStateDict(fixture('nested.pt'))).toThrow(/'model' \(OrderedDict\).*\{ key: 'model' \}/s);
    expect(() => readTorchStateDict(fixture('nested.pt'), { key: 'nope' })).toThrow(/no top-level key 'nope'; keys are 'model'/);
    expect(() => readTorchStateDict(fixture('nested.pt'), { key: 'step' })).toThrow(/expected a state dict, found a number/);
  });

  it('readTorchCheckpoint keeps plain values and, with flatten, names nested tensors by path', () => {
    const { tensors, extra } = readTorchCheckpoint(fixture('nested.pt'), { flatten: true });
    expectBitExact(tensors, readSafetensors(fixture('nested.expected.safetensors')).tensors);
    expect(get(extra, 'step')).toBe(3);
    expect(get(extra, 'big')).toBe(2 ** 40);
    expect(get(extra, 'huge')).toBe(2n ** 70n);
    expect(get(extra, 'neg')).toBe(-7);
    expect(get(extra, 'blob')).toEqual(new Uint8Array([0, 1, 255]));
    const config = get(extra, 'config');
    expect(get(config, 'lr')).toBe(0.001);
    expect(get(config, 'name')).toBe('tiny');
    expect(get(config, 'betas')).toEqual([0.9, 0.999]);
    expect(get(config, 'flags')).toEqual([true, false, null]);
    // The optimizer state keeps its non-tensor entries; the tensor moved to `tensors`.
    expect(get(get(get(get(extra, 'optimizer'), 'state'), 0), 'step')).toBe(10);
    expect(get(get(get(get(extra, 'optimizer'), 'state'), 0), 'exp_avg')).toBeUndefined();
    expect(get(extra, 'model')).toBeUndefined();
  });

  it('readTorchCheckpoint without flatten keeps nested state dicts in extra', () => {
    const { tensors, extra } = readTorchCheckpoint(fixture('nested.pt'));
    expect(tensors.size).toBe(0);
    const model = get(extra, 'model');
    expect(model).toBeInstanceOf(Map);
    const w = get(model, '0.weight');
    expect(isHostTensor(w)).toBe(true);
    const want = readSafetensors(fixture('nested.model.expected.safetensors')).tensors.get('0.weight')!;
    expect(tensorDiff(w as never, want)).toBeUndefined();
  });

  it('a flat state dict comes back as top-level tensors with extra null', () => {
    const { tensors, extra } = readTorchCheckpoint(fixture('module.pt'));
    expect(tensors.size).toBe(10);
    expect(extra).toBeNull();
  });
});

describe('refused checkpoints', () => {
  const markers = manifest.refused.map((r) => r.marker).filter((m): m is string => !!m);
  beforeAll(() => {
    for (const m of markers) rmSync(m, { force: true });
  });

  it('the manifest covers the required payloads', () => {
    const globals = manifest.refused.map((r) => r.python3);
    for (const g of ['posix.system', 'builtins.eval', 'subprocess.Popen', 'os.system', '__main__.NotAllowed', 'builtins.getattr']) {
      expect(globals).toContain(g);
    }
    expect(manifest.refused.map((r) => r.file)).toEqual(expect.arrayContaining(['evil_stack_global.pt', 'evil_inst.pt', 'evil_obj.pt', 'evil_ext.pt', 'legacy.pt', 'bigendian.pt']));
  });

  const malicious = manifest.refused.filter((r) => r.global);
  it.each(malicious)('$file is refused naming $global, and nothing runs', ({ file, global, python3, marker }) => {
    for (const read of [() => readTorchStateDict(fixture(file)), () => readTorchCheckpoint(fixture(file), { flatten: true })]) {
      let err: unknown;
      try {
        read();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PickleRefusedError);
      expect((err as PickleRefusedError).global).toBe(global);
      expect((err as Error).message).toContain(`'${global}'`.replace(/^'extension code (\d+)'$/, 'extension code $1'));
      if (python3 !== global) expect((err as Error).message).toContain(`(Python 3: ${python3})`);
      expect((err as Error).message).toContain(fixture(file));
      expect((err as Error).message).toContain('not a plain PyTorch state dict');
    }
    if (marker) expect(existsSync(marker)).toBe(false);
  });

  const broken = manifest.refused.filter((r) => r.message);
  it.each(broken)('$file is refused: $message', ({ file, message }) => {
    expect(() => readTorchStateDict(fixture(file))).toThrow(message);
  });

  it('the legacy format error says how to convert', () => {
    expect(() => readTorchStateDict(fixture('legacy.pt'))).toThrow(/legacy \(pre-1\.6, non-zip\).*Re-save it with a newer torch/);
  });

  it('no marker file exists after all loads', () => {
    for (const m of markers) expect(existsSync(m), m).toBe(false);
  });
});

describe('torch zip container', () => {
  // Re-pack a real checkpoint's entries to exercise the zip reader on other layouts.
  function entriesOf(file: string) {
    const zip = ZipReader.open(memorySource(readFileSync(fixture(file))));
    return [...zip.entries.values()].map((e) => ({ name: e.name, data: zip.read(e) }));
  }

  it('reads ZIP64 archives (torch writes them past 4 GiB)', () => {
    const bytes = makeZip(entriesOf('views.pt'), { zip64: true });
    expectBitExact(readTorchStateDict(bytes), readSafetensors(fixture('views.expected.safetensors')).tensors);
  });

  it('refuses compressed entries clearly', () => {
    const entries = entriesOf('module.pt').map((e) => ({ ...e, deflate: e.name.includes('/data/') }));
    expect(() => readTorchStateDict(makeZip(entries))).toThrow(/is compressed \(method 8\); only STORED entries are read/);
  });

  it('detects a corrupted storage through its CRC', () => {
    const bytes = new Uint8Array(readFileSync(fixture('dtypes.pt')));
    const zip = ZipReader.open(memorySource(bytes));
    const entry = [...zip.entries.values()].find((e) => /\/data\/\d+$/.test(e.name) && e.size === 48)!;
    bytes[zip.dataOffset(entry) + 5] ^= 0x10;
    expect(() => readTorchStateDict(bytes)).toThrow(/is corrupt \(CRC-32/);
  });

  it('refuses TorchScript archives and plain zips', () => {
    const ts = makeZip([
      { name: 'm/constants.pkl', data: new Uint8Array([0x80, 2, 0x29, 0x2e]) },
      { name: 'm/code/__torch__.py', data: new Uint8Array(1) },
    ]);
    expect(() => readTorchStateDict(ts)).toThrow(/TorchScript archive/);
    expect(() => readTorchStateDict(makeZip([{ name: 'a.txt', data: new Uint8Array(3) }]))).toThrow(/has no <prefix>\/data\.pkl/);
    expect(() => readTorchStateDict(new Uint8Array(100))).toThrow(/not a PyTorch checkpoint/);
  });

  it('hostile object graphs: deep nesting and cycles get clear errors', () => {
    const pack = (pkl: string) => makeZip([{ name: 'archive/data.pkl', data: Uint8Array.from(pkl, (c) => c.charCodeAt(0)) }]);
    const deep = pack('\x80\x02}X\x01\x00\x00\x00x' + ']'.repeat(5000) + 'a'.repeat(4999) + 's.');
    expect(() => readTorchCheckpoint(deep)).toThrow(/nested more than 1000 levels deep/);
    expect(() => readTorchCheckpoint(deep, { flatten: true })).toThrow(/nested more than 1000 levels deep/);
    const cycle = pack('\x80\x02}X\x01\x00\x00\x00x]q\x00h\x00as.');
    expect(() => readTorchCheckpoint(cycle)).toThrow(/contains a cycle/);
    const dictCycle = pack('\x80\x02}q\x00X\x01\x00\x00\x00xh\x00s.');
    expect(() => readTorchStateDict(dictCycle)).toThrow(/contains a cycle/);
  });

  it('truncated or bit-flipped checkpoints fail with a clear Error, never a RangeError', () => {
    const good = new Uint8Array(readFileSync(fixture('module.pt')));
    const rand = rng(99);
    let refused = 0;
    for (let trial = 0; trial < 300; trial++) {
      const b = trial % 4 === 0 ? good.slice(0, Math.floor(rand() * good.length)) : good.slice();
      for (let f = 0; f < 2; f++) b[Math.floor(rand() * b.length)] ^= 1 << Math.floor(rand() * 8);
      try {
        readTorchCheckpoint(b, { flatten: true });
      } catch (err) {
        refused++;
        const e = err as Error;
        expect(['Error', 'PickleRefusedError'], e.stack).toContain(e.name);
        expect(e.message.startsWith('<buffer>'), e.message).toBe(true);
      }
    }
    expect(refused).toBeGreaterThan(50);
  });
});
