/**
 * PDB format (wwPDB 3.3 fixed columns): writer and reader of {@link Structure}.
 *
 * Writer: ATOM records with unique serials, residue numbers and insertion codes as given, the
 * B-factor column as given (balmkit puts the predicted error in Å there), the element column,
 * TER after each chain, END; balmkit's metadata as `REMARK 999 BALMKIT <record>` lines (format in
 * `metadataLines`, `structure.ts`).
 *
 * Reader: ATOM and HETATM records of the first model; water skipped; of alternate locations the
 * first one met in each residue is kept; insertion codes kept; unobserved residues from
 * REMARK 465; elements inferred from the atom name when the element column is blank.
 */
import { type BalmkitMetadata, type MissingResidue, type Structure, type StructureResidue, StructureAssembler, metadataLines, parseMetadataLines, writeTextAtomic } from './structure.js';
import { readTextMaybeCompressed } from './compressed.js';
import { BadInputError } from '../runtime/errors.js';

const REMARK_TAG = 'REMARK 999 BALMKIT ';

function fixed(x: number, width: number, digits: number, what: string): string {
  const s = x.toFixed(digits);
  if (s.length > width || !Number.isFinite(x)) throw new BadInputError(`PDB: ${what} ${x} does not fit ${width} columns`);
  return s.padStart(width);
}

/** Atom name in columns 13–16: names shorter than 4 start in column 14 (one-letter elements). */
function atomNameField(name: string, element: string): string {
  if (name.length >= 4) return name.slice(0, 4);
  return element.length === 2 ? name.padEnd(4) : ` ${name}`.padEnd(4);
}

/** Formats a structure as PDB text. */
export function formatPdb(structure: Structure, options: { metadata?: BalmkitMetadata } = {}): string {
  const lines: string[] = [];
  const meta = options.metadata ?? structure.metadata;
  if (meta) for (const l of metadataLines(meta)) lines.push((REMARK_TAG + l).padEnd(80));
  let serial = 0;
  const seen = new Set<string>();
  for (const chain of structure.chains) {
    if (!/^[A-Za-z0-9]$/.test(chain.id)) throw new BadInputError(`PDB: chain id '${chain.id}' must be one letter or digit`);
    if (seen.has(chain.id)) throw new BadInputError(`PDB: chain '${chain.id}' appears twice`);
    seen.add(chain.id);
    let last: StructureResidue | undefined;
    for (const res of chain.residues) {
      if (res.number < -999 || res.number > 9999 || !Number.isInteger(res.number)) throw new BadInputError(`PDB: chain ${chain.id} residue number ${res.number} does not fit 4 columns`);
      if (!/^[A-Za-z]?$/.test(res.insertion)) throw new BadInputError(`PDB: chain ${chain.id} residue ${res.number}: insertion code '${res.insertion}' must be one letter or empty`);
      for (const atom of res.atoms) {
        serial++;
        if (serial > 99999) throw new BadInputError('PDB: more than 99,999 atoms; write mmCIF instead');
        const record = res.hetero ? 'HETATM' : 'ATOM  ';
        lines.push(
          record +
            String(serial).padStart(5) +
            ' ' +
            atomNameField(atom.name, atom.element) +
            ' ' +
            res.name.padStart(3).slice(0, 3) +
            ' ' +
            chain.id +
            String(res.number).padStart(4) +
            (res.insertion || ' ') +
            '   ' +
            fixed(atom.x, 8, 3, 'x') +
            fixed(atom.y, 8, 3, 'y') +
            fixed(atom.z, 8, 3, 'z') +
            fixed(atom.occupancy, 6, 2, 'occupancy') +
            fixed(atom.bFactor, 6, 2, 'B-factor') +
            ' '.repeat(10) +
            atom.element.toUpperCase().padStart(2) +
            '  ',
        );
      }
      last = res;
    }
    if (last) {
      serial++;
      lines.push(`TER   ${String(serial).padStart(5)}      ${last.name.padStart(3)} ${chain.id}${String(last.number).padStart(4)}${last.insertion || ' '}`.padEnd(80));
    }
  }
  lines.push('END'.padEnd(80));
  return lines.map((l) => l.trimEnd()).join('\n') + '\n';
}

/** Writes a structure as PDB, atomically (temporary file + rename). */
export async function writePdb(path: string, structure: Structure, options: { metadata?: BalmkitMetadata } = {}): Promise<void> {
  await writeTextAtomic(path, formatPdb(structure, options));
}

/** Element from the atom-name field (columns 13–16) when the element column is blank. */
function inferElement(field: string, hetero: boolean): string {
  const raw = field.padEnd(4);
  // A leading space or digit (old hydrogen names like 1HD1) means a one-letter element in column 14.
  if (raw[0] === ' ' || /\d/.test(raw[0])) return raw[1].trim().toUpperCase();
  // Four-character names on protein atoms are hydrogens (HD11) or one-letter elements.
  if (!hetero) return raw[0].toUpperCase();
  return raw.slice(0, 2).trim().toUpperCase();
}

/** Parses PDB text. Throws a SyntaxError naming the line for malformed coordinate records. */
export function parsePdb(text: string, source = 'PDB'): Structure {
  const assembler = new StructureAssembler();
  const remarks: string[] = [];
  const missing: MissingResidue[] = [];
  let missingTable = false;
  let modelsSeen = 0;
  const lines = text.split(/\r?\n/);
  for (let ln = 0; ln < lines.length; ln++) {
    const line = lines[ln];
    const rec = line.slice(0, 6);
    if (rec === 'MODEL ') {
      if (++modelsSeen > 1) break;
      continue;
    }
    if (rec === 'ENDMDL') break;
    if (line.startsWith(REMARK_TAG)) {
      remarks.push(line.slice(REMARK_TAG.length).trimEnd());
      continue;
    }
    if (rec === 'REMARK' && line.slice(7, 10) === '465') {
      // Unobserved residues: a table after the header line "  M RES C SSSEQI".
      const body = line.slice(10);
      if (/RES C SSSEQI/.test(body)) missingTable = true;
      else if (missingTable) {
        const m = /^\s*(?:\d+\s+)?([A-Z0-9]{1,3})\s+(\S)\s+(-?\d+)([A-Z]?)\s*$/.exec(body);
        if (m) missing.push({ name: m[1], chain: m[2], number: Number(m[3]), insertion: m[4] ?? '' });
      }
      continue;
    }
    if (rec !== 'ATOM  ' && rec !== 'HETATM') continue;
    const hetero = rec === 'HETATM';
    const nameField = line.slice(12, 16);
    const numText = line.slice(22, 26).trim();
    const x = Number(line.slice(30, 38));
    const y = Number(line.slice(38, 46));
    const z = Number(line.slice(46, 54));
    if (!/^-?\d+$/.test(numText) || line.slice(30, 54).trim() === '' || ![x, y, z].every(Number.isFinite)) {
      throw new SyntaxError(`${source} line ${ln + 1}: malformed ${rec.trim()} record: '${line}'`);
    }
    const occText = line.slice(54, 60).trim();
    const bText = line.slice(60, 66).trim();
    assembler.add({
      hetero,
      resName: line.slice(17, 20).trim(),
      chain: (line[21] ?? ' ').trim() || ' ',
      number: Number(numText),
      insertion: (line[26] ?? ' ').trim(),
      altLoc: (line[16] ?? ' ').trim(),
      name: nameField.trim(),
      element: line.slice(76, 78).trim().toUpperCase() || inferElement(nameField, hetero),
      x,
      y,
      z,
      occupancy: occText === '' ? 1 : Number(occText),
      bFactor: bText === '' ? 0 : Number(bText),
    });
  }
  const structure: Structure = { chains: assembler.chainsBuilt() };
  const metadata = parseMetadataLines(remarks);
  if (metadata) structure.metadata = metadata;
  if (missing.length > 0) structure.missing = missing;
  return structure;
}

/** Reads a PDB file (`.pdb`, `.pdb.gz`, `.pdb.bz2`). */
export async function readPdb(path: string): Promise<Structure> {
  return parsePdb(await readTextMaybeCompressed(path), path);
}
