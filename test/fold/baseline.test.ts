/**
 * The template baseline's parts: Kabsch superposition against known motions, the committed split
 * (disjoint sets, counts that match, and — with ../shared/data — no training entry sharing a
 * CDR-H3 or CDR set with a test entry under Rosetta's own CDR columns, an independent check of the
 * numbering-based rules), and the shipped templates (size, coverage, chain-like CDR loops).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import { kabsch, rmsd, transformPoints } from '../../src/fold/superpose.js';
import { loadFoldModel } from '../../src/fold/baseline-model.js';
import { randomRigid, rng } from './helpers.js';
import { need, sharedData } from '../shared-data.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MODEL_DIR = path.join(ROOT, 'models', 'fold-baseline');

describe('kabsch', () => {
  it('recovers a random rigid motion exactly, as a proper rotation', () => {
    const rand = rng(7);
    for (let trial = 0; trial < 20; trial++) {
      const n = 5 + Math.floor(rand() * 30);
      const x = Float64Array.from({ length: n * 3 }, () => (rand() - 0.5) * 30);
      const T = randomRigid(rand);
      const y = new Float64Array(n * 3);
      for (let i = 0; i < n; i++) {
        const [a, b, c] = [x[i * 3], x[i * 3 + 1], x[i * 3 + 2]];
        for (let r = 0; r < 3; r++) y[i * 3 + r] = T[r * 4] * a + T[r * 4 + 1] * b + T[r * 4 + 2] * c + T[r * 4 + 3];
      }
      const fit = kabsch(x, y);
      expect(fit.rmsd).toBeLessThan(1e-9);
      for (let r = 0; r < 3; r++) {
        for (let c = 0; c < 3; c++) expect(fit.rotation[r * 3 + c]).toBeCloseTo(T[r * 4 + c], 9);
        expect(fit.translation[r]).toBeCloseTo(T[r * 4 + 3], 8);
      }
      expect(rmsd(transformPoints(fit, x), y)).toBeLessThan(1e-9);
    }
  });

  it('never answers with a reflection: a mirrored set gets det R = +1 and a positive RMSD', () => {
    const rand = rng(11);
    const x = Float64Array.from({ length: 40 * 3 }, () => (rand() - 0.5) * 20);
    const mirrored = Float64Array.from(x, (v, i) => (i % 3 === 0 ? -v : v));
    const R = kabsch(x, mirrored).rotation;
    const det = R[0] * (R[4] * R[8] - R[5] * R[7]) - R[1] * (R[3] * R[8] - R[5] * R[6]) + R[2] * (R[3] * R[7] - R[4] * R[6]);
    expect(det).toBeCloseTo(1, 9);
    expect(kabsch(x, mirrored).rmsd).toBeGreaterThan(1);
  });

  it('weights: a zero-weight outlier does not move the fit', () => {
    const rand = rng(3);
    const x = Float64Array.from({ length: 10 * 3 }, () => (rand() - 0.5) * 20);
    const y = Float64Array.from(x);
    y[0] += 50;
    const w = Float64Array.from({ length: 10 }, (_, i) => (i === 0 ? 0 : 1));
    expect(kabsch(x, y, w).rmsd).toBeLessThan(1e-9);
    expect(kabsch(x, y).rmsd).toBeGreaterThan(1);
  });
});

interface Split {
  counts: Record<string, number>;
  test: string[];
  validation: string[];
  train: string[];
  removed: Record<string, string[]>;
}
const split = JSON.parse(fs.readFileSync(path.join(MODEL_DIR, 'split.json'), 'utf8')) as Split;

describe('split.json', () => {
  it('has 41 test entries, disjoint sets, and counts that match the lists', () => {
    expect(split.test).toHaveLength(41);
    expect(split.counts.test).toBe(split.test.length);
    expect(split.counts.validation).toBe(split.validation.length);
    expect(split.counts.train).toBe(split.train.length);
    expect(split.counts.removed).toBe(Object.keys(split.removed).length);
    const all = [...split.test, ...split.validation, ...split.train, ...Object.keys(split.removed)];
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBe(split.counts.rosettaFv);
    const frac = split.validation.length / (split.validation.length + split.train.length);
    expect(frac).toBeGreaterThan(0.045);
    expect(frac).toBeLessThan(0.055);
  });

  const infoData = sharedData('the split leakage check', 'antibody-structures/rosetta-fv.info');
  it("leaves no training or validation entry with a test entry's CDR-H3 or CDR set, nor a validation entry with a training one's (rosetta-fv.info columns)", (ctx) => {
    need(ctx, infoData);
    const info = new Map<string, string[]>();
    const infoFile = infoData.path();
    for (const line of fs.readFileSync(infoFile, 'utf8').split('\n')) {
      if (line.startsWith('#') || line.trim() === '') continue;
      const f = line.trim().split(/\s+/);
      info.set(f[0].toLowerCase(), f.slice(6, 12));
    }
    const testH3 = new Set(split.test.flatMap((id) => (info.get(id)?.[2] && info.get(id)![2] !== '-' ? [info.get(id)![2]] : [])));
    const testSets = new Set(split.test.flatMap((id) => (info.has(id) ? [info.get(id)!.join('/')] : [])));
    expect(testH3.size).toBeGreaterThan(30);
    for (const id of [...split.train, ...split.validation]) {
      const f = info.get(id);
      if (!f) continue;
      expect(testH3.has(f[2]), `${id} has a test CDR-H3`).toBe(false);
      expect(testSets.has(f.join('/')), `${id} has a test CDR set`).toBe(false);
    }
    // Validation is drawn by clusters: no validation entry shares CDR-H3 or CDR set with training.
    const trainH3 = new Set(split.train.flatMap((id) => (info.get(id)?.[2] && info.get(id)![2] !== '-' ? [info.get(id)![2]] : [])));
    for (const id of split.validation) {
      const f = info.get(id);
      if (f && f[2] !== '-') expect(trainH3.has(f[2]), `validation ${id} shares CDR-H3 with training`).toBe(false);
    }
    // The count: 16 test entries have an identical CDR set elsewhere in rosetta-fv.
    const elsewhere = split.test.filter((t) => info.has(t) && [...info].some(([o, f]) => o !== t && f.join('/') === info.get(t)!.join('/')));
    expect(elsewhere).toHaveLength(16);
  });
});

describe('templates.json', () => {
  const model = loadFoldModel(MODEL_DIR);
  const t = model.templates;

  it('is small and covers the framework of H, K and L', () => {
    expect(fs.statSync(path.join(MODEL_DIR, 'templates.json')).size).toBeLessThan(5 << 20);
    for (const type of ['H', 'K', 'L']) {
      const fw = t.framework[type];
      // Conserved anchors: Cys 23, Trp 41, Cys 104, Trp/Phe 118.
      for (const id of ['23', '41', '104', '118']) expect(fw[id], `${type} ${id}`).toBeDefined();
      expect(Object.keys(fw).length).toBeGreaterThan(80);
    }
    expect(Number(t.training.entries)).toBe(split.train.length);
  });

  it('places the conserved disulfide Cys 23 – Cys 104 at bonding distance (Cα–Cα 4.4–6.8 Å)', () => {
    for (const type of ['H', 'K', 'L']) {
      const a = t.framework[type]['23'].backbone;
      const b = t.framework[type]['104'].backbone;
      const d = Math.hypot(a[3] - b[3], a[4] - b[4], a[5] - b[5]);
      expect(d).toBeGreaterThan(4.4);
      expect(d).toBeLessThan(6.8);
    }
  });

  it('has chain-like framework and CDR templates: consecutive Cα 2–4.2 Å apart, small framework spread', () => {
    for (const byCdr of Object.values(t.cdrs)) {
      for (const byLength of Object.values(byCdr)) {
        for (const [len, g] of Object.entries(byLength)) {
          expect(g.slots).toHaveLength(Number(len));
          for (let k = 1; k < g.slots.length; k++) {
            const a = g.slots[k - 1].backbone;
            const b = g.slots[k].backbone;
            const d = Math.hypot(a[3] - b[3], a[4] - b[4], a[5] - b[5]);
            expect(d).toBeGreaterThan(2.0);
            expect(d).toBeLessThan(4.2);
          }
        }
      }
    }
    const h = t.framework.H;
    const spreads = Object.values(h)
      .map((s) => s.spread)
      .sort((a, b) => a - b);
    expect(spreads[spreads.length >> 1]).toBeLessThan(1.5);
  });
});
