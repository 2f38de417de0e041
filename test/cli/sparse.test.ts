/**
 * `balmkit sparse calibrate` and `balmkit sparse rank` on the official-format fixture BALM: the
 * bases file holds orthonormal per-layer bases with the calibration description, and the rank
 * table/plot cover every layer, pre- and post-rotary.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readSafetensors } from '../../src/io/safetensors.js';
import { requireGates, sharedData } from '../shared-data.js';
import { ROOT, balmkit, ensureBuilt } from './helpers.js';

const MODEL = join(ROOT, 'test', 'fixtures', 'balm', 'official-bin');
const data = sharedData('balmkit sparse CLI tests', 'antibody-sequences/pdb-antibody-chains.fasta.gz');
const tmp = mkdtempSync(join(tmpdir(), 'balmkit-cli-sparse-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('sparse', () => {
  requireGates(data);
  const fasta = join(tmp, 'cal.fasta');
  beforeAll(() => {
    if (!data.present()) return;
    ensureBuilt();
    const text = gunzipSync(readFileSync(data.path())).toString('utf8');
    writeFileSync(
      fasta,
      text
        .split('>')
        .slice(1, 41)
        .map((r) => `>${r}`)
        .join(''),
    );
  });

  test('calibrate writes orthonormal bases with their provenance', () => {
    const out = join(tmp, 'bases.safetensors');
    const r = balmkit(['sparse', 'calibrate', '--model', MODEL, '--data', fasta, '-o', out, '--ep', 'cpu']);
    expect(r.code, r.stderr).toBe(0);
    const f = readSafetensors(out);
    expect(f.metadata.stage).toBe('post-rotary');
    expect(f.metadata.data).toMatch(/cal\.fasta: \d+ chains/);
    expect(Number(f.metadata.tokens)).toBeGreaterThan(1000);
    for (const layer of [0, 1]) {
      const b = f.tensors.get(`layers.${layer}.basis`)!;
      expect(b.shape).toEqual([4, 8, 8]);
      const x = b.data as Float32Array;
      for (let h = 0; h < 4; h++)
        for (let i = 0; i < 8; i++) {
          let dot = 0;
          for (let k = 0; k < 8; k++) dot += x[h * 64 + k * 8 + i] ** 2;
          expect(dot).toBeCloseTo(1, 4);
        }
    }
  });

  test('rank prints a row per layer for both stages and plots them', () => {
    const svg = join(tmp, 'rank.svg');
    const r = balmkit(['sparse', 'rank', '--model', MODEL, '--data', fasta, '--svg', svg, '--json', '--ep', 'cpu']);
    expect(r.code, r.stderr).toBe(0);
    const t = JSON.parse(r.stdout) as { ranks: Record<string, number[][]>; headDim: number };
    expect(Object.keys(t.ranks).sort()).toEqual(['post-rotary', 'pre-rotary']);
    for (const rows of Object.values(t.ranks)) {
      expect(rows).toHaveLength(2);
      for (const heads of rows) for (const k of heads) expect(k >= 1 && k <= t.headDim).toBe(true);
    }
    const plot = readFileSync(svg, 'utf8');
    expect(plot.match(/<polyline/g)).toHaveLength(2);
  });

  test('eval reports perplexity beside full attention, recall and per-layer error', () => {
    const bases = join(tmp, 'bases.safetensors');
    const r = balmkit(['sparse', 'eval', '--model', MODEL, '--data', fasta, '--attention', 'loki', '--bases', bases, '--d', '0.5', '--k', '0.25', '--json', '--ep', 'cpu']);
    expect(r.code, r.stderr).toBe(0);
    const e = JSON.parse(r.stdout) as { perplexity: { full: number; variant: number }; recall: number; attentionError: number[] };
    expect(e.recall).toBeGreaterThan(0);
    expect(e.recall).toBeLessThanOrEqual(1);
    expect(e.attentionError).toHaveLength(2);
    expect(e.perplexity.full).toBeGreaterThan(1);
    const missing = balmkit(['sparse', 'eval', '--model', MODEL, '--data', fasta, '--attention', 'loki']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--bases/);
  });

  test('a model folder without config.json is refused with the reason', () => {
    const r = balmkit(['sparse', 'rank', '--model', tmp, '--data', fasta]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no config\.json/);
  });
});

const lm = sharedData('balmkit sparse CLI on the llama2.c model', 'lm/aidreams260K.bin', 'lm/tok512.bin', 'instructions/alpaca-5pct-sample.json');

describe('sparse on a causal LM (aidreams260K, llama2.c)', () => {
  requireGates(lm);
  const texts = join(tmp, 'texts.json');
  const bases = join(tmp, 'lm-bases.safetensors');
  beforeAll(() => {
    if (!lm.present()) return;
    ensureBuilt();
    const records = JSON.parse(readFileSync(lm.paths[2], 'utf8')) as unknown[];
    writeFileSync(texts, JSON.stringify(records.slice(0, 20)));
  });

  test('calibrate, rank and eval on texts', () => {
    const [model, tok] = lm.paths as [string, string];
    const c = balmkit(['sparse', 'calibrate', '--model', model, '--tokenizer', tok, '--data', texts, '-o', bases, '--ep', 'cpu']);
    expect(c.code, c.stderr).toBe(0);
    expect(readSafetensors(bases).tensors.get('layers.3.basis')!.shape).toEqual([4, 16, 16]);

    const r = balmkit(['sparse', 'rank', '--model', model, '--tokenizer', tok, '--data', texts, '--json', '--ep', 'cpu']);
    expect(r.code, r.stderr).toBe(0);
    const t = JSON.parse(r.stdout) as { ranks: Record<string, number[][]> };
    expect(t.ranks['post-rotary']).toHaveLength(4);

    const full = balmkit(['sparse', 'eval', '--model', model, '--tokenizer', tok, '--data', texts, '--attention', 'exact-topk', '--k', '1', '--json', '--ep', 'cpu']);
    expect(full.code, full.stderr).toBe(0);
    const f = JSON.parse(full.stdout) as { perplexity: { full: number; variant: number } };
    expect(Math.abs(f.perplexity.variant / f.perplexity.full - 1)).toBeLessThan(1e-4);

    const e = balmkit(['sparse', 'eval', '--model', model, '--tokenizer', tok, '--data', texts, '--attention', 'loki', '--bases', bases, '--d', '0.25', '--k', '0.25', '--json', '--ep', 'cpu']);
    expect(e.code, e.stderr).toBe(0);
    const x = JSON.parse(e.stdout) as { recall: number; attentionError: number[] };
    expect(x.recall).toBeGreaterThan(0.2);
    expect(x.recall).toBeLessThan(1);
    expect(x.attentionError).toHaveLength(4);
  });

  test('h2o and streaming with a budget of the whole context decode to full attention', () => {
    const [model, tok] = lm.paths as [string, string];
    for (const policy of ['h2o', 'streaming']) {
      const r = balmkit(['sparse', 'eval', '--model', model, '--tokenizer', tok, '--data', texts, '--attention', policy, '--k', '1', '--max-records', '3', '--json', '--ep', 'cpu']);
      expect(r.code, r.stderr).toBe(0);
      const e = JSON.parse(r.stdout) as { perplexity: { full: number; variant: number } };
      expect(Math.abs(e.perplexity.variant / e.perplexity.full - 1), policy).toBeLessThan(1e-4);
    }
    const small = balmkit(['sparse', 'eval', '--model', model, '--tokenizer', tok, '--data', texts, '--attention', 'streaming', '--k', '0.125', '--max-records', '3', '--json', '--ep', 'cpu']);
    const e = JSON.parse(small.stdout) as { perplexity: { full: number; variant: number } };
    expect(e.perplexity.variant).not.toBeCloseTo(e.perplexity.full, 3);
  });
});
