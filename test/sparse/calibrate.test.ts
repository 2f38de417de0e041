/**
 * Loki calibration: PCA bases are orthonormal eigenvectors of the keys' second moment (checked
 * against the moment matrix recomputed here from the captured keys), a planted low-rank subspace
 * is recovered, and BALM's pre- and post-rotary keys are both captured.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { Balm, type NumberedChain, encodeChain } from '../../src/balm/index.js';
import { fullAttention } from '../../src/nn/index.js';
import { KeyStatistics, capturingAttention, collectBalmKeys, fitBases, keyOutputName, rankFor } from '../../src/sparse/index.js';

const BALM_DIR = fileURLToPath(new URL('../fixtures/balm/', import.meta.url));
const chains = (JSON.parse(readFileSync(`${BALM_DIR}chains.json`, 'utf8')) as { sequence: string; numbering: [number, string][] }[]).map((c): NumberedChain => ({
  sequence: c.sequence,
  numbering: c.numbering.map(([number, insertion]) => ({ number, insertion })),
}));

function orthonormality(basis: Float32Array, heads: number, hd: number): number {
  let worst = 0;
  for (let h = 0; h < heads; h++)
    for (let a = 0; a < hd; a++)
      for (let b = 0; b < hd; b++) {
        let dot = 0;
        for (let i = 0; i < hd; i++) dot += basis[h * hd * hd + i * hd + a] * basis[h * hd * hd + i * hd + b];
        worst = Math.max(worst, Math.abs(dot - (a === b ? 1 : 0)));
      }
  return worst;
}

test('a planted 3-dimensional key subspace is recovered', () => {
  const hd = 8;
  let s = 7;
  const r = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  const dirs = [0, 1, 2].map(() => Array.from({ length: hd }, r));
  const stats = new KeyStatistics(1, 1, hd);
  const keys = new Float32Array(500 * hd);
  for (let t = 0; t < 500; t++) {
    const c = [r() * 3, r() * 2, r()];
    for (let i = 0; i < hd; i++) keys[t * hd + i] = c[0] * dirs[0][i] + c[1] * dirs[1][i] + c[2] * dirs[2][i] + 1e-3 * r();
  }
  stats.add(0, keys, new Array(500).fill(true));
  const [{ basis, eigenvalues }] = fitBases(stats);
  expect(orthonormality(basis, 1, hd)).toBeLessThan(1e-5);
  expect(rankFor(eigenvalues, 0.9)).toBeLessThanOrEqual(3);
  expect(rankFor(eigenvalues, 0.999999)).toBe(3);
  // Every planted direction lies in the span of the first three columns.
  for (const d of dirs) {
    const n = Math.hypot(...d);
    let inSpan = 0;
    for (let j = 0; j < 3; j++) {
      let dot = 0;
      for (let i = 0; i < hd; i++) dot += (d[i] / n) * basis[i * hd + j];
      inSpan += dot * dot;
    }
    expect(inSpan).toBeGreaterThan(0.999);
  }
});

describe('BALM keys', () => {
  test('bases are the eigenvectors of the key second moment recomputed from the captured keys', async () => {
    const stats = await collectBalmKeys(BALM_DIR + 'official-bin', chains, { ep: 'cpu', batchSize: 4 });
    const bases = fitBases(stats);
    const { kvHeads: heads, headDim: hd } = stats;
    expect(stats.count).toBe(chains.reduce((a, c) => a + Math.min(c.sequence.length, 166) + 2, 0));

    // Recompute layer 1's moment matrix from keys captured in a separate run.
    const balm = await Balm.load(BALM_DIR + 'official-bin', { ep: 'cpu', attention: (l) => capturingAttention(fullAttention({ fused: false }), l, ['post-rotary', 'pre-rotary']) });
    const moment = new Float64Array(heads * hd * hd);
    let n = 0;
    let rotaryChangesKeys = false;
    for (const c of chains) {
      const { outputs } = await balm.run([encodeChain(c.sequence, c.numbering)]);
      const k = outputs[keyOutputName(1, 'post-rotary')].data as Float32Array;
      const pre = outputs[keyOutputName(1, 'pre-rotary')].data as Float32Array;
      const tokens = k.length / (heads * hd);
      n += tokens;
      for (let t = 0; t < tokens; t++)
        for (let h = 0; h < heads; h++) for (let i = 0; i < hd; i++) for (let j = 0; j < hd; j++) moment[h * hd * hd + i * hd + j] += k[(t * heads + h) * hd + i] * k[(t * heads + h) * hd + j];
      if (Math.abs(k[hd * heads * 3] - pre[hd * heads * 3]) > 1e-4) rotaryChangesKeys = true;
    }
    await balm.release();
    expect(rotaryChangesKeys).toBe(true);

    const { basis, eigenvalues } = bases[1];
    expect(orthonormality(basis, heads, hd)).toBeLessThan(1e-5);
    let worst = 0;
    let scale = 0;
    for (let h = 0; h < heads; h++)
      for (let j = 0; j < hd; j++) {
        const lambda = eigenvalues[h * hd + j];
        if (j > 0) expect(lambda).toBeLessThanOrEqual(eigenvalues[h * hd + j - 1] + 1e-9);
        for (let i = 0; i < hd; i++) {
          let cv = 0;
          for (let m = 0; m < hd; m++) cv += (moment[h * hd * hd + i * hd + m] / n) * basis[h * hd * hd + m * hd + j];
          worst = Math.max(worst, Math.abs(cv - lambda * basis[h * hd * hd + i * hd + j]));
          scale = Math.max(scale, lambda);
        }
      }
    expect(worst / scale).toBeLessThan(1e-4);
  });
});
