/**
 * Superposition pairs residues by numbering both structures in one scheme: the same prediction
 * numbered IMGT and Chothia, against the Chothia-numbered crystal structure of 1A14 (the viewer's
 * committed fixture), pairs the same residues and gives the same RMSD; pairing by the files'
 * residue numbers (what the viewer did) does not. A structure with no antibody domain falls back
 * to sequence alignment.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

import { alignSequences, describePairing, pairedCa, pairResidues } from '../../src/fold/residue-pairs.js';
import { fold } from '../../src/fold/predict.js';
import { kabsch } from '../../src/fold/superpose.js';
import { parsePdb } from '../../src/io/pdb.js';
import type { Structure } from '../../src/io/structure.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/viewer/', import.meta.url));
const crystal = parsePdb(gunzipSync(fs.readFileSync(path.join(FIXTURES, 'fv-1a14-moved.pdb.gz'))).toString('utf8'));
const fixturePrediction = parsePdb(fs.readFileSync(path.join(FIXTURES, 'fv-1a14-prediction.pdb'), 'utf8'));
const sequence = (chain: string) => fixturePrediction.metadata!.sequences.find((s) => s.chain === chain)!.sequence;

async function predict(scheme: 'imgt' | 'chothia'): Promise<Structure> {
  const [outcome] = await fold([{ name: 'fv-1a14', heavy: sequence('H'), light: sequence('L') }], { scheme, model: 'fold-baseline' });
  if (!outcome?.ok) throw new Error(outcome?.failure.message);
  return outcome.antibody.structure;
}

function superpose(moving: Structure, fixed: Structure) {
  const p = pairResidues(moving, fixed);
  const ca = pairedCa(moving, fixed, p);
  return { p, rmsd: kabsch(ca.moving, ca.fixed).rmsd };
}

/** The old rule: residues with the same chain, number and insertion code in both files. */
function byFileNumbers(moving: Structure, fixed: Structure): number {
  const key = (c: string, n: number, i: string) => `${c}:${n}${i}`;
  const fixedCa = new Map<string, number[]>();
  for (const c of fixed.chains) for (const r of c.residues) for (const a of r.atoms) if (a.name === 'CA') fixedCa.set(key(c.id, r.number, r.insertion), [a.x, a.y, a.z]);
  const a: number[] = [];
  const b: number[] = [];
  for (const c of moving.chains) {
    for (const r of c.residues) {
      const ca = r.atoms.find((x) => x.name === 'CA');
      const f = fixedCa.get(key(c.id, r.number, r.insertion));
      if (ca && f) {
        a.push(ca.x, ca.y, ca.z);
        b.push(...f);
      }
    }
  }
  return kabsch(a, b).rmsd;
}

describe('superposition by numbering both structures', () => {
  it('the same prediction numbered IMGT and Chothia gives the same RMSD over the same residues against a Chothia crystal', async () => {
    const imgt = await predict('imgt');
    const chothia = await predict('chothia');
    const a = superpose(imgt, crystal);
    const b = superpose(chothia, crystal);
    console.info(
      `1A14: IMGT prediction ${a.rmsd.toFixed(3)} Å, Chothia prediction ${b.rmsd.toFixed(3)} Å (${describePairing(a.p)}); by file numbers: IMGT ${byFileNumbers(imgt, crystal).toFixed(2)} Å, Chothia ${byFileNumbers(chothia, crystal).toFixed(2)} Å`,
    );
    expect(a.p.method).toBe('numbering');
    expect(a.p.chains.map((c) => [c.moving, c.fixed, c.chainClass])).toEqual([
      ['H', 'H', 'heavy'],
      ['L', 'L', 'light'],
    ]);
    expect(Math.abs(a.rmsd - b.rmsd)).toBeLessThanOrEqual(0.01);
    // The same residue pairs: the crystal residues are the same, and so are the prediction's (by position in its chain).
    const indexOf = (s: Structure) => new Map(s.chains.flatMap((c) => c.residues.map((r, k) => [`${c.id}:${r.number}${r.insertion}`, `${c.id}#${k}`] as const)));
    const [ia, ib] = [indexOf(imgt), indexOf(chothia)];
    const pairsOf = (p: typeof a.p, index: Map<string, string>) =>
      p.pairs.map((x) => `${index.get(`${x.moving.chain}:${x.moving.number}${x.moving.insertion}`)}=${x.fixed.chain}:${x.fixed.number}${x.fixed.insertion}`);
    expect(pairsOf(a.p, ia)).toEqual(pairsOf(b.p, ib));
    expect(a.p.pairs.length).toBeGreaterThan(200);
    // What the viewer did before: pairing by the files' numbers puts IMGT residues on the wrong Chothia ones.
    expect(byFileNumbers(imgt, crystal)).toBeGreaterThan(a.rmsd + 2);
    expect(describePairing(a.p)).toMatch(/^\d+ residues paired by IMGT numbering of both structures: H↔H \d+ \(\d+ identical\), L↔L \d+ \(\d+ identical\)$/);
  }, 60_000);

  it('falls back to sequence alignment when a structure has no antibody domain', () => {
    // Fragments of the chains (FR1–CDR1 only) do not number as antibody domains.
    const cut = (s: Structure, n: number): Structure => ({ chains: s.chains.map((c) => ({ ...c, residues: c.residues.slice(0, n) })) });
    const p = pairResidues(cut(fixturePrediction, 30), cut(crystal, 40));
    expect(p.method).toBe('alignment');
    expect(p.chains.map((c) => [c.moving, c.fixed, c.pairs])).toEqual([
      ['H', 'H', 30],
      ['L', 'L', 30],
    ]);
    expect(p.pairs[0]).toEqual({
      moving: { chain: 'H', number: fixturePrediction.chains[0].residues[0].number, insertion: '' },
      fixed: { chain: 'H', number: crystal.chains[0].residues[0].number, insertion: crystal.chains[0].residues[0].insertion },
    });
    expect(describePairing(p)).toMatch(/^60 residues paired by sequence alignment/);
  });

  it('aligns sequences globally', () => {
    expect(alignSequences('ACDEFG', 'ACEFG')).toEqual([
      [0, 0],
      [1, 1],
      [3, 2],
      [4, 3],
      [5, 4],
    ]);
    expect(alignSequences('', 'AC')).toEqual([]);
  });
});
