/**
 * Reading the Chothia-numbered Rosetta antibody Fv set (`../shared/data/antibody-structures`):
 * chain sequences and their residue labels from the ATOM records, and the CDR columns of
 * `rosetta-fv.info`. Shared by the report script (`report-rosetta.ts`) and the tests.
 */
import fs from 'node:fs';
import path from 'node:path';

import type { NumberedDomain } from '../../src/antibody/index.js';
import { decompressByName } from '../../src/io/compressed.js';
import { parsePdb } from '../../src/io/pdb.js';
import { oneLetter, residueLetter } from '../../src/io/residue-names.js';
import type { StructureAtom } from '../../src/io/structure.js';

/** One chain of a structure: residues in file order with their Chothia labels (`31A`). */
export interface StructureChain {
  sequence: string;
  labels: string[];
  /** Number of chain breaks: consecutive residues whose CA atoms are > 4.2 Å apart (missing residues). */
  breaks: number;
}

/** Chains H and L (either may be absent) of one `pdbXXXX_chothia.pdb.bz2`. */
export interface StructureEntry {
  id: string;
  chains: Partial<Record<'H' | 'L', StructureChain>>;
}

/** Chains H and L of a parsed PDB: sequence and labels from the ATOM residues, breaks from Cα gaps. */
export function parseStructure(id: string, pdb: string): StructureEntry {
  const chains: Partial<Record<'H' | 'L', StructureChain>> = {};
  for (const ch of parsePdb(pdb, id).chains) {
    if (ch.id !== 'H' && ch.id !== 'L') continue;
    const c: StructureChain = { sequence: '', labels: [], breaks: 0 };
    let prev: StructureAtom | undefined;
    for (const r of ch.residues) {
      if (r.hetero && residueLetter(r.name) === undefined) continue;
      const ca = r.atoms.find((a) => a.name === 'CA');
      if (ca && prev && Math.hypot(ca.x - prev.x, ca.y - prev.y, ca.z - prev.z) > 4.2) c.breaks++;
      if (ca) prev = ca;
      c.sequence += oneLetter(r.name);
      c.labels.push(`${r.number}${r.insertion}`);
    }
    chains[ch.id] = c;
  }
  return { id, chains };
}

/** The structure files of a rosetta-fv folder, sorted. */
export function listStructures(folder: string): string[] {
  return fs
    .readdirSync(folder)
    .filter((f) => /^pdb\w{4}_chothia\.pdb\.bz2$/.test(f))
    .sort()
    .map((f) => path.join(folder, f));
}

/** Reads one structure file. */
export function readStructure(file: string): StructureEntry {
  const id = /pdb(\w{4})_chothia/.exec(path.basename(file))![1]!;
  return parseStructure(id, Buffer.from(decompressByName(file, fs.readFileSync(file))).toString('utf8'));
}

/** The CDR columns of rosetta-fv.info, by entry id ('none' when the entry has none). */
export type CdrColumns = Record<'h1' | 'h2' | 'h3' | 'l1' | 'l2' | 'l3', string>;

/** Reads `rosetta-fv.info`. */
export function readInfo(file: string): Map<string, CdrColumns> {
  const out = new Map<string, CdrColumns>();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const f = line.trim().split(/\s+/);
    // pdb resolution BioType date LightType StructSource h1 h2 h3 l1 l2 l3 frh frl
    out.set(f[0]!, { h1: f[6]!, h2: f[7]!, h3: f[8]!, l1: f[9]!, l2: f[10]!, l3: f[11]! });
  }
  return out;
}

/** The Chothia-numbered ranges the info file's CDR columns hold. */
export const INFO_CDR_RANGES: Record<keyof CdrColumns, [number, number]> = {
  h1: [26, 35],
  h2: [50, 65],
  h3: [95, 102],
  l1: [24, 34],
  l2: [50, 56],
  l3: [89, 97],
};

/** The residues of `domain` whose Chothia number lies in [a, b] (insertions included). */
export function chothiaRange(domain: NumberedDomain, [a, b]: [number, number]): string {
  return domain.residues
    .filter((r) => r.chothia.number >= a && r.chothia.number <= b)
    .map((r) => r.aa)
    .join('');
}

/** A label as balmkit writes it: number + insertion code. */
export const label = (number: number, insertion: string): string => `${number}${insertion}`;
