/**
 * The structure type shared by the PDB and mmCIF readers and writers: chains of residues of
 * atoms, residue numbers with insertion codes as the numbering scheme gives them, and balmkit's
 * own metadata (tool version, model, sequences, scheme, CDR ranges) that both formats carry.
 */
import { randomBytes } from 'node:crypto';
import { rename, unlink, writeFile } from 'node:fs/promises';
import { BadInputError } from '../runtime/errors.js';
import { oneLetter } from './residue-names.js';

/** One atom. */
export interface StructureAtom {
  /** Atom name as in PDB files (`CA`, `OD1`). */
  name: string;
  /** Element symbol, upper case (`C`, `N`, `O`, `S`, `SE`). */
  element: string;
  x: number;
  y: number;
  z: number;
  occupancy: number;
  /** B-factor; in balmkit's predictions, the predicted error of the residue in Å. */
  bFactor: number;
}

/** A residue number with its insertion code (`''` when none): 111A is `{ number: 111, insertion: 'A' }`. */
export interface ResidueId {
  number: number;
  insertion: string;
}

/** One residue. */
export interface StructureResidue extends ResidueId {
  /** Three-letter residue name (`ALA`). */
  name: string;
  /** From HETATM records (modified residues, ligands). */
  hetero: boolean;
  atoms: StructureAtom[];
}

/** One chain. */
export interface StructureChain {
  id: string;
  residues: StructureResidue[];
}

/** A residue the file lists as not observed (PDB REMARK 465 / mmCIF `_pdbx_unobs_or_zero_occ_residues`). */
export interface MissingResidue extends ResidueId {
  chain: string;
  name: string;
}

/** A CDR range as written in balmkit's metadata: both ends inclusive, numbered in `scheme`. */
export interface CdrRange {
  /** `H1` … `L3`. */
  name: string;
  chain: string;
  start: ResidueId;
  end: ResidueId;
}

/** balmkit's metadata of a predicted structure (see {@link metadataLines} for the text form). */
export interface BalmkitMetadata {
  /** balmkit version that wrote the file. */
  version: string;
  /** Model that predicted the structure (folder name or id). */
  model: string;
  /** Numbering scheme of the residue numbers: `imgt`, `chothia` or `kabat`. */
  scheme: string;
  /** Input sequence of each chain, in chain order. */
  sequences: { chain: string; sequence: string }[];
  /** CDR ranges in the numbering scheme. */
  cdrs: CdrRange[];
  /**
   * Chains whose input record held more than the variable domain: the residues kept (1-based,
   * inclusive, in the record) and how many were removed before and after them.
   */
  trimmed?: { chain: string; first: number; last: number; before: number; after: number }[];
  /** The relaxation: whether it converged or stopped at its iteration cap, and the largest atom move (Å). */
  relax?: { converged: boolean; maxMove: number };
}

/** A structure: the chains of the first model, and what the file said about itself. */
export interface Structure {
  chains: StructureChain[];
  /** balmkit's metadata, when the file has it. */
  metadata?: BalmkitMetadata;
  /** Residues listed as unobserved, when the file lists them. */
  missing?: MissingResidue[];
}

export { oneLetter };

/** A residue id as text: `111A`, `27`. */
export function formatResidueId(id: ResidueId): string {
  return `${id.number}${id.insertion}`;
}

/** Parses `111A` / `-3` / `27` into a residue id. */
export function parseResidueId(text: string): ResidueId {
  const m = /^(-?\d+)([A-Za-z]?)$/.exec(text.trim());
  if (!m) throw new SyntaxError(`'${text}' is not a residue number (digits, then an optional insertion letter)`);
  return { number: Number(m[1]), insertion: m[2] ?? '' };
}

/** The one-letter sequence of a chain's residues (polymer residues: every residue with a CA). */
export function chainSequence(chain: StructureChain): string {
  return chain.residues
    .filter((r) => r.atoms.some((a) => a.name === 'CA'))
    .map((r) => oneLetter(r.name))
    .join('');
}

/** Number of atoms in a structure. */
export function atomCount(structure: Structure): number {
  return structure.chains.reduce((n, c) => n + c.residues.reduce((m, r) => m + r.atoms.length, 0), 0);
}

/**
 * Indices i where a chain is broken between residue i and i+1: C(i)–N(i+1) longer than
 * `maxPeptide` Å or either atom missing (a gap in the observed residues).
 */
export function chainBreaks(chain: StructureChain, maxPeptide = 2.0): number[] {
  const out: number[] = [];
  for (let i = 0; i + 1 < chain.residues.length; i++) {
    const c = chain.residues[i].atoms.find((a) => a.name === 'C');
    const n = chain.residues[i + 1].atoms.find((a) => a.name === 'N');
    if (!c || !n || Math.hypot(c.x - n.x, c.y - n.y, c.z - n.z) > maxPeptide) out.push(i);
  }
  return out;
}

/** One coordinate record as a file states it, before altloc and water filtering. */
export interface AtomRecord {
  hetero: boolean;
  resName: string;
  chain: string;
  number: number;
  insertion: string;
  /** Alternate location id, `''` when none. */
  altLoc: string;
  name: string;
  element: string;
  x: number;
  y: number;
  z: number;
  occupancy: number;
  bFactor: number;
}

const WATER = new Set(['HOH', 'WAT', 'DOD', 'H2O']);

/**
 * Builds chains from coordinate records the way both readers need: water skipped; residues keyed
 * by chain, number and insertion code in order of appearance; of alternate locations, the first
 * one met in a residue is kept (atoms without an altloc always are); a repeated atom name keeps its
 * first record.
 */
export class StructureAssembler {
  private readonly chains = new Map<string, StructureChain>();
  private readonly residues = new Map<string, { residue: StructureResidue; altLoc: string; names: Set<string> }>();

  add(r: AtomRecord): void {
    if (WATER.has(r.resName)) return;
    const key = `${r.chain}|${r.number}|${r.insertion}`;
    let build = this.residues.get(key);
    if (!build) {
      let chain = this.chains.get(r.chain);
      if (!chain) this.chains.set(r.chain, (chain = { id: r.chain, residues: [] }));
      const residue: StructureResidue = { name: r.resName, number: r.number, insertion: r.insertion, hetero: r.hetero, atoms: [] };
      chain.residues.push(residue);
      this.residues.set(key, (build = { residue, altLoc: '', names: new Set() }));
    }
    if (r.altLoc !== '') {
      if (build.altLoc === '') build.altLoc = r.altLoc;
      else if (r.altLoc !== build.altLoc) return;
    }
    if (build.names.has(r.name)) return;
    build.names.add(r.name);
    build.residue.atoms.push({ name: r.name, element: r.element, x: r.x, y: r.y, z: r.z, occupancy: r.occupancy, bFactor: r.bFactor });
  }

  /** The chains with at least one residue, in order of appearance. */
  chainsBuilt(): StructureChain[] {
    return [...this.chains.values()].filter((c) => c.residues.length > 0);
  }
}

/** Sequence lines carry this many residues each, so a PDB REMARK stays within 80 columns. */
const SEQUENCE_CHUNK = 40;

/**
 * balmkit's metadata as text lines, the same in PDB (`REMARK 999 BALMKIT <line>`) and mmCIF
 * (`_balmkit_remark.text`). One record per line, fields separated by single spaces:
 *
 *     FORMAT 1
 *     VERSION <balmkit version>
 *     MODEL <model name>
 *     SCHEME <imgt|chothia|kabat>
 *     BFACTOR PREDICTED_ERROR_ANGSTROM
 *     SEQUENCE <chain> <part> <up to 40 one-letter residues>     (parts 1, 2, … concatenate)
 *     CDR <name> <chain> <start> <end>                          (residue ids like 111A, inclusive)
 *     TRIMMED <chain> <first> <last> <before> <after>           (a chain whose record held more than
 *                                                                its domain: residues first–last of the
 *                                                                record kept, 1-based; before/after removed)
 *     RELAX <converged> <max_move>                              (true|false; largest atom move in Å)
 *
 * Readers ignore records they do not know, so later format versions can add some (TRIMMED and
 * RELAX came that way: FORMAT stays 1, an older reader skips them).
 */
export function metadataLines(meta: BalmkitMetadata): string[] {
  const clean = (s: string, what: string) => {
    if (/[\r\n]/.test(s)) throw new BadInputError(`metadata ${what}: line breaks are not allowed`);
    return s.trim();
  };
  const lines = ['FORMAT 1', `VERSION ${clean(meta.version, 'version')}`, `MODEL ${clean(meta.model, 'model')}`, `SCHEME ${clean(meta.scheme, 'scheme')}`, 'BFACTOR PREDICTED_ERROR_ANGSTROM'];
  for (const { chain, sequence } of meta.sequences) {
    if (!/^[A-Za-z0-9]$/.test(chain)) throw new BadInputError(`metadata sequence: chain id '${chain}' must be one letter or digit`);
    if (!/^[A-Za-z]*$/.test(sequence)) throw new BadInputError(`metadata sequence of chain ${chain}: only letters are allowed`);
    for (let part = 0; part * SEQUENCE_CHUNK < sequence.length; part++) {
      lines.push(`SEQUENCE ${chain} ${part + 1} ${sequence.slice(part * SEQUENCE_CHUNK, (part + 1) * SEQUENCE_CHUNK)}`);
    }
  }
  for (const cdr of meta.cdrs) lines.push(`CDR ${cdr.name} ${cdr.chain} ${formatResidueId(cdr.start)} ${formatResidueId(cdr.end)}`);
  for (const t of meta.trimmed ?? []) lines.push(`TRIMMED ${t.chain} ${t.first} ${t.last} ${t.before} ${t.after}`);
  if (meta.relax) lines.push(`RELAX ${meta.relax.converged} ${meta.relax.maxMove.toFixed(2)}`);
  return lines;
}

/** Parses {@link metadataLines} back; undefined when no line is a balmkit record. */
export function parseMetadataLines(lines: readonly string[]): BalmkitMetadata | undefined {
  if (lines.length === 0) return undefined;
  const meta: BalmkitMetadata = { version: '', model: '', scheme: '', sequences: [], cdrs: [] };
  const parts = new Map<string, string[]>();
  for (const line of lines) {
    const [key, ...rest] = line.trim().split(/\s+/);
    const value = line
      .trim()
      .slice((key ?? '').length)
      .trim();
    if (key === 'VERSION') meta.version = value;
    else if (key === 'MODEL') meta.model = value;
    else if (key === 'SCHEME') meta.scheme = value;
    else if (key === 'SEQUENCE' && rest.length >= 2) {
      const [chain, part, seq = ''] = rest as [string, string, string?];
      if (!parts.has(chain)) parts.set(chain, []);
      parts.get(chain)![Number(part) - 1] = seq;
    } else if (key === 'CDR' && rest.length === 4) {
      const [name, chain, start, end] = rest as [string, string, string, string];
      meta.cdrs.push({ name, chain, start: parseResidueId(start), end: parseResidueId(end) });
    } else if (key === 'TRIMMED' && rest.length === 5) {
      const [chain, first, last, before, after] = rest as [string, string, string, string, string];
      (meta.trimmed ??= []).push({ chain, first: Number(first), last: Number(last), before: Number(before), after: Number(after) });
    } else if (key === 'RELAX' && rest.length === 2) {
      meta.relax = { converged: rest[0] === 'true', maxMove: Number(rest[1]) };
    }
  }
  meta.sequences = [...parts].map(([chain, p]) => ({ chain, sequence: p.join('') }));
  return meta;
}

/**
 * Writes `text` to `path` through a temporary file in the same folder and a rename, so an
 * interrupted run leaves either the old file or the new one, never half of one.
 */
export async function writeTextAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, text, 'utf8');
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}
