/**
 * Reading the Chothia-numbered Rosetta antibody Fv set (`../shared/data/antibody-structures`):
 * chain sequences and their residue labels from the ATOM records, and the CDR columns of
 * `rosetta-fv.info`. Shared by the report script (`report-rosetta.ts`) and the tests.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import type { NumberedDomain } from '../../src/antibody/index.js';

const THREE_TO_ONE: Record<string, string> = {
  ALA: 'A', ARG: 'R', ASN: 'N', ASP: 'D', CYS: 'C', GLN: 'Q', GLU: 'E', GLY: 'G', HIS: 'H', ILE: 'I',
  LEU: 'L', LYS: 'K', MET: 'M', PHE: 'F', PRO: 'P', SER: 'S', THR: 'T', TRP: 'W', TYR: 'Y', VAL: 'V',
  MSE: 'M', PCA: 'Q',
};

/** One chain of a structure: residues in file order with their Chothia labels (`31A`). */
export interface StructureChain {
  sequence: string;
  labels: string[];
}

/** Chains H and L (either may be absent) of one `pdbXXXX_chothia.pdb.bz2`. */
export interface StructureEntry {
  id: string;
  chains: Partial<Record<'H' | 'L', StructureChain>>;
}

/** Decompresses a .bz2 with the system's bzip2 (Node has no bzip2; this is a dev/test tool). */
export function readBz2(file: string): string {
  return execFileSync('bzip2', ['-dc', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
}

/** Parses the ATOM records: one residue per (chain, number, insertion code), first altloc wins. */
export function parseStructure(id: string, pdb: string): StructureEntry {
  const chains: Partial<Record<'H' | 'L', StructureChain>> = {};
  const seen = new Set<string>();
  for (const line of pdb.split('\n')) {
    if (!line.startsWith('ATOM')) continue;
    const chain = line[21];
    if (chain !== 'H' && chain !== 'L') continue;
    const resSeq = line.slice(22, 26).trim();
    const iCode = line[26]?.trim() ?? '';
    const key = `${chain}${resSeq}${iCode}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const aa = THREE_TO_ONE[line.slice(17, 20)] ?? 'X';
    const c = (chains[chain] ??= { sequence: '', labels: [] });
    c.sequence += aa;
    c.labels.push(`${resSeq}${iCode}`);
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
  return parseStructure(id, readBz2(file));
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
