/**
 * The Rosetta antibody Fv set (`../shared/data/antibody-structures/rosetta-fv`) as compact numbered
 * entries: per chain the observed sequence, IMGT and Chothia ids and regions of each residue,
 * backbone atoms (N, CA, C, O) and chi angles. Shared by `make-split.ts` and `make-baseline.ts`.
 * Parsing and numbering 1,915 files takes a few minutes, so the result is cached in the system's
 * temporary folder, keyed by the file list and the contents of the numbering and fold code.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';

import { readNumberedStructure, type NumberedChain } from '../../src/fold/dataset.js';
import { ATOM14_NAMES, ATOMS_PER_RESIDUE, CHI_ANGLE_ATOMS, RESNAMES } from '../../src/fold/residue-constants.js';
import { dihedral } from '../../src/fold/rigid.js';
import type { ChainType } from '../../src/antibody/profile.js';

/** One chain, compact. Per-residue arrays have the sequence's length. */
export interface EntryChain {
  id: string;
  chainType: ChainType;
  sequence: string;
  /** IMGT id (`111A`), or '' outside the variable domain. */
  imgt: string[];
  chothia: string[];
  /** Region under the IMGT and the Chothia definition ('' outside the domain). */
  imgtRegion: string[];
  chothiaRegion: string[];
  /** N, CA, C, O per residue, 12 numbers (Å, 3 decimals); an absent O is `null`s. */
  backbone: (number | null)[];
  /** chi1–chi4 per residue in degrees (1 decimal), `null` where the residue has no such chi or its atoms are missing. */
  chi: (number | null)[];
  /** 1 where unobserved residues lie before this one. */
  breakBefore: number[];
}

/** One structure. */
export interface Entry {
  id: string;
  chains: EntryChain[];
  skipped: { chain: string; reason: string }[];
}

/** The rosetta-fv folder of a data root. */
export function rosettaFolder(data: string): string {
  return path.join(data, 'antibody-structures', 'rosetta-fv');
}

/** PDB id of a `pdbXXXX_chothia.pdb.bz2` file name. */
export function idOfFile(file: string): string {
  return /^pdb(\w{4})_chothia/.exec(path.basename(file))![1]!.toLowerCase();
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

function compactChain(c: NumberedChain): EntryChain {
  const n = c.sequence.length;
  const p = c.atoms.positions;
  const backbone: (number | null)[] = [];
  const chi: (number | null)[] = [];
  for (let i = 0; i < n; i++) {
    for (let s = 0; s < 4; s++) {
      const present = c.atoms.mask[i * ATOMS_PER_RESIDUE + s] === 1;
      for (let k = 0; k < 3; k++) backbone.push(present ? r3(p[(i * ATOMS_PER_RESIDUE + s) * 3 + k]!) : null);
    }
    const name = RESNAMES[c.atoms.aatype[i]!]!;
    const defs = CHI_ANGLE_ATOMS[name]!;
    for (let k = 0; k < 4; k++) {
      const def = defs[k];
      if (!def) {
        chi.push(null);
        continue;
      }
      const pts = def.map((nm) => atomAt(c, i, nm));
      chi.push(pts.every((x) => x !== undefined) ? Math.round((dihedral(pts[0]!, pts[1]!, pts[2]!, pts[3]!) * 1800) / Math.PI) / 10 : null);
    }
  }
  const id = (x: { number: number; insertion: string }) => `${x.number}${x.insertion}`;
  return {
    id: c.id,
    chainType: c.chainType,
    sequence: c.sequence,
    imgt: c.numbering.map((r) => (r ? id(r.imgt) : '')),
    chothia: c.numbering.map((r) => (r ? id(r.chothia) : '')),
    imgtRegion: c.numbering.map((r) => (r ? r.regions.imgt : '')),
    chothiaRegion: c.numbering.map((r) => (r ? r.regions.chothia : '')),
    backbone,
    chi,
    breakBefore: Array.from(c.breakBefore),
  };
}

function atomAt(c: NumberedChain, i: number, name: string): [number, number, number] | undefined {
  const s = ATOM14_NAMES[RESNAMES[c.atoms.aatype[i]!]!]!.indexOf(name);
  if (s < 0 || !c.atoms.mask[i * ATOMS_PER_RESIDUE + s]) return undefined;
  const o = (i * ATOMS_PER_RESIDUE + s) * 3;
  return [c.atoms.positions[o]!, c.atoms.positions[o + 1]!, c.atoms.positions[o + 2]!];
}

/**
 * Every entry of rosetta-fv, numbered (chains H and L), from the cache when it matches the file
 * list, else parsed now (progress on stderr) and cached.
 */
export async function loadRosettaEntries(data: string): Promise<Entry[]> {
  const folder = rosettaFolder(data);
  const files = fs
    .readdirSync(folder)
    .filter((f) => /^pdb\w{4}_chothia\.pdb\.bz2$/.test(f))
    .sort();
  // The key covers the file list and the numbering code and profiles, so a changed numbering rebuilds.
  const hash = createHash('sha256').update(files.join('\n')).update('v1');
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
  for (const dir of ['src/antibody', 'src/fold', 'models/numbering']) {
    for (const f of fs.readdirSync(path.join(root, dir)).sort()) {
      const full = path.join(root, dir, f);
      if (fs.statSync(full).isFile()) hash.update(f).update(fs.readFileSync(full));
    }
  }
  const key = hash.digest('hex').slice(0, 16);
  const cache = path.join(os.tmpdir(), `balmkit-rosetta-entries-${key}.json`);
  if (fs.existsSync(cache)) return JSON.parse(fs.readFileSync(cache, 'utf8')) as Entry[];
  const out: Entry[] = [];
  const t0 = Date.now();
  for (const [k, f] of files.entries()) {
    const id = idOfFile(f);
    const s = await readNumberedStructure(path.join(folder, f), id, ['H', 'L']);
    out.push({ id, chains: s.chains.map(compactChain), skipped: s.skipped });
    if (k % 100 === 0) process.stderr.write(`  numbered ${k}/${files.length} structures (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
  }
  const tmp = `${cache}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(out));
  fs.renameSync(tmp, cache);
  return out;
}
