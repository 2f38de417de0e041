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
  const pdb = [...text.matchAll(/^REMARK 999 BALMKIT (.*)$/gm)].map((m) => m[1].trimEnd());
  if (pdb.length > 0) return pdb;
  return mmcifRemarkLines(text);
}

/**
 * CIF tokens from `from` on: bare words, quoted values ('…' or "…", closed by the quote followed
 * by white space), `;` text fields, `#` comments skipped. Enough of CIF for one category.
 */
function* cifTokens(text: string, from: number): Generator<string> {
  let i = from;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
    } else if (c === '#') {
      while (i < n && text[i] !== '\n') i++;
    } else if (c === ';' && (i === 0 || text[i - 1] === '\n')) {
      const end = text.indexOf('\n;', i + 1);
      const stop = end < 0 ? n : end;
      yield text.slice(i + 1, stop).replace(/^\r?\n/, '');
      i = stop + 2;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < n && !(text[j] === c && (j + 1 >= n || /\s/.test(text[j + 1])))) j++;
      yield text.slice(i + 1, j);
      i = j + 1;
    } else {
      let j = i;
      while (j < n && !/\s/.test(text[j])) j++;
      yield text.slice(i, j);
      i = j;
    }
  }
}

/** The `text` values of the `_balmkit_remark` category, in a loop (with `ordinal`) or as one item. */
function mmcifRemarkLines(text: string): string[] {
  const m = /^(loop_\s*\n)?\s*_balmkit_remark\./m.exec(text);
  if (!m) return [];
  const tokens = cifTokens(text, m.index);
  const first = tokens.next().value;
  if (first !== 'loop_') {
    // A single item: `_balmkit_remark.text <value>` (other items of the category may precede it).
    let key = first;
    for (;;) {
      if (key === undefined) return [];
      const value = tokens.next().value;
      if (value === undefined) return [];
      if (key === '_balmkit_remark.text') return [value];
      key = tokens.next().value;
      if (key === undefined || !key.startsWith('_balmkit_remark.')) return [];
    }
  }
  const columns: string[] = [];
  let tok = tokens.next().value;
  while (tok !== undefined && tok.startsWith('_balmkit_remark.')) {
    columns.push(tok.slice('_balmkit_remark.'.length));
    tok = tokens.next().value;
  }
  const col = columns.indexOf('text');
  if (col < 0) return [];
  const out: string[] = [];
  for (let k = 0; tok !== undefined && !tok.startsWith('_') && !/^(loop_|data_|save_|stop_|global_)/i.test(tok); k++) {
    if (k % columns.length === col) out.push(tok);
    tok = tokens.next().value;
  }
  return out;
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
