/**
 * balmkit's metadata in a structure file, as the PDB and mmCIF writers of `src/io` put it:
 * `REMARK 999 BALMKIT <record>` lines in PDB, `_balmkit_remark.text` values in mmCIF, one record
 * per line (`FORMAT`, `VERSION`, `MODEL`, `SCHEME`, `BFACTOR`, `SEQUENCE <chain> <part> <residues>`,
 * `CDR <name> <chain> <start> <end>`; see `metadataLines` in `src/io/structure.ts`). This is a
 * browser-side reader of that format (the Node module cannot be bundled for the page); a test
 * checks it against the Node reader on the same file.
 */

/** A residue number with insertion code, as in `111A`. */
export interface ResidueNumber {
  number: number;
  insertion: string;
}

/** A CDR range, both ends inclusive, numbered in the file's scheme. */
export interface CdrRange {
  name: string;
  chain: string;
  start: ResidueNumber;
  end: ResidueNumber;
}

/** What a balmkit file says about itself. */
export interface BalmkitRemarks {
  format: string;
  version: string;
  model: string;
  scheme: string;
  /** `PREDICTED_ERROR_ANGSTROM` when B-factors are predicted errors. */
  bfactor: string;
  sequences: { chain: string; sequence: string }[];
  cdrs: CdrRange[];
}

/** Parses `111A`, `27`, `-3`; undefined for anything else. */
export function parseResidueNumber(text: string): ResidueNumber | undefined {
  const m = /^(-?\d+)([A-Za-z]?)$/.exec(text.trim());
  return m ? { number: Number(m[1]), insertion: m[2] ?? '' } : undefined;
}

/** The metadata record lines of a PDB or mmCIF text (empty when it has none). */
export function remarkLines(text: string): string[] {
  const pdb = [...text.matchAll(/^REMARK 999 BALMKIT (.*)$/gm)].map((m) => m[1]!.trimEnd());
  if (pdb.length > 0) return pdb;
  return mmcifRemarkLines(text);
}

/** `_balmkit_remark.text`: one value, or a loop of values (quoted or bare). */
function mmcifRemarkLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  const unquote = (s: string): string => {
    const t = s.trim();
    return /^(['"]).*\1$/.test(t) ? t.slice(1, -1) : t;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line.startsWith('_balmkit_remark.text') && line.length > '_balmkit_remark.text'.length) {
      return [unquote(line.slice('_balmkit_remark.text'.length))];
    }
    if (line === '_balmkit_remark.text' && lines[i - 1]?.trim() === 'loop_') {
      const out: string[] = [];
      for (let j = i + 1; j < lines.length; j++) {
        const v = lines[j]!.trim();
        if (v === '' || v === '#' || v.startsWith('_') || v.startsWith('loop_') || v.startsWith('data_')) break;
        if (v.startsWith(';')) continue; // multi-line values are not used by the writer
        out.push(unquote(v));
      }
      return out;
    }
  }
  return [];
}

/** Parses the metadata of a file; undefined when it has none (not a balmkit prediction). */
export function parseRemarks(text: string): BalmkitRemarks | undefined {
  const lines = remarkLines(text);
  if (lines.length === 0) return undefined;
  const out: BalmkitRemarks = { format: '', version: '', model: '', scheme: '', bfactor: '', sequences: [], cdrs: [] };
  const parts = new Map<string, string[]>();
  for (const line of lines) {
    const fields = line.trim().split(/\s+/);
    const key = fields[0] ?? '';
    const value = line.trim().slice(key.length).trim();
    switch (key) {
      case 'FORMAT':
        out.format = value;
        break;
      case 'VERSION':
        out.version = value;
        break;
      case 'MODEL':
        out.model = value;
        break;
      case 'SCHEME':
        out.scheme = value.toLowerCase();
        break;
      case 'BFACTOR':
        out.bfactor = value;
        break;
      case 'SEQUENCE': {
        const [, chain, part, seq = ''] = fields;
        if (chain === undefined || part === undefined) break;
        const list = parts.get(chain) ?? [];
        list[Number(part) - 1] = seq;
        parts.set(chain, list);
        break;
      }
      case 'CDR': {
        const [, name, chain, a, b] = fields;
        const start = parseResidueNumber(a ?? '');
        const end = parseResidueNumber(b ?? '');
        if (name && chain && start && end) out.cdrs.push({ name, chain, start, end });
        break;
      }
      default:
        break; // later format versions may add records
    }
  }
  out.sequences = [...parts].map(([chain, p]) => ({ chain, sequence: p.join('') }));
  return out;
}

/** IMGT CDRs (Lefranc et al. 2003): the same positions on heavy and light chains. */
export const IMGT_CDR_POSITIONS: readonly { cdr: 1 | 2 | 3; start: number; end: number }[] = [
  { cdr: 1, start: 27, end: 38 },
  { cdr: 2, start: 56, end: 65 },
  { cdr: 3, start: 105, end: 117 },
];
