/**
 * Between the fold's atom14 arrays and the I/O structure type: predicted residues become PDB/mmCIF
 * chains with the caller's numbering and per-residue error, and experimental chains become atom14
 * arrays (for relaxation, torsions and benchmarks).
 */
import type { ResidueId, Structure, StructureChain, StructureResidue } from '../io/structure.js';
import type { Atom14 } from './atoms.js';
import { ATOM14_NAMES, ATOMS_PER_RESIDUE, RESNAMES, elementOfAtomName, resnameIndex } from './residue-constants.js';

/** Where a chain sits in an {@link Atom14} and how its residues are numbered. */
export interface ChainLayout {
  /** Chain id (`H`, `L`). */
  id: string;
  /** First residue index in the atom14 arrays. */
  start: number;
  /** Residue numbers with insertion codes, one per residue of the chain (its length is the chain length). */
  numbering: readonly ResidueId[];
}

/**
 * Chains of a predicted structure. `errors` (Å, one per residue across all chains) goes to the
 * B-factor column; occupancy is 1.
 */
export function atom14ToChains(atoms: Atom14, layout: readonly ChainLayout[], errors?: ArrayLike<number>): StructureChain[] {
  const n = atoms.aatype.length;
  if (errors && errors.length !== n) throw new RangeError(`errors: ${errors.length} values for ${n} residues`);
  return layout.map((c) => {
    if (c.start < 0 || c.start + c.numbering.length > n) throw new RangeError(`chain ${c.id}: residues ${c.start}..${c.start + c.numbering.length - 1} are outside the ${n} residues`);
    const residues: StructureResidue[] = c.numbering.map((id, k) => {
      const i = c.start + k;
      const name = RESNAMES[atoms.aatype[i]];
      const names = ATOM14_NAMES[name];
      const residue: StructureResidue = { name, number: id.number, insertion: id.insertion, hetero: false, atoms: [] };
      names.forEach((atomName, s) => {
        const j = i * ATOMS_PER_RESIDUE + s;
        if (!atoms.mask[j]) return;
        residue.atoms.push({
          name: atomName,
          element: elementOfAtomName(atomName),
          x: atoms.positions[j * 3],
          y: atoms.positions[j * 3 + 1],
          z: atoms.positions[j * 3 + 2],
          occupancy: 1,
          bFactor: errors ? errors[i] : 0,
        });
      });
      return residue;
    });
    return { id: c.id, residues };
  });
}

/** An experimental chain set as atom14 arrays, with where each chain starts. */
export interface Atom14FromStructure extends Atom14 {
  /** Chain id and first residue index of each chain, in order. */
  chains: { id: string; start: number; length: number }[];
  /** Residue ids, one per residue. */
  ids: ResidueId[];
  /**
   * Residues that begin a bonded segment: each chain's first residue, and every residue after a
   * gap (C(i)–N(i+1) missing or longer than 2 Å, i.e. unobserved residues between). Pass it as
   * `chainStarts` to the relaxation and the geometry checks.
   */
  chainStarts: number[];
}

/**
 * Standard amino-acid residues of the given chains (all chains by default) as atom14 arrays.
 * Non-standard residues and atoms outside the atom14 layout (hydrogens, OXT) are skipped.
 */
export function structureToAtom14(structure: Structure, chainIds?: readonly string[]): Atom14FromStructure {
  const chains = structure.chains.filter((c) => !chainIds || chainIds.includes(c.id));
  const kept = chains.map((c) => ({ id: c.id, residues: c.residues.filter((r) => resnameIndex(r.name) >= 0) }));
  const n = kept.reduce((s, c) => s + c.residues.length, 0);
  const aatype = new Int32Array(n);
  const positions = new Float64Array(n * ATOMS_PER_RESIDUE * 3);
  const mask = new Uint8Array(n * ATOMS_PER_RESIDUE);
  const ids: ResidueId[] = [];
  const layout: Atom14FromStructure['chains'] = [];
  let i = 0;
  for (const c of kept) {
    layout.push({ id: c.id, start: i, length: c.residues.length });
    for (const r of c.residues) {
      const t = resnameIndex(r.name);
      aatype[i] = t;
      const names = ATOM14_NAMES[RESNAMES[t]];
      for (const a of r.atoms) {
        const s = names.indexOf(a.name);
        if (s < 0) continue;
        const j = i * ATOMS_PER_RESIDUE + s;
        positions.set([a.x, a.y, a.z], j * 3);
        mask[j] = 1;
      }
      ids.push({ number: r.number, insertion: r.insertion });
      i++;
    }
  }
  const chainStarts: number[] = [];
  for (const c of layout) {
    for (let k = 0; k < c.length; k++) {
      const i = c.start + k;
      if (k === 0) {
        chainStarts.push(i);
        continue;
      }
      const C = (i - 1) * ATOMS_PER_RESIDUE + 2;
      const N = i * ATOMS_PER_RESIDUE;
      const gap = !mask[C] || !mask[N] || Math.hypot(positions[C * 3] - positions[N * 3], positions[C * 3 + 1] - positions[N * 3 + 1], positions[C * 3 + 2] - positions[N * 3 + 2]) > 2.0;
      if (gap) chainStarts.push(i);
    }
  }
  return { aatype, positions, mask, chains: layout, ids, chainStarts };
}
