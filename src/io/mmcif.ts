/**
 * mmCIF (PDBx): writer and reader of {@link Structure}.
 *
 * Writer: one data block with `_atom_site` (label and auth ids, insertion codes in
 * `pdbx_PDB_ins_code`, B-factor = predicted error in Å, element in `type_symbol`, model 1) and
 * balmkit's metadata in a `_balmkit_remark` loop whose `text` column holds the same records as the
 * PDB `REMARK 999 BALMKIT` lines (format in `metadataLines`, `structure.ts`).
 *
 * Reader: a CIF tokenizer (quoted values, `;` text fields, comments, loops) and `_atom_site` of the
 * first model, with the PDB reader's rules (auth ids preferred, water skipped, first altloc);
 * unobserved residues from `_pdbx_unobs_or_zero_occ_residues`.
 */
import { readTextMaybeCompressed } from './compressed.js';
import { type BalmkitMetadata, type MissingResidue, type Structure, StructureAssembler, metadataLines, parseMetadataLines, writeTextAtomic } from './structure.js';
import { BadInputError } from '../runtime/errors.js';

/** A value as CIF writes it: bare when it can be, else quoted (or a `;` text field). */
export function cifValue(v: string): string {
  if (v === '') return '.';
  if (/^[^\s'"#$_;[\]]\S*$/.test(v) && !/^(data_|loop_|save_|global_|stop_)/i.test(v) && v !== '.' && v !== '?') return v;
  if (!/\n/.test(v)) {
    if (!/'\s/.test(v) && !v.endsWith("'")) return `'${v}'`;
    if (!/"\s/.test(v) && !v.endsWith('"')) return `"${v}"`;
  }
  return `\n;${v}\n;\n`;
}

const ATOM_SITE = [
  'group_PDB',
  'id',
  'type_symbol',
  'label_atom_id',
  'label_alt_id',
  'label_comp_id',
  'label_asym_id',
  'label_entity_id',
  'label_seq_id',
  'pdbx_PDB_ins_code',
  'Cartn_x',
  'Cartn_y',
  'Cartn_z',
  'occupancy',
  'B_iso_or_equiv',
  'auth_seq_id',
  'auth_comp_id',
  'auth_asym_id',
  'auth_atom_id',
  'pdbx_PDB_model_num',
] as const;

/** Formats a structure as mmCIF text; `name` is the data block name. */
export function formatMmcif(structure: Structure, options: { name?: string; metadata?: BalmkitMetadata } = {}): string {
  const name = (options.name ?? 'balmkit').replace(/\s+/g, '_');
  const out: string[] = [`data_${name}`, '#', `_entry.id ${cifValue(name)}`, '#'];
  const meta = options.metadata ?? structure.metadata;
  if (meta) {
    out.push('loop_', '_balmkit_remark.ordinal', '_balmkit_remark.text');
    metadataLines(meta).forEach((l, i) => out.push(`${i + 1} ${cifValue(l)}`));
    out.push('#');
  }
  out.push('loop_', ...ATOM_SITE.map((t) => `_atom_site.${t}`));
  let serial = 0;
  const seen = new Set<string>();
  structure.chains.forEach((chain, ci) => {
    if (!/^[A-Za-z0-9]+$/.test(chain.id)) throw new BadInputError(`mmCIF: chain id '${chain.id}' must be letters or digits`);
    if (seen.has(chain.id)) throw new BadInputError(`mmCIF: chain '${chain.id}' appears twice`);
    seen.add(chain.id);
    chain.residues.forEach((res, ri) => {
      if (!Number.isInteger(res.number)) throw new BadInputError(`mmCIF: chain ${chain.id} residue number ${res.number} is not an integer`);
      if (!/^[A-Za-z]?$/.test(res.insertion)) throw new BadInputError(`mmCIF: chain ${chain.id} residue ${res.number}: insertion code '${res.insertion}' must be one letter or empty`);
      for (const atom of res.atoms) {
        serial++;
        const row = [
          res.hetero ? 'HETATM' : 'ATOM',
          String(serial),
          atom.element.toUpperCase(),
          cifValue(atom.name),
          '.',
          cifValue(res.name),
          chain.id,
          String(ci + 1),
          String(ri + 1),
          res.insertion || '?',
          atom.x.toFixed(3),
          atom.y.toFixed(3),
          atom.z.toFixed(3),
          atom.occupancy.toFixed(2),
          atom.bFactor.toFixed(2),
          String(res.number),
          cifValue(res.name),
          chain.id,
          cifValue(atom.name),
          '1',
        ];
        out.push(row.join(' '));
      }
    });
  });
  out.push('#');
  return out.join('\n') + '\n';
}

/** Writes a structure as mmCIF, atomically (temporary file + rename). */
export async function writeMmcif(path: string, structure: Structure, options: { name?: string; metadata?: BalmkitMetadata } = {}): Promise<void> {
  await writeTextAtomic(path, formatMmcif(structure, options));
}

/** A CIF category as a table: column names (without the category) and rows of raw values. */
export interface CifTable {
  columns: string[];
  rows: (string | null)[][];
}

/** One CIF token: a value, and whether it was quoted (a quoted `.`/`?` is a real value). */
interface Token {
  text: string;
  quoted: boolean;
  line: number;
}

function tokenize(text: string, source: string): Token[] {
  const tokens: Token[] = [];
  const lines = text.split(/\r?\n/);
  for (let ln = 0; ln < lines.length; ln++) {
    const line = lines[ln];
    if (line.startsWith(';')) {
      // A text field runs to the next line that starts with ';'.
      const parts = [line.slice(1)];
      const start = ln;
      for (ln++; ln < lines.length && !lines[ln].startsWith(';'); ln++) parts.push(lines[ln]);
      if (ln >= lines.length) throw new SyntaxError(`${source} line ${start + 1}: text field opened with ';' is never closed`);
      tokens.push({ text: parts.join('\n').trim(), quoted: true, line: start + 1 });
      continue;
    }
    let i = 0;
    while (i < line.length) {
      const c = line[i];
      if (c === ' ' || c === '\t') {
        i++;
        continue;
      }
      if (c === '#') break;
      if (c === "'" || c === '"') {
        // A quote closes only when followed by whitespace or the end of the line.
        let j = i + 1;
        while (j < line.length && !(line[j] === c && (j + 1 === line.length || /\s/.test(line[j + 1])))) j++;
        if (j >= line.length) throw new SyntaxError(`${source} line ${ln + 1}: unterminated quoted value`);
        tokens.push({ text: line.slice(i + 1, j), quoted: true, line: ln + 1 });
        i = j + 1;
        continue;
      }
      let j = i;
      while (j < line.length && line[j] !== ' ' && line[j] !== '\t') j++;
      tokens.push({ text: line.slice(i, j), quoted: false, line: ln + 1 });
      i = j;
    }
  }
  return tokens;
}

/**
 * Parses the first data block of a CIF file into tables by category (`atom_site` → columns
 * `group_PDB`, …). Unquoted `.` and `?` become null.
 */
export function parseCif(text: string, source = 'mmCIF'): Map<string, CifTable> {
  const tokens = tokenize(text, source);
  const tables = new Map<string, CifTable>();
  const value = (t: Token) => (!t.quoted && (t.text === '.' || t.text === '?') ? null : t.text);
  const split = (tag: string, line: number): [string, string] => {
    const dot = tag.indexOf('.');
    if (dot < 0) throw new SyntaxError(`${source} line ${line}: tag '${tag}' has no category (expected _category.item)`);
    return [tag.slice(1, dot), tag.slice(dot + 1)];
  };
  let i = 0;
  let blocks = 0;
  while (i < tokens.length) {
    const t = tokens[i];
    const lower = t.quoted ? '' : t.text.toLowerCase();
    if (lower.startsWith('data_')) {
      if (++blocks > 1) break;
      i++;
    } else if (lower === 'loop_') {
      i++;
      const tags: string[] = [];
      while (i < tokens.length && !tokens[i].quoted && tokens[i].text.startsWith('_')) tags.push(tokens[i++].text);
      if (tags.length === 0) throw new SyntaxError(`${source} line ${t.line}: loop_ without tags`);
      const [category] = split(tags[0], t.line);
      const table: CifTable = { columns: tags.map((x) => split(x, t.line)[1]), rows: [] };
      const values: (string | null)[] = [];
      while (i < tokens.length) {
        const u = tokens[i];
        if (!u.quoted && (u.text.startsWith('_') || /^(loop_|data_|save_)/i.test(u.text))) break;
        values.push(value(u));
        i++;
      }
      if (values.length % tags.length !== 0) throw new SyntaxError(`${source} line ${t.line}: loop of ${category} has ${values.length} values for ${tags.length} columns`);
      for (let k = 0; k < values.length; k += tags.length) table.rows.push(values.slice(k, k + tags.length));
      tables.set(category, table);
    } else if (!t.quoted && t.text.startsWith('_')) {
      const [category, item] = split(t.text, t.line);
      const v = tokens[i + 1];
      if (!v) throw new SyntaxError(`${source} line ${t.line}: tag ${t.text} has no value`);
      let table = tables.get(category);
      if (!table) tables.set(category, (table = { columns: [], rows: [[]] }));
      table.columns.push(item);
      table.rows[0].push(value(v));
      i += 2;
    } else {
      i++;
    }
  }
  return tables;
}

function column(table: CifTable, ...names: string[]): number {
  for (const n of names) {
    const k = table.columns.indexOf(n);
    if (k >= 0) return k;
  }
  return -1;
}

/** Parses mmCIF text into a structure (first data block, first model). */
export function parseMmcif(text: string, source = 'mmCIF'): Structure {
  const tables = parseCif(text, source);
  const site = tables.get('atom_site');
  if (!site) throw new SyntaxError(`${source}: no _atom_site category (not a coordinate file?)`);
  const col = (...names: string[]) => column(site, ...names);
  const c = {
    group: col('group_PDB'),
    element: col('type_symbol'),
    atom: col('auth_atom_id', 'label_atom_id'),
    alt: col('label_alt_id'),
    comp: col('auth_comp_id', 'label_comp_id'),
    chain: col('auth_asym_id', 'label_asym_id'),
    seq: col('auth_seq_id', 'label_seq_id'),
    ins: col('pdbx_PDB_ins_code'),
    x: col('Cartn_x'),
    y: col('Cartn_y'),
    z: col('Cartn_z'),
    occ: col('occupancy'),
    b: col('B_iso_or_equiv'),
    model: col('pdbx_PDB_model_num'),
  };
  for (const [k, v] of Object.entries({ atom: c.atom, comp: c.comp, chain: c.chain, seq: c.seq, x: c.x, y: c.y, z: c.z })) {
    if (v < 0) throw new SyntaxError(`${source}: _atom_site has no ${k} column`);
  }
  const assembler = new StructureAssembler();
  const firstModel = c.model >= 0 ? site.rows[0]?.[c.model] : undefined;
  site.rows.forEach((row, r) => {
    if (c.model >= 0 && row[c.model] !== firstModel) return;
    const get = (k: number) => (k >= 0 ? (row[k] ?? null) : null);
    const number = Number(get(c.seq));
    const [x, y, z] = [Number(get(c.x)), Number(get(c.y)), Number(get(c.z))];
    if (!Number.isInteger(number) || ![x, y, z].every(Number.isFinite)) {
      throw new SyntaxError(`${source}: _atom_site row ${r + 1}: bad residue number or coordinates`);
    }
    const name = get(c.atom)!;
    const occ = get(c.occ);
    const b = get(c.b);
    assembler.add({
      hetero: get(c.group) === 'HETATM',
      resName: get(c.comp)!,
      chain: get(c.chain)!,
      number,
      insertion: get(c.ins) ?? '',
      altLoc: get(c.alt) ?? '',
      name,
      element: (get(c.element) ?? name[0] ?? '').toUpperCase(),
      x,
      y,
      z,
      occupancy: occ === null ? 1 : Number(occ),
      bFactor: b === null ? 0 : Number(b),
    });
  });
  const structure: Structure = { chains: assembler.chainsBuilt() };
  const remarks = tables.get('balmkit_remark');
  const textCol = remarks ? column(remarks, 'text') : -1;
  if (remarks && textCol >= 0) {
    const meta = parseMetadataLines(remarks.rows.map((r) => r[textCol] ?? ''));
    if (meta) structure.metadata = meta;
  }
  const unobs = tables.get('pdbx_unobs_or_zero_occ_residues');
  if (unobs) {
    const u = (...n: string[]) => column(unobs, ...n);
    const [ch, sq, ins, comp, flag] = [u('auth_asym_id'), u('auth_seq_id'), u('PDB_ins_code'), u('auth_comp_id'), u('occupancy_flag')];
    const missing: MissingResidue[] = [];
    for (const row of unobs.rows) {
      // occupancy_flag 1 lists unobserved residues (0 would be zero-occupancy atoms).
      if (flag >= 0 && row[flag] !== '1') continue;
      if (ch < 0 || sq < 0 || comp < 0) break;
      missing.push({ chain: row[ch]!, number: Number(row[sq]), insertion: ins >= 0 ? (row[ins] ?? '') : '', name: row[comp]! });
    }
    if (missing.length > 0) structure.missing = missing;
  }
  return structure;
}

/** Reads an mmCIF file (`.cif`, `.cif.gz`, `.cif.bz2`). */
export async function readMmcif(path: string): Promise<Structure> {
  return parseMmcif(await readTextMaybeCompressed(path), path);
}
