/** Shared helpers of the fold and structure-I/O tests: seeded random numbers, random rigid transforms, the shared-data and Biopython gates, a small predicted-like Fv. */
import { expect } from 'vitest';
import * as F from '../../src/fold/index.js';
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { ResidueId, Structure } from '../../src/io/structure.js';
import { mulberry32 } from '../../src/util/random.js';
import { Gate, SHARED_DATA, sharedData, type SharedData } from '../shared-data.js';

/** Deterministic pseudo-random numbers (mulberry32). */
export const rng = mulberry32;

/** A random rigid transform: uniform rotation from a normalised quaternion, translation in ±20 Å. */
export function randomRigid(rand: () => number): F.Rigid {
  const g = () => {
    const u = Math.max(rand(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
  let [w, x, y, z] = [g(), g(), g(), g()];
  const q = Math.hypot(w, x, y, z);
  [w, x, y, z] = [w / q, x / q, y / q, z / q];
  const R = [
    1 - 2 * (y * y + z * z),
    2 * (x * y - w * z),
    2 * (x * z + w * y),
    2 * (x * y + w * z),
    1 - 2 * (x * x + z * z),
    2 * (y * z - w * x),
    2 * (x * z - w * y),
    2 * (y * z + w * x),
    1 - 2 * (x * x + y * y),
  ];
  return F.rigidFrom(R, [(rand() - 0.5) * 40, (rand() - 0.5) * 40, (rand() - 0.5) * 40]);
}

// ---------------------------------------------------------------------------------------------
// shared data and Biopython gates, used by the fold and io structure tests

/** The experimental structures in ../shared/data/antibody-structures (paths; a gate for tests). */
export function sharedStructures(what: string): SharedData {
  return sharedData(what, 'antibody-structures/rosetta-fv', 'antibody-structures/docking-benchmark-5.5/pdbs');
}
export const ROSETTA_FV = join(SHARED_DATA, 'antibody-structures', 'rosetta-fv');
export const DOCKING_PDBS = join(SHARED_DATA, 'antibody-structures', 'docking-benchmark-5.5', 'pdbs');

/** Every `step`-th file of a folder, sorted by name (a deterministic sample). */
export function sampleFiles(dir: string, pattern: RegExp, step: number): string[] {
  return readdirSync(dir)
    .filter((f) => pattern.test(f))
    .sort()
    .filter((_, i) => i % step === 0)
    .map((f) => join(dir, f));
}

export const PYTHON = '/usr/bin/python3';

/** Debian's Biopython, importable by /usr/bin/python3 (.ci/run installs python3-biopython). */
export const BIOPYTHON = new Gate(() => {
  const r = spawnSync(PYTHON, ['-c', 'import Bio.PDB'], { encoding: 'utf8' });
  return r.status === 0 ? null : `Biopython is missing: ${PYTHON} -c 'import Bio.PDB' failed (${(r.stderr || r.error?.message || '').trim()}); apt-get install -y python3-biopython`;
});

/** What Biopython sees in a file: chains in order with residue ids, names, atom counts. */
export interface BiopythonView {
  chains: { id: string; residues: { het: string; number: number; insertion: string; name: string; atoms: number; names: string[]; ca: number[] | null; caB: number | null }[] }[];
}

const BIOPYTHON_SCRIPT = `
import json, sys, warnings
from Bio.PDB import PDBParser, MMCIFParser
warnings.simplefilter('ignore')
fmt, paths = sys.argv[1], sys.argv[2:]
views = []
for path in paths:
    parser = PDBParser(QUIET=True) if fmt == 'pdb' else MMCIFParser(QUIET=True)
    model = next(iter(parser.get_structure('s', path)))
    out = []
    for chain in model:
        res = []
        for r in chain:
            het, num, ins = r.id
            ca = r['CA'] if 'CA' in r else None
            res.append(dict(het=het, number=num, insertion=ins.strip(), name=r.get_resname(), atoms=len(r), names=[a.get_id() for a in r],
                            ca=[float(v) for v in ca.coord] if ca is not None else None, caB=float(ca.bfactor) if ca is not None else None))
        out.append(dict(id=chain.id, residues=res))
    views.append(dict(chains=out))
print(json.dumps(views))
`;

/** Parses files with Biopython (PDBParser or MMCIFParser, first model), in one Python process. */
export function biopythonReadAll(paths: readonly string[], format: 'pdb' | 'cif'): BiopythonView[] {
  const r = spawnSync(PYTHON, ['-c', BIOPYTHON_SCRIPT, format, ...paths], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`Biopython failed on ${paths.join(', ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as BiopythonView[];
}

/** Parses one file with Biopython. */
export function biopythonRead(path: string, format: 'pdb' | 'cif'): BiopythonView {
  return biopythonReadAll([path], format)[0];
}

/** Converts PDB files to mmCIF with Biopython's MMCIFIO (an independent mmCIF writer), in one Python process. */
export function biopythonPdbToCif(pairs: readonly (readonly [pdb: string, cif: string])[]): void {
  const script = `
import sys, warnings
from Bio.PDB import PDBParser, MMCIFIO
warnings.simplefilter('ignore')
args = sys.argv[1:]
for pdb, cif in zip(args[0::2], args[1::2]):
    s = PDBParser(QUIET=True).get_structure('s', pdb)
    io = MMCIFIO(); io.set_structure(s); io.save(cif)
`;
  const r = spawnSync(PYTHON, ['-c', script, ...pairs.flat()], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`Biopython MMCIFIO failed: ${r.stderr}`);
}

/**
 * A small predicted-like Fv: heavy chain of 24 residues numbered with IMGT-style insertions
 * (111A, 111B, 112B, 112A), light chain of 16 with Kabat-style 27A–27C, per-residue errors.
 */
export function sampleFv(): Structure & { heavyIds: ResidueId[]; lightIds: ResidueId[] } {
  const heavySeq = 'EVQLVESGGGLVQPGGSLRLSCAW';
  const lightSeq = 'DIQMTQSPSSLSASVY';
  const seq = heavySeq + lightSeq;
  const aatype = Array.from(seq, (c) => F.restypeIndex(c));
  const n = aatype.length;
  const phi = aatype.map((_, i) => (i % 7 === 3 ? -70 : -120));
  const psi = aatype.map((_, i) => (i % 7 === 3 ? -40 : 130));
  const chi = aatype.map(() => [-65, 180, 180, 180]);
  const atoms = F.buildChain(aatype, { phi, psi, chi });
  const heavyIds: ResidueId[] = [];
  for (let k = 0; k < 20; k++) heavyIds.push({ number: 100 + k, insertion: '' });
  heavyIds.splice(12, 0, { number: 111, insertion: 'A' }, { number: 111, insertion: 'B' }, { number: 112, insertion: 'B' }, { number: 112, insertion: 'A' });
  heavyIds.length = heavySeq.length;
  const lightIds: ResidueId[] = [];
  for (let k = 1; k <= 13; k++) lightIds.push({ number: 20 + k, insertion: '' });
  lightIds.splice(7, 0, { number: 27, insertion: 'A' }, { number: 27, insertion: 'B' }, { number: 27, insertion: 'C' });
  const errors = Array.from({ length: n }, (_, i) => 0.25 + (i % 9) * 0.75);
  const chains = F.atom14ToChains(
    atoms,
    [
      { id: 'H', start: 0, numbering: heavyIds },
      { id: 'L', start: heavySeq.length, numbering: lightIds },
    ],
    errors,
  );
  return {
    chains,
    heavyIds,
    lightIds,
    metadata: {
      version: '0.1.0',
      model: 'test-model',
      scheme: 'imgt',
      sequences: [
        { chain: 'H', sequence: heavySeq },
        { chain: 'L', sequence: lightSeq },
      ],
      cdrs: [
        { name: 'H3', chain: 'H', start: { number: 105, insertion: '' }, end: { number: 112, insertion: 'A' } },
        { name: 'L1', chain: 'L', start: { number: 27, insertion: '' }, end: { number: 27, insertion: 'C' } },
      ],
    },
  };
}

/** What Biopython read back from our file of `fv` equals `fv`: chains, residues (het flag, number, insertion, name, atom count), Cα B-factor and coordinates. */
export function expectSameAsBiopython(view: BiopythonView, fv: Structure): void {
  expect(view.chains.map((c) => c.id)).toEqual(['H', 'L']);
  fv.chains.forEach((chain, ci) => {
    const bio = view.chains[ci].residues;
    expect(bio.length).toBe(chain.residues.length);
    chain.residues.forEach((r, k) => {
      const b = bio[k];
      expect([b.het, b.number, b.insertion, b.name, b.atoms]).toEqual([' ', r.number, r.insertion, r.name, r.atoms.length]);
      const ca = r.atoms.find((a) => a.name === 'CA')!;
      expect(Math.abs(b.caB! - ca.bFactor)).toBeLessThan(0.006);
      [ca.x, ca.y, ca.z].forEach((v, j) => expect(Math.abs(b.ca![j] - v)).toBeLessThan(0.001));
    });
  });
}
