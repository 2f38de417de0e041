/**
 * Relaxation: the analytic gradient against finite differences; a perturbed ideal peptide (with a
 * D residue) relaxes back to ideal bonds incl. the peptide C–N, no clashes, all Cα L; a clashing
 * pair is pulled apart; an experimental Fv is L everywhere (the chirality sign against real data)
 * and relaxes with small moves.
 */
import { describe, expect, test } from 'vitest';
import * as F from '../../src/fold/index.js';
import { readPdb } from '../../src/io/index.js';
import { ROSETTA_FV, rng, sharedStructures } from './helpers.js';
import { requireGates } from '../shared-data.js';
import { join } from 'node:path';

const seq = 'EVQLVESGGGLVQPGGSLRLSCAASGFTFSSYAMSWVRQA';
const aatype = Array.from(seq, (c) => F.restypeIndex(c));
const chiFor = (r: number) => (F.RESNAMES[r] === 'PRO' ? [30, -35] : [-65, 180, 180, 180]);

function idealPeptide(): F.Atom14 {
  // A beta strand: no side chain of one residue reaches another.
  return F.buildChain(aatype, { phi: aatype.map(() => -120), psi: aatype.map(() => 130), chi: aatype.map(chiFor) });
}

function perturbed(atoms: F.Atom14, amplitude: number, seed: number): F.Atom14 {
  const rand = rng(seed);
  const positions = Float64Array.from(atoms.positions, (v, k) => (atoms.mask[Math.floor(k / 3)] ? v + (rand() - 0.5) * 2 * amplitude : 0));
  return { ...atoms, positions };
}

/** Mirrors residue i's CB through the N–CA–C plane: an L residue becomes D. */
function makeD(atoms: F.Atom14, i: number): void {
  const p = atoms.positions;
  const at = (s: number) => [p[(i * 14 + s) * 3], p[(i * 14 + s) * 3 + 1], p[(i * 14 + s) * 3 + 2]];
  const [N, CA, C, CB] = [at(0), at(1), at(2), at(4)];
  const u = [N[0] - CA[0], N[1] - CA[1], N[2] - CA[2]];
  const v = [C[0] - CA[0], C[1] - CA[1], C[2] - CA[2]];
  const n = [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]];
  const nn = Math.hypot(n[0], n[1], n[2]);
  const d = ((CB[0] - CA[0]) * n[0] + (CB[1] - CA[1]) * n[1] + (CB[2] - CA[2]) * n[2]) / (nn * nn);
  for (let k = 0; k < 3; k++) p[(i * 14 + 4) * 3 + k] = CB[k] - 2 * d * n[k];
}

describe('relaxation', () => {
  test('analytic gradient equals finite differences (all terms, incl. clashes)', () => {
    const atoms = perturbed(idealPeptide(), 0.3, 1);
    // Push two residues' atoms together so the clash term is active too.
    for (let k = 0; k < 3; k++) atoms.positions[(20 * 14 + 1) * 3 + k] = atoms.positions[(5 * 14 + 1) * 3 + k] + 0.8;
    const energy = new F.RelaxEnergy(atoms);
    const p = Float64Array.from(atoms.positions);
    const g = new Float64Array(p.length);
    const e = energy.evaluate(p, g);
    expect(e.clash).toBeGreaterThan(0);
    expect(e.planarity).toBeGreaterThan(0);
    expect(e.chirality).toBeGreaterThan(0);
    const rand = rng(2);
    let worst = 0;
    for (let t = 0; t < 300; t++) {
      const a = Math.floor(rand() * atoms.mask.length);
      if (!atoms.mask[a]) continue;
      const k = a * 3 + Math.floor(rand() * 3);
      const h = 1e-4; // central differences: O(h²) truncation, round-off grows below this
      const plus = Float64Array.from(p);
      plus[k] += h;
      const minus = Float64Array.from(p);
      minus[k] -= h;
      const numeric = (F.totalEnergy(energy.evaluate(plus)) - F.totalEnergy(energy.evaluate(minus))) / (2 * h);
      worst = Math.max(worst, Math.abs(numeric - g[k]) / Math.max(1, Math.abs(g[k])));
    }
    expect(worst).toBeLessThan(1e-5);
  });

  test('a perturbed ideal peptide with a D residue relaxes to ideal bonds, no clashes, all L', () => {
    const ideal = idealPeptide();
    const start = perturbed(ideal, 0.25, 3);
    makeD(start, 10);
    const before = F.checkGeometry(start);
    expect(before.bondsIdealFraction).toBeLessThan(0.5);
    expect(before.dAminoAcids).toEqual([10]);
    const { atoms, report } = F.relax(start);
    expect(report.converged).toBe(true);
    expect(report.after.bondsIdealFraction).toBeGreaterThanOrEqual(0.99);
    expect(report.after.peptideBonds).toBe(seq.length - 1);
    expect(report.after.peptideBondsIdeal).toBe(seq.length - 1);
    expect(report.after.clashes).toEqual([]);
    expect(report.after.dAminoAcids).toEqual([]);
    expect(F.checkGeometry(atoms)).toEqual(report.after);
    // It went back towards the ideal peptide, not somewhere else.
    let sq = 0;
    let n = 0;
    for (let a = 0; a < ideal.mask.length; a++) {
      if (!ideal.mask[a]) continue;
      for (let k = 0; k < 3; k++) sq += (atoms.positions[a * 3 + k] - ideal.positions[a * 3 + k]) ** 2;
      n++;
    }
    expect(Math.sqrt(sq / n)).toBeLessThan(0.3);
    expect(report.rmsdMoved).toBeGreaterThan(0.1);
    expect(report.energyAfter.bond).toBeLessThan(report.energyBefore.bond / 100);
  });

  test('a clashing pair from two chains is separated', () => {
    // Two copies of a short strand, the second shifted so one CA sits 1.2 Å from the other's CA.
    const short = aatype.slice(0, 8);
    const one = F.buildChain(short, { phi: short.map(() => -120), psi: short.map(() => 130), chi: short.map(chiFor) });
    const n = short.length;
    const positions = new Float64Array(2 * n * 14 * 3);
    positions.set(one.positions);
    const target = [...one.positions.subarray((3 * 14 + 1) * 3, (3 * 14 + 1) * 3 + 3)];
    const from = [...one.positions.subarray((4 * 14 + 1) * 3, (4 * 14 + 1) * 3 + 3)];
    const shift = [target[0] - from[0] + 1.2, target[1] - from[1], target[2] - from[2]];
    for (let k = 0; k < n * 14 * 3; k++) positions[n * 14 * 3 + k] = one.mask[Math.floor(k / 3)] ? one.positions[k] + shift[k % 3] : 0;
    const both: F.Atom14 = { aatype: Int32Array.from([...short, ...short]), positions, mask: Uint8Array.from([...one.mask, ...one.mask]) };
    const chainStarts = [0, n];
    const before = F.checkGeometry(both, chainStarts);
    expect(before.clashes.length).toBeGreaterThan(0);
    expect(Math.min(...before.clashes.map((c) => c.distance))).toBeLessThan(1.3);
    const { report } = F.relax(both, { chainStarts });
    expect(report.after.clashes).toEqual([]);
    expect(report.worstClashes).toEqual([]);
    expect(report.after.bondsIdealFraction).toBeGreaterThanOrEqual(0.99);
    // The two chains are not bonded to each other.
    expect(report.after.peptideBonds).toBe(2 * (n - 1));
  });
});

describe('relaxation of an experimental Fv', () => {
  requireGates(sharedStructures('the relaxation test on an experimental Fv'));
  test('12e8: every residue is L before; after relaxing, ideal bonds, no clashes, small moves', async () => {
    const s = await readPdb(join(ROSETTA_FV, 'pdb12e8_chothia.pdb.bz2'));
    const fv = F.structureToAtom14(s);
    expect(fv.chains.map((c) => c.id)).toEqual(['L', 'H']);
    const before = F.checkGeometry(fv, fv.chainStarts);
    // Experimental structures are L: this pins the sign of the chirality convention to real data.
    expect(before.dAminoAcids).toEqual([]);
    expect(before.bondsIdealFraction).toBeGreaterThan(0.9);
    const { atoms, report } = F.relax(fv, { chainStarts: fv.chainStarts });
    // The kappa chain's cis-proline L95 stays cis; every other peptide stays trans.
    const cisPeptides = (a: F.Atom14) => {
      const t = F.torsionsFromAtoms(a);
      const out: string[] = [];
      for (let i = 1; i < a.aatype.length; i++) {
        if (fv.chainStarts.includes(i)) continue;
        if (Math.abs(Math.atan2(t[i * 14], t[i * 14 + 1])) < Math.PI / 2) out.push(`${F.RESNAMES[a.aatype[i]]}${fv.ids[i].number}`);
      }
      return out;
    };
    expect(cisPeptides(fv)).toEqual(['PRO95']);
    expect(cisPeptides(atoms)).toEqual(['PRO95']);
    expect(report.after.bondsIdealFraction).toBeGreaterThanOrEqual(0.99);
    expect(report.after.peptideBondsIdeal).toBe(report.after.peptideBonds);
    expect(report.after.clashes).toEqual([]);
    expect(report.after.dAminoAcids).toEqual([]);
    expect(report.rmsdMoved).toBeLessThan(0.2);
  });

  test('12e8 with ±0.5 Å noise on every coordinate: back to ideal bonds, no clashes, all L', async () => {
    const fv = F.structureToAtom14(await readPdb(join(ROSETTA_FV, 'pdb12e8_chothia.pdb.bz2')));
    const noisy = perturbed(fv, 0.5, 17);
    const { report } = F.relax(noisy, { chainStarts: fv.chainStarts });
    expect(report.before.bondsIdealFraction).toBeLessThan(0.2);
    expect(report.before.clashes.length).toBeGreaterThan(0);
    expect(report.before.dAminoAcids.length).toBeGreaterThan(0);
    expect(report.converged).toBe(true);
    expect(report.after.bondsIdealFraction).toBeGreaterThanOrEqual(0.99);
    expect(report.after.peptideBondsIdeal).toBe(report.after.peptideBonds);
    expect(report.after.clashes).toEqual([]);
    expect(report.after.dAminoAcids).toEqual([]);
  });
});
