/**
 * Experimental antibody structures as numbered chains: the observed residues of each chain (the
 * input a predictor gets), their heavy atoms in the atom14 layout, and the IMGT / Chothia / Kabat
 * numbering and CDR regions of each residue from balmkit's own numbering of the observed sequence.
 * The baseline's template builder, the leakage-free split and the accuracy benchmark all read
 * structures through here, so they agree on which residue is which.
 */
import { number, type NumberedResidue } from '../antibody/index.js';
import type { ChainType } from '../antibody/profile.js';
import { readMmcif } from '../io/mmcif.js';
import { readPdb } from '../io/pdb.js';
import { oneLetter, type Structure, type StructureChain } from '../io/structure.js';
import type { Atom14 } from './atoms.js';
import { ATOM14_NAMES, ATOMS_PER_RESIDUE, RESNAMES, restypeIndex } from './residue-constants.js';

/** One chain of an experimental structure, numbered. */
export interface NumberedChain {
  /** Chain id in the file. */
  id: string;
  /** H heavy, K kappa, L lambda (from the numbering). */
  chainType: ChainType;
  /** One-letter sequence of the observed residues (standard amino acids with N, CA and C), in file order. */
  sequence: string;
  /** Heavy atoms of those residues. */
  atoms: Atom14;
  /** Per residue: its numbering, or null for residues outside the variable domain. */
  numbering: (NumberedResidue | null)[];
  /** Per residue: 1 when C(i−1)–N(i) is missing or longer than 2 Å (unobserved residues before it). */
  breakBefore: Uint8Array;
}

/** A structure's numbered variable-domain chains, and the chains that could not be numbered. */
export interface NumberedStructure {
  id: string;
  chains: NumberedChain[];
  /** Chains skipped, with why. */
  skipped: { chain: string; reason: string }[];
}

/** Reads a PDB or mmCIF file (`.gz`/`.bz2` too) by its extension. */
export async function readStructureFile(path: string): Promise<Structure> {
  return /\.cif(\.gz|\.bz2)?$/i.test(path) ? readMmcif(path) : readPdb(path);
}

/**
 * The observed residues of a chain in the atom14 layout. Modified residues count as their parent
 * amino acid (MSE as MET) with the atoms whose names match; residues without N, CA and C are left
 * out, since nothing can be measured on them.
 */
export function observedResidues(chain: StructureChain): { sequence: string; atoms: Atom14; breakBefore: Uint8Array } {
  const kept: { type: number; residue: StructureChain['residues'][number] }[] = [];
  for (const r of chain.residues) {
    const type = restypeIndex(oneLetter(r.name));
    if (type < 0) continue;
    const names = new Set(r.atoms.map((a) => a.name));
    if (!names.has('N') || !names.has('CA') || !names.has('C')) continue;
    kept.push({ type, residue: r });
  }
  const n = kept.length;
  const aatype = new Int32Array(n);
  const positions = new Float64Array(n * ATOMS_PER_RESIDUE * 3);
  const mask = new Uint8Array(n * ATOMS_PER_RESIDUE);
  kept.forEach(({ type, residue }, i) => {
    aatype[i] = type;
    const slots = ATOM14_NAMES[RESNAMES[type]];
    for (const a of residue.atoms) {
      const s = slots.indexOf(a.name);
      if (s < 0) continue;
      positions.set([a.x, a.y, a.z], (i * ATOMS_PER_RESIDUE + s) * 3);
      mask[i * ATOMS_PER_RESIDUE + s] = 1;
    }
  });
  const breakBefore = new Uint8Array(n);
  for (let i = 1; i < n; i++) {
    const c = ((i - 1) * ATOMS_PER_RESIDUE + 2) * 3;
    const nn = i * ATOMS_PER_RESIDUE * 3;
    const d = Math.hypot(positions[c] - positions[nn], positions[c + 1] - positions[nn + 1], positions[c + 2] - positions[nn + 2]);
    if (d > 2.0) breakBefore[i] = 1;
  }
  const sequence = kept.map((k) => oneLetter(RESNAMES[k.type])).join('');
  return { sequence, atoms: { aatype, positions, mask }, breakBefore };
}

/**
 * Numbers the chains of an experimental structure (all chains, or `chainIds`). A chain that is not
 * an antibody variable domain, or holds two domains, is skipped with the reason.
 */
export function numberStructure(id: string, structure: Structure, chainIds?: readonly string[]): NumberedStructure {
  const chains: NumberedChain[] = [];
  const skipped: NumberedStructure['skipped'] = [];
  for (const c of structure.chains) {
    if (chainIds && !chainIds.includes(c.id)) continue;
    const { sequence, atoms, breakBefore } = observedResidues(c);
    if (sequence.length < 60) {
      skipped.push({ chain: c.id, reason: `${sequence.length} observed residues; a variable domain has ~110` });
      continue;
    }
    try {
      const r = number(sequence, { scheme: 'imgt', source: { record: id, chain: c.id } });
      if (r.domains.length !== 1) {
        skipped.push({ chain: c.id, reason: `${r.domains.length} variable domains in one chain` });
        continue;
      }
      const d = r.domains[0];
      const numbering: (NumberedResidue | null)[] = new Array(sequence.length).fill(null);
      for (const res of d.residues) numbering[res.index] = res;
      chains.push({ id: c.id, chainType: d.chainType, sequence, atoms, numbering, breakBefore });
    } catch (e) {
      skipped.push({ chain: c.id, reason: e instanceof Error ? e.message : String(e) });
    }
  }
  return { id, chains, skipped };
}

/** Reads and numbers one structure file. */
export async function readNumberedStructure(path: string, id: string, chainIds?: readonly string[]): Promise<NumberedStructure> {
  return numberStructure(id, await readStructureFile(path), chainIds);
}
