/**
 * CSV input: one antibody per row, a `name` column and heavy/light columns under the names
 * sheets use (`heavy`/`light`, `heavy_chain`/`light_chain`, `VH`/`VL`, any case). The row pairs
 * the chains; numbering checks each is the chain its column says.
 */
import type { AntibodyRecord } from './pairing.js';

const NAME_COLUMNS = ['name', 'id', 'sequence_id'];
const HEAVY_COLUMNS = ['heavy', 'heavy_chain', 'vh', 'heavy_sequence'];
const LIGHT_COLUMNS = ['light', 'light_chain', 'vl', 'light_sequence'];

/** Splits one CSV line; fields may be double-quoted ("" inside quotes is a quote). */
export function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** The header's name, heavy and light column indices (-1 where absent). */
function columns(headerLine: string): { name: number; heavy: number; light: number } {
  const header = splitCsvLine(headerLine).map((h) => h.trim().toLowerCase());
  const find = (names: readonly string[]) => header.findIndex((h) => names.includes(h));
  return { name: find(NAME_COLUMNS), heavy: find(HEAVY_COLUMNS), light: find(LIGHT_COLUMNS) };
}

/** Whether text is antibody CSV: its first line is a header with a name column and a chain column. */
export function looksLikeAntibodyCsv(text: string): boolean {
  const first = text.split(/\r?\n/, 1)[0] ?? '';
  if (first.startsWith('>') || !first.includes(',')) return false;
  const c = columns(first);
  return c.name >= 0 && (c.heavy >= 0 || c.light >= 0);
}

/**
 * The antibodies of a CSV file. A row with an empty name, or a name an earlier row has, is a bad
 * record (a `problem`, reported by the command; the other rows go on).
 *
 * @throws Error naming the file when the header lacks a name or chain column.
 */
export function parseAntibodyCsv(text: string, source: string): AntibodyRecord[] {
  const lines = text.split(/\r?\n/);
  const first = lines.findIndex((l) => l.trim() !== '');
  if (first < 0) return [];
  const col = columns(lines[first]);
  if (col.name < 0 || (col.heavy < 0 && col.light < 0)) {
    throw new Error(
      `${source} line ${first + 1}: the CSV header needs a name column (${NAME_COLUMNS.join('/')}) and a heavy or light column ` +
        `(${HEAVY_COLUMNS.join('/')}, ${LIGHT_COLUMNS.join('/')}); got "${lines[first]}"`,
    );
  }
  const out: AntibodyRecord[] = [];
  const seen = new Map<string, number>();
  for (let k = first + 1; k < lines.length; k++) {
    const line = lines[k];
    if (line.trim() === '') continue;
    const f = splitCsvLine(line);
    const get = (i: number) => (i >= 0 ? (f[i] ?? '').trim().replace(/\s+/g, '') : '');
    const name = (col.name >= 0 ? (f[col.name] ?? '') : '').trim();
    const heavy = get(col.heavy);
    const light = get(col.light);
    const rec = (chain: string, sequence: string) => ({ name: heavy !== '' && light !== '' ? `${name}_${chain}` : name, description: '', sequence, line: k + 1 });
    const ab: AntibodyRecord = {
      name,
      ...(heavy !== '' ? { heavy: rec('H', heavy) } : {}),
      ...(light !== '' ? { light: rec('L', light) } : {}),
      ...(heavy !== '' && light !== '' ? { pairedBy: 'row' as const } : {}),
    };
    const where = `${source} line ${k + 1}`;
    const earlier = seen.get(name);
    if (name === '') ab.problem = { reason: 'bad-row', message: `${where}: empty name; give every row a name` };
    else if (heavy === '' && light === '') ab.problem = { reason: 'bad-row', message: `record '${name}' (${where}): no heavy or light sequence` };
    else if (earlier !== undefined)
      ab.problem = { reason: 'duplicate-name', message: `record '${name}' (${where}): the same name as the row on line ${earlier}; record names must be unique: rename one` };
    if (name !== '' && earlier === undefined) seen.set(name, k + 1);
    out.push(ab);
  }
  return out;
}
