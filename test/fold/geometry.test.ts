/**
 * Residue geometry: ideal residues rebuilt from the AF2 rigid-group tables against the independent
 * Engh–Huber bond lengths and angles; torsions placed where the IUPAC dihedral formula measures
 * them; frames orthonormal; chains with 1.33 Å peptide bonds.
 */
import { describe, expect, test } from 'vitest';
import * as F from '../../src/fold/index.js';
import { randomRigid, rng } from './helpers.js';

const { RESNAMES, IDEAL_BONDS, IDEAL_ANGLES, PEPTIDE, atomPosition, distance, angleDegrees } = F;

const typicalChi = (name: string): number[] => (name === 'PRO' ? [30, -35] : [-65, 180, 180, 180]);

function tripeptide(r: number) {
  const chi = typicalChi(RESNAMES[r]);
  return F.buildChain([r, r, r], { phi: [-60, -60, -60], psi: [-45, -45, -45], chi: [chi, chi, chi] });
}

describe('ideal residues from the rigid groups', () => {
  test.each(RESNAMES.map((name, r) => [name, r] as const))('%s: bonds and angles match Engh–Huber', (name, r) => {
    const a = tripeptide(r);
    expect(Array.from(a.mask.subarray(14, 28)).reduce((s, x) => s + x, 0)).toBe(F.ATOM14_NAMES[name].length);
    for (const b of IDEAL_BONDS[name]) {
      const d = distance(atomPosition(a, 1, b.a)!, atomPosition(a, 1, b.b)!);
      // Proline's CD–N closes the ring and depends on chi1/chi2; the relaxation closes it.
      if (name === 'PRO' && b.a === 'CD' && b.b === 'N') continue;
      expect(Math.abs(d - b.length), `${name} ${b.a}-${b.b} ${d.toFixed(3)} vs ${b.length}`).toBeLessThan(0.05);
    }
    for (const g of IDEAL_ANGLES[name]) {
      if (name === 'PRO' && ((g.a === 'CA' && g.c === 'CD') || g.b === 'CD' || (g.c === 'CD' && g.b === 'N'))) continue;
      const d = angleDegrees(atomPosition(a, 1, g.a)!, atomPosition(a, 1, g.b)!, atomPosition(a, 1, g.c)!);
      expect(Math.abs(d - g.degrees), `${name} ${g.a}-${g.b}-${g.c} ${d.toFixed(1)} vs ${g.degrees}`).toBeLessThan(Math.max(3 * g.sd, 1));
    }
  });

  test('peptide bond between residues: C–N 1.33 Å, Engh–Huber angles, planar omega', () => {
    for (let r = 0; r < 20; r++) {
      const a = tripeptide(r);
      for (const i of [0, 1]) {
        const C = atomPosition(a, i, 'C')!;
        const N = atomPosition(a, i + 1, 'N')!;
        expect(distance(C, N)).toBeCloseTo(1.33, 6);
        expect(angleDegrees(atomPosition(a, i, 'CA')!, C, N)).toBeCloseTo(PEPTIDE.caCN, 6);
        expect(angleDegrees(C, N, atomPosition(a, i + 1, 'CA')!)).toBeCloseTo(PEPTIDE.cNCA, 6);
        // O is placed by psi from its own group; it must still sit at the ideal O=C–N angle.
        expect(Math.abs(angleDegrees(atomPosition(a, i, 'O')!, C, N) - PEPTIDE.oCN)).toBeLessThan(1.5);
        const omega = (F.dihedral(atomPosition(a, i, 'CA')!, C, N, atomPosition(a, i + 1, 'CA')!) * 180) / Math.PI;
        expect(Math.abs(Math.abs(omega) - 180)).toBeLessThan(1e-6);
      }
    }
  });
});

describe('torsions', () => {
  test('atoms are placed at the torsions asked for (measured by the IUPAC dihedral)', () => {
    const rand = rng(7);
    const n = 40;
    const aatype = Array.from({ length: n }, (_, i) => i % 20);
    const deg = () => rand() * 360 - 180;
    const phi = Array.from({ length: n }, deg);
    const psi = Array.from({ length: n }, deg);
    const omega = Array.from({ length: n }, () => 180 + (rand() - 0.5) * 20);
    const chi = aatype.map(() => [deg(), deg(), deg(), deg()]);
    const atoms = F.buildChain(aatype, { phi, psi, omega, chi });
    const measured = F.torsionsFromAtoms(atoms);
    const angle = (i: number, t: number) => (Math.atan2(measured[(i * 7 + t) * 2], measured[(i * 7 + t) * 2 + 1]) * 180) / Math.PI;
    const close = (a: number, b: number) => Math.abs(((a - b + 540) % 360) - 180);
    for (let i = 0; i < n; i++) {
      if (i > 0) {
        expect(close(angle(i, F.TORSION.phi), phi[i])).toBeLessThan(1e-6);
        expect(close(angle(i, F.TORSION.preOmega), omega[i])).toBeLessThan(1e-6);
        // psi(i−1) as the chain defines it: N–CA–C–N(i+1).
        const psiChain = (F.dihedral(atomPosition(atoms, i - 1, 'N')!, atomPosition(atoms, i - 1, 'CA')!, atomPosition(atoms, i - 1, 'C')!, atomPosition(atoms, i, 'N')!) * 180) / Math.PI;
        expect(close(psiChain, psi[i - 1])).toBeLessThan(1e-6);
      }
      expect(close(angle(i, F.TORSION.psi), psi[i])).toBeLessThan(1e-6);
      for (let k = 0; k < F.CHI_COUNT[aatype[i]]; k++) expect(close(angle(i, F.TORSION.chi1 + k), chi[i][k])).toBeLessThan(1e-6);
    }
  });

  test('frames and torsions measured from built atoms rebuild the same atoms', () => {
    const rand = rng(11);
    const n = 25;
    const aatype = Array.from({ length: n }, () => Math.floor(rand() * 20));
    const deg = () => rand() * 360 - 180;
    const built = F.buildChain(aatype, {
      phi: aatype.map(deg),
      psi: aatype.map(deg),
      chi: aatype.map(() => [deg(), deg(), deg(), deg()]),
    });
    const again = F.atomsFromFrames({ aatype, frames: F.backboneFrames(built), torsions: F.torsionsFromAtoms(built) });
    let worst = 0;
    for (let k = 0; k < built.positions.length; k++) worst = Math.max(worst, Math.abs(built.positions[k] - again.positions[k]));
    expect(worst).toBeLessThan(1e-9);
  });
});

describe('frames', () => {
  test('every rigid-group frame is a proper rotation, for unnormalised torsions too', () => {
    const rand = rng(3);
    const n = 50;
    const aatype = Array.from({ length: n }, (_, i) => i % 20);
    const frames = new Float64Array(n * 12);
    for (let i = 0; i < n; i++) frames.set(randomRigid(rand), i * 12);
    const torsions = Float64Array.from({ length: n * 14 }, () => (rand() - 0.5) * 6);
    const { groupFrames } = F.atomsFromFrames({ aatype, frames, torsions });
    for (let k = 0; k < n * 8; k++) {
      const e = F.rotationError(groupFrames.subarray(k * 12, k * 12 + 12));
      expect(e.orthogonality).toBeLessThan(1e-12);
      expect(e.determinant).toBeCloseTo(1, 12);
    }
    for (let k = 0; k < 20 * 8; k++) expect(F.rotationError(F.DEFAULT_FRAMES.subarray(k * 12, k * 12 + 12)).orthogonality).toBeLessThan(1e-12);
  });

  test('buildBackbone frames reproduce its N, CA, C through the rigid groups', () => {
    const aatype = [0, 7, 14, 17, 3, 7, 14];
    const phi = [0, -60, -70, -120, 60, 80, -65];
    const psi = [140, -40, 150, 130, 40, -170, 0];
    const bb = F.buildBackbone(aatype, { phi, psi });
    const atoms = F.atomsFromFrames({ aatype, frames: bb.frames, torsions: F.torsionArray(7, { phi, psi }) });
    for (let i = 0; i < aatype.length; i++) {
      ['N', 'CA', 'C'].forEach((name, j) => {
        const p = atomPosition(atoms, i, name)!;
        for (let k = 0; k < 3; k++) expect(p[k]).toBeCloseTo(bb.atoms[i * 9 + j * 3 + k], 9);
      });
    }
  });
});
