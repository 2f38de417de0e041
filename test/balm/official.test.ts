/**
 * Official-format compatibility: a random small BALM written by the PyTorch reference of the
 * official code (models/reference/balm.py, fixtures by models/reference/make_balm_fixtures.py) in
 * `save_pretrained`'s layout loads directly, and balmkit's position ids and logits match the
 * reference's for 10 chains with IMGT insertions (111/112 beyond E/F, position 1, truncation,
 * masked tokens) to ≤ 1e-4.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Balm, type EncodedChain, encodeChain, positionId } from '../../src/balm/index.js';
import { readSafetensors } from '../../src/io/safetensors.js';

const DIR = fileURLToPath(new URL('../fixtures/balm/', import.meta.url));

interface Chain {
  sequence: string;
  numbering: [number, string][];
  masked: number[];
}

const chains = JSON.parse(readFileSync(`${DIR}chains.json`, 'utf8')) as Chain[];
const expected = readSafetensors(`${DIR}expected.safetensors`).tensors;
const [count, length] = expected.get('input_ids')!.shape;
const vocab = expected.get('logits')!.shape[2];

function encoded(c: Chain): EncodedChain {
  const truncated = c.masked.filter((i) => i < 166);
  return encodeChain(
    c.sequence,
    c.numbering.map(([number, insertion]) => ({ number, insertion })),
    truncated,
  );
}

function row(name: string, i: number, n: number): number[] {
  const t = expected.get(name)!;
  return Array.from((t.data as BigInt64Array).subarray(i * length, i * length + n), Number);
}

describe('BALM position ids follow the official mapping', () => {
  test('table of insertion codes', () => {
    const cases: [number, string, number][] = [
      [1, ' ', 1],
      [32, 'A', 32],
      [60, 'B', 60],
      [110, 'A', 110],
      [111, ' ', 111],
      [111, 'A', 129],
      [111, 'E', 133],
      [111, 'F', 133],
      [111, 'K', 133],
      [112, 'F', 134],
      [112, 'A', 139],
      [112, 'C', 137],
      [112, 'G', 134],
      [112, ' ', 112],
      [128, '', 128],
    ];
    for (const [number, insertion, id] of cases) expect(positionId({ number, insertion }), `${number}${insertion}`).toBe(id);
  });

  test.each(chains.map((c, i) => [i, c] as const))('chain %i: ids and position ids equal the reference', (i, c) => {
    const e = encoded(c);
    expect(e.inputIds).toEqual(row('input_ids', i, e.inputIds.length));
    expect(e.positionIds).toEqual(row('position_ids', i, e.positionIds.length));
    expect(row('attention_mask', i, length).reduce((a, b) => a + b, 0)).toBe(e.inputIds.length);
  });
});

describe.each(['official-bin', 'official-safetensors'])('%s loads directly and matches the reference', (folder) => {
  let balm: Balm;
  beforeAll(async () => {
    balm = await Balm.load(`${DIR}${folder}`, { ep: 'cpu', threads: 2 });
  });
  afterAll(async () => balm?.release());

  test(`logits of ${count} chains ≤ 1e-4`, async () => {
    const outs = await balm.forward(chains.map(encoded), 4);
    const ref = expected.get('logits')!.data as Float32Array;
    let worst = 0;
    outs.forEach((o, i) => {
      for (let t = 0; t < o.length; t++) for (let v = 0; v < vocab; v++) worst = Math.max(worst, Math.abs(o.logits[t * vocab + v] - ref[(i * length + t) * vocab + v]));
    });
    expect(outs.map((o) => o.length)).toEqual(chains.map((c) => Math.min(c.sequence.length, 166) + 2));
    console.log(`official-format parity: max |Δlogit| ${worst.toExponential(2)}`);
    expect(worst).toBeLessThanOrEqual(1e-4);
  });
});

describe('embed, score and infill against the reference', () => {
  let balm: Balm;
  beforeAll(async () => {
    balm = await Balm.load(`${DIR}official-bin`, { ep: 'cpu', threads: 2 });
  });
  afterAll(async () => balm?.release());

  const numbered = (c: Chain) => ({ sequence: c.sequence, numbering: c.numbering.map(([number, insertion]) => ({ number, insertion })) });
  const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    expect(a.length).toBe(b.length);
    let m = 0;
    for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
    return m;
  };

  test('mean-pooled and <cls> embeddings', async () => {
    const embs = await balm.embed(chains.map(numbered), 4);
    const d = balm.hiddenSize;
    const mean = expected.get('mean_embedding')!.data as Float32Array;
    const cls = expected.get('cls_embedding')!.data as Float32Array;
    embs.forEach((e, i) => {
      expect(e.residues).toBe(Math.min(chains[i].sequence.length, 166));
      expect(e.perResidue.length).toBe(e.residues * d);
      expect(maxDiff(e.mean, mean.subarray(i * d, (i + 1) * d))).toBeLessThanOrEqual(1e-4);
      expect(maxDiff(e.cls, cls.subarray(i * d, (i + 1) * d))).toBeLessThanOrEqual(1e-4);
    });
  });

  test('pseudo-log-likelihood of two chains, each residue masked in turn', async () => {
    const scores = await balm.score([numbered(chains[0]), numbered(chains[5])]);
    for (const [k, s] of [
      [0, scores[0]],
      [5, scores[1]],
    ] as const) {
      const ref = expected.get(`pll.${k}`)!.data as Float32Array;
      expect(maxDiff(s.perResidue, ref)).toBeLessThanOrEqual(1e-4);
      const meanRef = ref.reduce((a, b) => a + b, 0) / ref.length;
      expect(Math.abs(s.meanPll - meanRef)).toBeLessThanOrEqual(1e-4);
      expect(s.pseudoPerplexity).toBeCloseTo(Math.exp(-s.meanPll), 6);
    }
  });

  test('infill ranks the 20 amino acids by the masked logits, probabilities summing to ≤ 1', async () => {
    const c = numbered(chains[1]);
    const res = await balm.infill(c, [3, 50, 100], 20);
    expect(res.map((r) => r.index)).toEqual([3, 50, 100]);
    for (const r of res) {
      expect(r.candidates).toHaveLength(20);
      const total = r.candidates.reduce((a, x) => a + x.probability, 0);
      expect(total).toBeCloseTo(1, 5);
      for (let i = 1; i < r.candidates.length; i++) expect(r.candidates[i - 1].probability).toBeGreaterThanOrEqual(r.candidates[i].probability);
    }
  });
});
