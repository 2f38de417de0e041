/**
 * Sparse-attention evaluation on the fixture BALM: the numbers must move the right way at the
 * ends of the dials (k = all keys reproduces full attention; d = the whole head dimension makes
 * Loki select exactly what exact top-k selects), and be sane in between.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { NumberedChain } from '../../src/balm/index.js';
import { collectBalmKeys, evaluateBalmAttention, fitBases, maskedPositions, saveBases } from '../../src/sparse/index.js';

const MODEL = fileURLToPath(new URL('../fixtures/balm/official-bin', import.meta.url));
const chains = (JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/balm/chains.json', import.meta.url)), 'utf8')) as { sequence: string; numbering: [number, string][] }[]).map(
  (c): NumberedChain => ({ sequence: c.sequence, numbering: c.numbering.map(([number, insertion]) => ({ number, insertion })) }),
);
const tmp = mkdtempSync(join(tmpdir(), 'balmkit-sparse-eval-'));
const bases = join(tmp, 'bases.safetensors');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('evaluateBalmAttention', () => {
  beforeAll(async () => {
    const stats = await collectBalmKeys(MODEL, chains, { ep: 'cpu' });
    saveBases(bases, fitBases(stats), { model: 'fixture', stage: 'post-rotary', data: 'fixture chains' }, stats.count);
  });

  test('the masking protocol is deterministic and masks 15%', () => {
    expect(maskedPositions(120, 3)).toEqual(maskedPositions(120, 3));
    expect(maskedPositions(120, 3)).toHaveLength(18);
    expect(maskedPositions(120, 4)).not.toEqual(maskedPositions(120, 3));
  });

  test('exact top-k over all keys is full attention', async () => {
    const r = await evaluateBalmAttention(MODEL, chains, { attention: 'exact-topk', dFraction: 1, kFraction: 1, ep: 'cpu' });
    expect(Math.abs(r.perplexity.variant / r.perplexity.full - 1)).toBeLessThan(1e-4);
    for (const e of r.attentionError) expect(e).toBeLessThan(1e-5);
  });

  test('Loki with the whole head dimension selects what exact top-k selects', async () => {
    const r = await evaluateBalmAttention(MODEL, chains, { attention: 'loki', dFraction: 1, kFraction: 0.25, bases, ep: 'cpu' });
    const t = await evaluateBalmAttention(MODEL, chains, { attention: 'exact-topk', dFraction: 1, kFraction: 0.25, ep: 'cpu' });
    expect(r.recall).toBeCloseTo(1, 6);
    r.attentionError.forEach((e, l) => expect(e).toBeCloseTo(t.attentionError[l], 4));
    expect(Math.abs(r.perplexity.variant / t.perplexity.variant - 1)).toBeLessThan(1e-5);
  });

  test('Loki at d = 0.25: recall below 1, error above exact top-k at the same k', async () => {
    const r = await evaluateBalmAttention(MODEL, chains, { attention: 'loki', dFraction: 0.25, kFraction: 0.25, bases, ep: 'cpu' });
    const t = await evaluateBalmAttention(MODEL, chains, { attention: 'exact-topk', dFraction: 1, kFraction: 0.25, ep: 'cpu' });
    expect(r.recall!).toBeGreaterThan(0.1);
    expect(r.recall!).toBeLessThan(1);
    expect(r.attentionError[0]).toBeGreaterThan(t.attentionError[0]);
    expect(Number.isFinite(r.perplexity.variant)).toBe(true);
  });
});
