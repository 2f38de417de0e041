/**
 * The disk cache of built models: a miss stores ORT's optimized model, a hit loads it without
 * calling the builder, and a corrupt, truncated or stale entry is detected, said once and rebuilt;
 * a change to a source file's contents makes a new key. Two processes starting together both get
 * their session (the CLI-level check is in test/cli/predict.test.ts).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { type ModelBuild, cachedSession, clearCache, float32, listCache } from '../../src/runtime/index.js';
import { loadModel } from '../../src/llm/index.js';
import { affineGraph, affineRef } from './graphs.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'balmkit-model-cache-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

let n = 0;
/** A fresh cache folder and a weights-like file the build depends on. */
function setup(): { dir: string; file: string } {
  n++;
  const dir = path.join(tmp, `cache${n}`);
  const file = path.join(tmp, `weights${n}.bin`);
  fs.writeFileSync(file, 'weights v1');
  return { dir, file };
}

function affineBuild(file: string, calls: { n: number }): ModelBuild {
  return {
    label: 'affine test graph',
    files: [file],
    params: { graph: 'affine' },
    build: () => {
      calls.n++;
      return affineGraph();
    },
  };
}

async function check(session: Awaited<ReturnType<typeof cachedSession>>['session']): Promise<void> {
  const x = [1, 2, 3, -1, 0.5, 2];
  const out = await session.run({ x: float32(x, [2, 3]), ids: { dtype: 'int64', dims: [1], data: BigInt64Array.of(3n) } });
  expect(Array.from(out.y.data as Float32Array)).toEqual(affineRef(x).map(Math.fround));
  await session.release();
}

function entryFile(dir: string, name: string): string {
  const [e] = listCache(dir);
  return path.join(dir, 'models', e.key, name);
}

function stderrLines(): string[] {
  const lines: string[] = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  return lines;
}

describe('cachedSession', () => {
  it('stores the optimized model on a miss and loads it on a hit without building', async () => {
    const { dir, file } = setup();
    const calls = { n: 0 };
    const a = await cachedSession(affineBuild(file, calls), { ep: 'cpu', cacheDir: dir });
    expect(a.outcome).toBe('miss');
    expect(calls.n).toBe(1);
    await check(a.session);
    expect(listCache(dir)).toHaveLength(1);
    const meta = JSON.parse(fs.readFileSync(entryFile(dir, 'meta.json'), 'utf8')) as { keyFields: { files: { sha256: string }[]; ep: string } };
    expect(meta.keyFields.ep).toBe('cpu');
    expect(meta.keyFields.files[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    const b = await cachedSession(affineBuild(file, calls), { ep: 'cpu', cacheDir: dir });
    expect(b.outcome).toBe('hit');
    expect(b.key).toBe(a.key);
    expect(calls.n).toBe(1);
    await check(b.session);
  });

  it.each([
    [
      'a flipped byte',
      (f: string) => {
        const bytes = fs.readFileSync(f);
        bytes[bytes.length >> 1] ^= 0xff;
        fs.writeFileSync(f, bytes);
      },
      /does not match its sha256/,
    ],
    ['a truncated file', (f: string) => fs.truncateSync(f, Math.floor(fs.statSync(f).size / 2)), /truncated/],
  ])('detects %s by its hash, says so once and rebuilds', async (_what, damage, message) => {
    const { dir, file } = setup();
    const calls = { n: 0 };
    await (await cachedSession(affineBuild(file, calls), { ep: 'cpu', cacheDir: dir })).session.release();
    damage(entryFile(dir, 'model.onnx'));
    const lines = stderrLines();
    const r = await cachedSession(affineBuild(file, calls), { ep: 'cpu', cacheDir: dir });
    vi.restoreAllMocks();
    expect(r.outcome).toBe('rebuilt');
    expect(calls.n).toBe(2);
    expect(lines.join('')).toMatch(message);
    await check(r.session);
    expect((await cachedSession(affineBuild(file, calls), { ep: 'cpu', cacheDir: dir })).outcome).toBe('hit');
  });

  it('detects a stale entry (meta.json from other inputs) and rebuilds it', async () => {
    const { dir, file } = setup();
    const calls = { n: 0 };
    await (await cachedSession(affineBuild(file, calls), { ep: 'cpu', cacheDir: dir })).session.release();
    const metaFile = entryFile(dir, 'meta.json');
    const meta = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as { keyFields: { onnxruntime: string } };
    meta.keyFields.onnxruntime = '0.0.1';
    fs.writeFileSync(metaFile, JSON.stringify(meta));
    const lines = stderrLines();
    const r = await cachedSession(affineBuild(file, calls), { ep: 'cpu', cacheDir: dir });
    vi.restoreAllMocks();
    expect(r.outcome).toBe('rebuilt');
    expect(lines.join('')).toMatch(/stale/);
    await check(r.session);
  });

  it('keys on the contents of the files: new weights, new entry', async () => {
    const { dir, file } = setup();
    const calls = { n: 0 };
    const a = await cachedSession(affineBuild(file, calls), { ep: 'cpu', cacheDir: dir });
    await a.session.release();
    fs.writeFileSync(file, 'weights v2');
    const b = await cachedSession(affineBuild(file, calls), { ep: 'cpu', cacheDir: dir });
    await b.session.release();
    expect(b.outcome).toBe('miss');
    expect(b.key).not.toBe(a.key);
    expect(calls.n).toBe(2);
  });

  it('off: builds every time and writes nothing ({ cache: false } or BALMKIT_NO_CACHE=1)', async () => {
    const { dir, file } = setup();
    const calls = { n: 0 };
    expect((await cachedSession(affineBuild(file, calls), { ep: 'cpu', cacheDir: dir, cache: false })).outcome).toBe('off');
    vi.stubEnv('BALMKIT_NO_CACHE', '1');
    try {
      const r = await cachedSession(affineBuild(file, calls), { ep: 'cpu', cacheDir: dir });
      expect(r.outcome).toBe('off');
      await check(r.session);
    } finally {
      vi.unstubAllEnvs();
    }
    expect(calls.n).toBe(2);
    expect(listCache(dir)).toEqual([]);
  });

  it('clearCache removes every entry', async () => {
    const { dir, file } = setup();
    await (await cachedSession(affineBuild(file, { n: 0 }), { ep: 'cpu', cacheDir: dir })).session.release();
    expect(clearCache(dir).entries).toBe(1);
    expect(listCache(dir)).toEqual([]);
  });

  it('serves the LLMs too: a model folder loaded twice gives one entry and the same logits', async () => {
    const { dir } = setup();
    const folder = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'llm', 'hf', 'llama_tied');
    const logits = async () => {
      const lm = await loadModel(folder, { ep: 'cpu', threads: 1, cacheDir: dir });
      const out = await lm.forward(lm.newState(1), [[1, 14, 13, 19]]);
      await lm.release();
      return Array.from(out.data);
    };
    const first = await logits();
    expect(listCache(dir).map((e) => e.label)).toEqual(['llama llama_tied']);
    expect(await logits()).toEqual(first);
    expect(listCache(dir)).toHaveLength(1);
  });

  it('two processes building the same model at once both succeed, leaving one whole entry', async () => {
    const { dir, file } = setup();
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
    const script = `
      import { cachedSession } from './src/runtime/index.ts';
      import { affineGraph } from './test/runtime/graphs.ts';
      const r = await cachedSession({ label: 'affine test graph', files: [${JSON.stringify(file)}], params: { graph: 'affine' }, build: affineGraph }, { ep: 'cpu', cacheDir: ${JSON.stringify(dir)} });
      const out = await r.session.run({ x: { dtype: 'float32', dims: [1, 3], data: Float32Array.of(1, 2, 3) }, ids: { dtype: 'int64', dims: [1], data: BigInt64Array.of(1n) } });
      console.log(JSON.stringify({ outcome: r.outcome, y: Array.from(out.y.data) }));`;
    const run = () =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString()));
        p.stderr.on('data', (d: Buffer) => (err += d.toString()));
        p.on('close', (code) => resolve({ code, out, err }));
      });
    const results = await Promise.all([run(), run()]);
    for (const r of results) {
      expect(r.code, r.err).toBe(0);
      expect(JSON.parse(r.out).y).toEqual(affineRef([1, 2, 3]).map(Math.fround));
    }
    expect(listCache(dir)).toHaveLength(1);
    expect(fs.readdirSync(path.join(dir, 'models')).filter((f) => f.startsWith('.'))).toEqual([]);
  });
});
