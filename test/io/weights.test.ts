import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { detectWeightFormat, hostTensor, readSafetensors, readWeights, writeSafetensors } from '../../src/io/index.js';
import { fixture, tensorDiff } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'balmkit-weights-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const expected = () => readSafetensors(fixture('module.expected.safetensors')).tensors;

function expectModule(got: Map<string, unknown>): void {
  const want = expected();
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [k, t] of want) expect(tensorDiff(got.get(k) as never, t), k).toBeUndefined();
}

describe('readWeights', () => {
  it('dispatches on content, not on the file name', () => {
    const pt = join(tmp, 'weights.safetensors'); // a torch file with a misleading name
    copyFileSync(fixture('module.pt'), pt);
    expect(detectWeightFormat(pt)).toBe('torch');
    expectModule(readWeights(pt));
    const st = join(tmp, 'weights.bin');
    copyFileSync(fixture('module.expected.safetensors'), st);
    expect(detectWeightFormat(st)).toBe('safetensors');
    expectModule(readWeights(st));
  });

  it('a safetensors file whose header length starts with byte 0x80 is not mistaken for a legacy pickle', () => {
    const path = join(tmp, 'header-0x80.safetensors');
    const t = hostTensor('float32', [2], new Float32Array([1, 2]));
    let pad = '';
    for (;;) {
      writeSafetensors(path, { w: t }, { pad });
      const first = readFileSync(path)[0];
      if (first === 0x80) break;
      pad += 'x';
      expect(pad.length).toBeLessThan(512);
    }
    expect(detectWeightFormat(path)).toBe('safetensors');
    expect(Array.from(readWeights(path).get('w')!.data as Float32Array)).toEqual([1, 2]);
  });

  it('reads a training checkpoint with a key', () => {
    const got = readWeights(fixture('nested.pt'), { key: 'model' });
    expect(got.size).toBe(10);
    expect(() => readWeights(fixture('module.expected.safetensors'), { key: 'model' })).toThrow(/drop the key/);
  });

  it('reads Hugging Face folders: model.safetensors preferred over pytorch_model.bin', () => {
    const bin = join(tmp, 'hf-bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'config.json'), '{}');
    copyFileSync(fixture('module.pt'), join(bin, 'pytorch_model.bin'));
    expectModule(readWeights(bin));

    const both = join(tmp, 'hf-both');
    mkdirSync(both);
    copyFileSync(fixture('dtypes.pt'), join(both, 'pytorch_model.bin'));
    copyFileSync(fixture('module.expected.safetensors'), join(both, 'model.safetensors'));
    expectModule(readWeights(both));
  });

  it('reads sharded folders through model.safetensors.index.json', () => {
    const dir = join(tmp, 'hf-sharded');
    mkdirSync(dir);
    const all = expected();
    const names = [...all.keys()];
    const half = Math.ceil(names.length / 2);
    const shards = [names.slice(0, half), names.slice(half)];
    const weightMap: Record<string, string> = {};
    shards.forEach((ns, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      writeSafetensors(join(dir, file), new Map(ns.map((n) => [n, all.get(n)!])));
      for (const n of ns) weightMap[n] = file;
    });
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    expectModule(readWeights(dir));

    weightMap['extra.weight'] = 'model-00001-of-00002.safetensors';
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: weightMap }));
    expect(() => readWeights(dir)).toThrow(/tensor 'extra.weight' is mapped to model-00001-of-00002.safetensors, which does not contain it/);
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: '../x.safetensors' } }));
    expect(() => readWeights(dir)).toThrow(/invalid shard/);
  });

  it('explains what is wrong with anything else', () => {
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    writeFileSync(join(empty, 'README.md'), 'hi');
    expect(() => readWeights(empty)).toThrow(/folder has no model weights .*found: README.md/);
    const junk = join(tmp, 'junk.bin');
    writeFileSync(junk, 'GGUF not really a model');
    expect(() => readWeights(junk)).toThrow(/not a recognised weight file/);
    expect(() => readWeights(fixture('legacy.pt'))).toThrow(/legacy \(pre-1\.6/);
    expect(() => readWeights(fixture('evil_os_system.pt'))).toThrow(/posix\.system/);
    const tiny = join(tmp, 'tiny.safetensors');
    writeSafetensors(tiny, new Map([['x', hostTensor('int8', [1], new Int8Array([1]))]]));
    expect(readWeights(tiny).get('x')!.data).toEqual(new Int8Array([1]));
  });
});
