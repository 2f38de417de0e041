/**
 * Numbering as ANARCI's CSV tables (`ANARCI --csv -o x` writes `x_H.csv` and `x_KL.csv`), so a
 * sheet or script made for ANARCI opens balmkit's the same way: one row per numbered domain, the
 * same 13 leading columns (Id, domain_no, hmm_species, chain_type, e-value, score,
 * seqstart_index, seqend_index, identity_species, v_gene, v_identity, j_gene, j_identity), then one
 * column per numbered position (`1` … `111A` …), a residue or `-` in each cell.
 *
 * Differences, by necessity: balmkit computes no HMMER e-value (the column is left empty); its
 * germline calls come from OGRDB genes (balmkit's germline module), not ANARCI's IMGT set.
 */
import type { NumberOutput } from './output.js';
import { BadInputError } from '../runtime/errors.js';

type Chain = NumberOutput['records'][number]['chains'][number];

/** ANARCI's two tables: heavy chains, and kappa and lambda together. */
export type AnarciTableKind = 'H' | 'KL';

export const ANARCI_LEADING_COLUMNS = [
  'Id',
  'domain_no',
  'hmm_species',
  'chain_type',
  'e-value',
  'score',
  'seqstart_index',
  'seqend_index',
  'identity_species',
  'v_gene',
  'v_identity',
  'j_gene',
  'j_identity',
] as const;

const label = (r: { number: number; insertion: string }) => `${r.number}${r.insertion}`;

/**
 * The position columns of a set of chains, in numbering order: each chain's residues are already
 * in order, so the columns are their ordered union (a position new to the list goes right after
 * the position before it in its chain). This keeps each scheme's own insertion order (IMGT's 112
 * runs 112B, 112A, 112; Kabat's 82 runs 82, 82A, 82B) without a rule per scheme.
 */
export function positionColumns(chains: readonly Chain[]): string[] {
  const cols: string[] = [];
  const at = new Map<string, number>();
  for (const c of chains) {
    let prev = -1;
    for (const r of c.residues) {
      const key = label(r);
      let k = at.get(key);
      if (k === undefined) {
        // Insert after prev and after any columns already placed there with a smaller number (so
        // two chains' different insertions at one spot stay sorted by number).
        k = prev + 1;
        while (k < cols.length && numberOf(cols[k]) < r.number) k++;
        cols.splice(k, 0, key);
        for (let j = k; j < cols.length; j++) at.set(cols[j], j);
      }
      prev = at.get(key)!;
    }
  }
  return cols;
}

const numberOf = (label: string) => Number.parseInt(label, 10);

/** Which table a chain goes to. */
export const tableOf = (chainType: Chain['chainType']): AnarciTableKind => (chainType === 'H' ? 'H' : 'KL');

/** A numbered domain and its index among its record's domains (ANARCI's domain_no: an scFv record has 0 and 1). */
export interface NumberedDomainRow {
  chain: Chain;
  domainNo: number;
}

/** One table's rows (header first) for the domains of one kind, in input order. */
export function anarciRows(domains: readonly NumberedDomainRow[]): string[][] {
  const cols = positionColumns(domains.map((d) => d.chain));
  const rows: string[][] = [[...ANARCI_LEADING_COLUMNS, ...cols]];
  for (const { chain: c, domainNo: no } of domains) {
    const cells = new Map(c.residues.map((r) => [label(r), r.aa]));
    rows.push([
      c.record,
      String(no),
      c.species,
      c.chainType,
      '',
      c.score.toFixed(1),
      String(c.start),
      String(c.end),
      c.vGene?.species ?? '',
      c.vGene?.name ?? '',
      c.vGene ? c.vGene.identity.toFixed(2) : '',
      c.jGene?.name ?? '',
      c.jGene ? c.jGene.identity.toFixed(2) : '',
      ...cols.map((k) => cells.get(k) ?? '-'),
    ]);
  }
  return rows;
}

/** A CSV (RFC 4180 quoting where a cell needs it) or TSV text of rows. */
export function formatDelimited(rows: readonly (readonly string[])[], delimiter: ',' | '\t'): string {
  const cell = (s: string) => {
    if (delimiter === '\t') {
      if (/[\t\r\n]/.test(s)) throw new BadInputError(`a TSV cell cannot hold a tab or line break: ${JSON.stringify(s)}`);
      return s;
    }
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return rows.map((r) => r.map(cell).join(delimiter)).join('\n') + '\n';
}

/** The tables of a numbering output, by kind; a kind no chain has is absent. */
export function anarciTables(doc: NumberOutput, delimiter: ',' | '\t'): Map<AnarciTableKind, { text: string; chains: number }> {
  const byKind = new Map<AnarciTableKind, NumberedDomainRow[]>();
  const domainNo = new Map<string, number>();
  for (const rec of doc.records) {
    for (const c of rec.chains) {
      const no = domainNo.get(c.record) ?? 0;
      domainNo.set(c.record, no + 1);
      const kind = tableOf(c.chainType);
      byKind.set(kind, [...(byKind.get(kind) ?? []), { chain: c, domainNo: no }]);
    }
  }
  const out = new Map<AnarciTableKind, { text: string; chains: number }>();
  for (const kind of ['H', 'KL'] as const) {
    const chains = byKind.get(kind);
    if (chains) out.set(kind, { text: formatDelimited(anarciRows(chains), delimiter), chains: chains.length });
  }
  return out;
}
