/**
 * The structure files `balmkit view` serves: the command line's files and folders turned into a
 * fixed, numbered list. The server addresses files only by their index in this list, so nothing
 * a browser asks for can name any other file.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { decompressByName } from '../io/compressed.js';
import { describePairing, pairResidues, type ResiduePairing } from '../fold/residue-pairs.js';
import { formatMmcif, parseMmcif } from '../io/mmcif.js';
import { parsePdb } from '../io/pdb.js';
import type { Structure } from '../io/structure.js';

/** A file given to the viewer that is not a structure (a usage mistake: exit code 2 in the CLI). */
export class ViewInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ViewInputError';
  }
}

/** Structure file formats the viewer reads. */
export type StructureFormat = 'pdb' | 'mmcif';

/** Whether a file is a balmkit prediction (has balmkit's metadata) or another structure. */
export type StructureKind = 'prediction' | 'experimental';

/** One served file. */
export interface ViewFile {
  /** Its index: the page fetches it as `/files/<index>`. */
  index: number;
  /** Absolute path on disk (never sent to the page). */
  path: string;
  /** File name shown on the page. */
  name: string;
  /** The format the page is served (a PDB prediction is served as mmCIF, see `asMmcif`). */
  format: StructureFormat;
  kind: StructureKind;
  /**
   * Served converted to mmCIF: a balmkit prediction in PDB. Mol* takes PDB residue numbers as
   * sequence positions and draws "missing residue" dashes at every gap of IMGT numbering; balmkit's
   * mmCIF keeps the numbers as author ids and counts label_seq_id 1, 2, 3…, so only real breaks
   * (backbone not connected) show.
   */
  asMmcif?: boolean;
}

/** What the page is told about a file (`/api/files`): no paths. */
export type ViewFileInfo = Omit<ViewFile, 'path' | 'asMmcif'>;

/** File names a folder argument contributes (optionally compressed). */
const STRUCTURE_NAME = /\.(pdb|ent|cif|mmcif)(\.gz|\.bz2)?$/i;

/** Reads a served file as text, decompressing `.gz` / `.bz2` (and converting it when `asMmcif`). */
export async function readViewFile(file: Pick<ViewFile, 'path' | 'asMmcif'>): Promise<string> {
  const text = Buffer.from(decompressByName(file.path, await readFile(file.path))).toString('utf8');
  return file.asMmcif ? formatMmcif(parsePdb(text, file.path), { name: path.basename(file.path).replace(/\..*$/, '') }) : text;
}

/** A served file read as a structure (for pairing residues on the server). */
export async function readViewStructure(file: Pick<ViewFile, 'path' | 'asMmcif' | 'format' | 'name'>): Promise<Structure> {
  const text = await readViewFile(file);
  return file.format === 'mmcif' ? parseMmcif(text, file.name) : parsePdb(text, file.name);
}

/**
 * The residue pairs to superpose file `moving` on file `fixed` (`/api/pairs/<moving>/<fixed>`):
 * both numbered in one scheme by balmkit (src/fold/residue-pairs.ts), so files numbered in
 * different schemes pair the same residues. Residues as [chain, number, insertion] triples.
 */
export async function viewPairs(moving: ViewFile, fixed: ViewFile): Promise<ViewPairs> {
  const [m, f] = await Promise.all([readViewStructure(moving), readViewStructure(fixed)]);
  const p = pairResidues(m, f);
  return {
    method: p.method,
    description: describePairing(p),
    chains: p.chains,
    pairs: p.pairs.map((x) => [
      [x.moving.chain, x.moving.number, x.moving.insertion],
      [x.fixed.chain, x.fixed.number, x.fixed.insertion],
    ]),
  };
}

/** What `/api/pairs` answers. */
export interface ViewPairs {
  method: ResiduePairing['method'];
  /** "222 residues paired by IMGT numbering of both structures: H↔H 120 (…), L↔L 102 (…)". */
  description: string;
  chains: ResiduePairing['chains'];
  pairs: [[string, number, string], [string, number, string]][];
}

/** The format of a structure text: mmCIF starts with a `data_` block, anything else is read as PDB. */
export function detectFormat(text: string): StructureFormat {
  for (const line of text.split('\n', 200)) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    return t.startsWith('data_') ? 'mmcif' : 'pdb';
  }
  return 'pdb';
}

/** A prediction carries balmkit's metadata (`REMARK 999 BALMKIT` in PDB, `_balmkit_remark` in mmCIF). */
export function detectKind(text: string): StructureKind {
  return /^REMARK 999 BALMKIT /m.test(text) || /^_balmkit_remark\./m.test(text) ? 'prediction' : 'experimental';
}

/**
 * Why a text is not a structure the viewer can show, or null when it is one: it has atom records
 * (PDB `ATOM`/`HETATM` lines, mmCIF `_atom_site`). Sequences (FASTA, CSV, a bare sequence) get
 * the command that makes a structure of them.
 */
export function notAStructure(text: string, name: string): string | null {
  if (detectFormat(text) === 'mmcif' ? /^_atom_site\./m.test(text) : /^(ATOM {2}|HETATM)/m.test(text)) return null;
  const first =
    text
      .split('\n')
      .find((l) => l.trim() !== '')
      ?.trim() ?? '';
  const predict = `balmkit predict-structure ${name} -o structures/ and then balmkit view structures/`;
  if (first.startsWith('>')) return `it is a FASTA file of sequences, not a structure: predict structures first (${predict})`;
  if (/^name\s*,/i.test(first)) return `it is a CSV of sequences, not a structure: predict structures first (${predict})`;
  if (first === '') return 'the file is empty';
  return 'it has no atom records (PDB ATOM/HETATM lines or an mmCIF _atom_site table): give a .pdb or .cif structure file';
}

/**
 * Resolves command-line arguments (files, or folders whose structure files are taken in name
 * order, not recursively) into the served list, reading each file once to check it and to tell
 * its format and kind.
 *
 * @throws Error naming the argument when it does not exist, a folder holds no structure file,
 *   or a file cannot be read.
 */
export async function resolveViewFiles(args: readonly string[], cwd = process.cwd()): Promise<ViewFile[]> {
  const paths: string[] = [];
  for (const arg of args) {
    const abs = path.resolve(cwd, arg);
    const st = await stat(abs).catch(() => undefined);
    if (!st) throw new Error(`${arg}: no such file or folder`);
    if (st.isDirectory()) {
      const names = (await readdir(abs)).filter((n) => STRUCTURE_NAME.test(n)).sort();
      if (names.length === 0) throw new Error(`${arg}: the folder has no .pdb, .ent, .cif or .mmcif file (optionally .gz or .bz2)`);
      for (const n of names) paths.push(path.join(abs, n));
    } else {
      paths.push(abs);
    }
  }
  const files: ViewFile[] = [];
  for (const p of paths) {
    let text: string;
    try {
      text = await readViewFile({ path: p });
    } catch (e) {
      throw new Error(`${p}: cannot be read (${e instanceof Error ? e.message : String(e)})`, { cause: e });
    }
    const problem = notAStructure(text, path.relative(cwd, p) || p);
    if (problem !== null) throw new ViewInputError(`${path.relative(cwd, p) || p}: ${problem}`);
    const format = detectFormat(text);
    const kind = detectKind(text);
    const asMmcif = format === 'pdb' && kind === 'prediction';
    files.push({ index: files.length, path: p, name: path.basename(p), format: asMmcif ? 'mmcif' : format, kind, ...(asMmcif ? { asMmcif } : {}) });
  }
  return files;
}
