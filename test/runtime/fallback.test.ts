/**
 * `ep: 'auto'`: CUDA when it loads, else the CPU with exactly one stderr line per process.
 * Its own file, so the process-wide "already warned" state starts fresh (vitest isolates files).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ProviderResolver, SessionCache, createSession, defaultProviders, float32, tryProvider } from '../../src/runtime/index.js';
import { plusOneGraph } from './graphs.js';

const LINE = /^balmkit: running on CPU \((.+); `balmkit doctor` explains\)\n$/;
const DEBUG_LINE = /^balmkit: CUDA execution provider unavailable \((.+)\); running on CPU$/;

afterEach(() => {
  vi.restoreAllMocks();
});

describe("ep: 'auto'", () => {
  it('falls back to the CPU and says so exactly once on stderr across several sessions', async () => {
    const writes: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk));
      return true;
    });
    const cache = new SessionCache();
    const sessions = await Promise.all([createSession(plusOneGraph('a'), { ep: 'auto' }), createSession(plusOneGraph('b'), { ep: 'auto' }), cache.get(plusOneGraph('c'), { ep: 'auto' })]);
    sessions.push(await createSession(plusOneGraph('d'), { ep: 'auto' }));
    sessions.push(await createSession(plusOneGraph('e'))); // BALMKIT_EP unset: auto
    vi.restoreAllMocks();

    const cuda = await defaultProviders.probe('cuda');
    const warnings = writes.filter((w) => w.includes('running on CPU'));
    if (cuda.available) {
      expect(sessions.every((s) => s.ep === 'cuda')).toBe(true);
      expect(warnings).toEqual([]);
    } else {
      expect(sessions.every((s) => s.ep === 'cpu')).toBe(true);
      expect(warnings).toHaveLength(1);
      expect(writes).toHaveLength(1); // nothing else went to stderr through Node
      // One short line: the cause in a few words; ORT's long message stays in `balmkit doctor`.
      const m = LINE.exec(warnings[0]);
      expect(m, warnings[0]).not.toBeNull();
      expect(m![1]).toBe(cuda.summary);
      expect(warnings[0].length).toBeLessThan(100);
      expect(warnings[0]).not.toContain(cuda.ortMessage!);
      expect(defaultProviders.hasWarned).toBe(true);
    }
    for (const s of sessions) expect((await s.run({ x: float32([1]) })).y.data).toEqual(Float32Array.from([2]));
    await Promise.all(sessions.map((s) => s.release()));
    await cache.clear();
  });

  it('probes CUDA once per resolver and warns through an injected sink once', async () => {
    const lines: string[] = [];
    const resolver = new ProviderResolver((l) => lines.push(l));
    const probe = vi.spyOn(resolver, 'probe');
    const chosen = await Promise.all([resolver.choose('auto'), resolver.choose('auto'), resolver.choose('auto')]);
    const first = await probe.mock.results[0].value;
    expect(await probe.mock.results[1].value).toBe(first); // the same cached probe object
    expect(chosen).toEqual(Array(3).fill(first.available ? 'cuda' : 'cpu'));
    expect(lines).toHaveLength(first.available ? 0 : 1);
    expect(await resolver.choose('cpu')).toBe('cpu');
  });

  it("a session's warn option receives the line (still once per resolver)", async () => {
    const lines: string[] = [];
    const resolver = new ProviderResolver(() => {
      throw new Error('default sink must not be used');
    });
    const s1 = await createSession(plusOneGraph(), { ep: 'auto', providers: resolver, warn: (l) => lines.push(l) });
    const s2 = await createSession(plusOneGraph(), { ep: 'auto', providers: resolver, warn: (l) => lines.push(l) });
    expect(lines).toHaveLength(s1.ep === 'cpu' ? 1 : 0);
    expect(s2.ep).toBe(s1.ep);
    await s1.release();
    await s2.release();
  });

  it('the CPU probe works and a failed CUDA probe carries a reason', async () => {
    const cpu = await tryProvider('cpu');
    expect(cpu).toMatchObject({ provider: 'cpu', available: true });
    const cuda = await tryProvider('cuda', { deviceId: 0 });
    expect(cuda.provider).toBe('cuda');
    expect(cuda.deviceId).toBe(0);
    if (!cuda.available) {
      expect(cuda.reason).toBeTruthy();
      expect(cuda.ortMessage).toMatch(/cuda/i);
    }
  });

  it('BALMKIT_DEBUG=1 gives the whole reason on the one line', async () => {
    const lines: string[] = [];
    const resolver = new ProviderResolver((l) => lines.push(l));
    vi.stubEnv('BALMKIT_DEBUG', '1');
    try {
      const chosen = await resolver.choose('auto');
      const cuda = await resolver.probe('cuda');
      if (chosen === 'cpu') {
        expect(lines).toHaveLength(1);
        expect(DEBUG_LINE.exec(lines[0])?.[1]).toBe(cuda.reason);
      }
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
