/**
 * Pairing records into antibodies: the name conventions of the sources users bring (balmkit's
 * X_H/X_L, X|VH, OAS's heavy_chain_…_contig_N, RCSB's FASTA headers, PDB chain letters), with
 * numbering of real chains (12e8's) deciding which record is heavy; and CSV input.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import {
  chainOfNumbering,
  decodeInput,
  idOf,
  nameWithoutChainToken,
  number,
  pairingLine,
  pairRecords,
  parseAntibodyCsv,
  parseFasta,
  translateLongestOrf,
  type FastaRecord,
} from '../../src/antibody/index.js';
import { need } from '../shared-data.js';
import { DATA, VH12E8, VL12E8, data } from './data.js';

const LINKER = 'GGGGSGGGGSGGGGS';
const LYSOZYME = 'KVFGRCELAAAMKRHGLDNYRGYSLGNWVCAAKFESNFNTQATNRNTDGSTDYGILQINSRWWCNDGRTPGSRNLCNIPCSALLSSDITASVNCAKKIVSDGNGMNAWVAWRNRCKGTDVQAWIRGCRL';

/** FASTA text from [name, sequence] rows. */
const fasta = (rows: [string, string][]) => rows.map(([n, s]) => `>${n}\n${s}\n`).join('');
/** Each antibody as [name, heavy record, light record, single record, pairedBy or unpaired reason]. */
const shape = (abs: ReturnType<typeof pairRecords>['antibodies']) =>
  abs.map((a) => [a.name, a.heavy?.name ?? null, a.light?.name ?? null, a.single?.name ?? null, a.pairedBy ?? a.unpaired ?? a.problem?.reason ?? null]);

describe('chain tokens in names', () => {
  it('removes one chain token, in every convention', () => {
    const cases: [string, string | undefined, string | undefined][] = [
      ['ab1_H', 'ab1', 'heavy'],
      ['ab1_L', 'ab1', 'light'],
      ['x|VH', 'x', 'heavy'],
      ['x|vl', 'x', 'light'],
      ['mab.heavy', 'mab', 'heavy'],
      ['mab-light', 'mab', 'light'],
      ['H_trastuzumab', 'trastuzumab', 'heavy'],
      // OAS (paired): the chain token leads, the contig number trails.
      ['heavy_chain_AAACCTGAGAGCTGCA-1_contig_1', 'AAACCTGAGAGCTGCA-1', 'heavy'],
      ['light_chain_AAACCTGAGAGCTGCA-1_contig_2', 'AAACCTGAGAGCTGCA-1', 'light'],
      // RCSB's FASTA download.
      ['12E8:H|PDBID|CHAIN|SEQUENCE', '12E8', 'heavy'],
      ['12E8:L|PDBID|CHAIN|SEQUENCE', '12E8', 'light'],
      // The last chain token counts; letters inside words do not.
      ['H_L', 'H', 'light'],
      ['1mhp_X', undefined, undefined],
      ['HL', undefined, undefined],
      ['H', undefined, undefined],
      ['heavy', undefined, undefined],
    ];
    for (const [name, key, token] of cases) {
      const got = nameWithoutChainToken(name);
      expect([name, got?.key, got?.token]).toEqual([name, key, token]);
    }
    expect(idOf('1mhp_X')).toEqual({ id: '1mhp', token: 'X' });
    expect(idOf('12e8_P')).toEqual({ id: '12e8', token: 'P' });
    expect(idOf('lone')).toBeUndefined();
  });
});

describe('pairing by name, then by id (real 12e8 chains numbered)', () => {
  it('pairs by name whatever the order, and lets numbering say which chain is which', () => {
    const { antibodies, summary } = pairRecords(
      parseFasta(
        fasta([
          ['ab1_L', VL12E8],
          ['ab1_H', VH12E8],
          ['x|VH', VH12E8],
          ['x|VL', VL12E8],
          // Names that lie: numbering decides, the pair still forms.
          ['swap_H', VL12E8],
          ['swap_L', VH12E8],
          ['heavy_chain_AAAC-1_contig_1', VH12E8],
          ['light_chain_AAAC-1_contig_2', VL12E8],
        ]),
      ),
    );
    expect(shape(antibodies)).toEqual([
      ['ab1', 'ab1_H', 'ab1_L', null, 'name'],
      ['x', 'x|VH', 'x|VL', null, 'name'],
      ['swap', 'swap_L', 'swap_H', null, 'name'],
      ['AAAC-1', 'heavy_chain_AAAC-1_contig_1', 'light_chain_AAAC-1_contig_2', null, 'name'],
    ]);
    expect(summary).toMatchObject({ records: 8, byName: 4, byId: 0, duplicates: 0 });
    expect(pairingLine(summary)).toBe('balmkit: pairing 8 records: 4 pairs (4 by name, 0 by id)');
  });

  it('pairs a PDB entry by name first (12e8 H/L), then by id (M/P), and names the second pair from its chains', () => {
    // pdb-antibody-chains.fasta lists 12e8's chains as L, M, H, P: two Fabs in the asymmetric unit.
    const { antibodies, summary } = pairRecords(
      parseFasta(
        fasta([
          ['12e8_L', VL12E8],
          ['12e8_M', VL12E8],
          ['12e8_H', VH12E8],
          ['12e8_P', VH12E8],
        ]),
      ),
    );
    expect(shape(antibodies)).toEqual([
      ['12e8', '12e8_H', '12e8_L', null, 'name'],
      ['12e8_P_M', '12e8_P', '12e8_M', null, 'id'],
    ]);
    expect(summary).toMatchObject({ byName: 1, byId: 1 });
  });

  it('pairs PDB chain letters by id and leaves ambiguous groups alone, with the reason', () => {
    const { antibodies, summary } = pairRecords(
      parseFasta(
        fasta([
          ['1abc_A', VL12E8],
          ['1abc_B', VH12E8],
          ['2xyz_A', VH12E8],
          ['2xyz_B', VH12E8],
          ['2xyz_C', VL12E8],
          ['3nb_A', VH12E8],
          ['lyso_A', LYSOZYME],
          ['scfv_A', `${VH12E8}${LINKER}${VL12E8}`],
          ['scfv_B', VL12E8],
        ]),
      ),
    );
    const why = 'id 2xyz has 2 heavy records and 1 light record left to pair';
    expect(shape(antibodies)).toEqual([
      ['1abc', '1abc_B', '1abc_A', null, 'id'],
      ['2xyz_A', null, null, '2xyz_A', why],
      ['2xyz_B', null, null, '2xyz_B', why],
      ['2xyz_C', null, null, '2xyz_C', why],
      ['3nb_A', null, null, '3nb_A', 'no partner'],
      ['lyso_A', null, null, 'lyso_A', 'not numbered as an antibody chain'],
      ['scfv_A', null, null, 'scfv_A', 'holds two domains (scFv)'],
      ['scfv_B', null, null, 'scfv_B', 'no partner'],
    ]);
    expect(pairingLine(summary)).toBe(
      'balmkit: pairing 9 records: 1 pair (0 by name, 1 by id), 7 records alone (3 their id has not one heavy and one light record; 2 no partner; 1 not numbered as an antibody chain; 1 holds two domains (scFv))',
    );
  });

  it('keeps X_H with X_L when one fails to number, so the error is the antibody’s', () => {
    const typo = `${VL12E8.slice(0, 49)}J${VL12E8.slice(50)}`;
    const { antibodies } = pairRecords(
      parseFasta(
        fasta([
          ['t_H', VH12E8],
          ['t_L', typo],
          ['u_A', VH12E8],
          ['u_B', typo],
        ]),
      ),
    );
    expect(shape(antibodies)).toEqual([
      ['t', 't_H', 't_L', null, 'name'],
      ['u_A', null, null, 'u_A', 'no partner'],
      ['u_B', null, null, 'u_B', 'not numbered as an antibody chain'],
    ]);
  });

  it('keeps a pair name from clashing with a record name', () => {
    const { antibodies } = pairRecords(
      parseFasta(
        fasta([
          ['ab', VH12E8],
          ['ab_H', VH12E8],
          ['ab_L', VL12E8],
        ]),
      ),
    );
    expect(shape(antibodies)).toEqual([
      ['ab', null, null, 'ab', 'no partner'],
      ['ab_H+ab_L', 'ab_H', 'ab_L', null, 'name'],
    ]);
  });

  it('reports a repeated name as a bad record and pairs the rest; --no-pair leaves every record alone', () => {
    const records = parseFasta(
      fasta([
        ['a_H', VH12E8],
        ['a_H', VH12E8],
        ['a_L', VL12E8],
      ]),
    );
    const { antibodies, summary } = pairRecords(records);
    expect(shape(antibodies)).toEqual([
      ['a', 'a_H', 'a_L', null, 'name'],
      ['a_H', null, null, 'a_H', 'duplicate-name'],
    ]);
    expect(antibodies[1].problem!.message).toBe("record 'a_H' (line 3): the same name as an earlier record (line 1); record names must be unique: rename one");
    expect(pairingLine(summary)).toBe('balmkit: pairing 3 records: 1 pair (1 by name, 0 by id), 1 repeated name (reported below)');
    const off = pairRecords(records.slice(0, 1).concat(records.slice(2)), { pair: false });
    expect(shape(off.antibodies)).toEqual([
      ['a_H', null, null, 'a_H', 'pairing off'],
      ['a_L', null, null, 'a_L', 'pairing off'],
    ]);
  });

  it('numbers each record once, through the caller’s chainOf', () => {
    const asked: string[] = [];
    const chainOf = (r: FastaRecord) => (asked.push(r.name), r.sequence === VH12E8 ? ('heavy' as const) : ('light' as const));
    pairRecords(
      parseFasta(
        fasta([
          ['p_H', VH12E8],
          ['p_L', VL12E8],
          ['q_A', VH12E8],
          ['q_B', VL12E8],
        ]),
      ),
      { chainOf },
    );
    expect(asked).toEqual(['p_H', 'p_L', 'q_A', 'q_B']);
  });
});

describe('CSV input', () => {
  it('reads a row per antibody under the column names sheets use', () => {
    const text = `Name,VH,VL,notes\nab1,${VH12E8},${VL12E8},"a, quoted ""note"""\nnb1,${VH12E8},,nanobody\n"lc 1",,${VL12E8},\n`;
    const rows = parseAntibodyCsv(text, 'abs.csv');
    expect(rows.map((r) => [r.name, r.heavy?.name ?? null, r.light?.name ?? null, r.heavy?.line ?? r.light?.line, r.pairedBy ?? null, r.problem ?? null])).toEqual([
      ['ab1', 'ab1_H', 'ab1_L', 2, 'row', null],
      ['nb1', 'nb1', null, 3, null, null],
      ['lc 1', null, 'lc 1', 4, null, null],
    ]);
    expect(rows[0].heavy!.sequence).toBe(VH12E8);
    const other = parseAntibodyCsv(`sequence_id,heavy_chain,light_chain\nx,EVQL VESG,DIQM\n`, 'b.csv');
    expect(other[0]).toMatchObject({ name: 'x', heavy: { sequence: 'EVQLVESG' }, light: { sequence: 'DIQM' } });
  });

  it('reports bad rows by line and goes on; a header without the columns is an error that names them', () => {
    const rows = parseAntibodyCsv(`id,heavy,light\n,EVQL,DIQM\nb,,\nc,EVQL,\nc,QVQL,\n`, 'abs.csv');
    expect(rows.map((r) => [r.name, r.problem?.reason ?? null, r.problem?.message ?? null])).toEqual([
      ['', 'bad-row', 'abs.csv line 2: empty name; give every row a name'],
      ['b', 'bad-row', "record 'b' (abs.csv line 3): no heavy or light sequence"],
      ['c', null, null],
      ['c', 'duplicate-name', "record 'c' (abs.csv line 5): the same name as the row on line 4; record names must be unique: rename one"],
    ]);
    expect(() => parseAntibodyCsv('antibody,sequence\nx,EVQL\n', 'x.csv')).toThrow(/x\.csv line 1: the CSV header needs a name column \(name\/id\/sequence_id\) and a heavy or light column/);
  });
});

describe('pairing the shared sequence files (../shared/data)', () => {
  const read = (rel: string) => parseFasta(decodeInput(fs.readFileSync(path.join(DATA, rel))));

  it('pairs every OAS barcode: heavy_chain_<barcode>_contig_N with light_chain_<barcode>_contig_M', (ctx) => {
    const rel = 'antibody-sequences/oas-paired-1279067_1.fasta.gz';
    need(ctx, data(rel));
    const records = read(rel).map((r) => ({ ...r, sequence: translateLongestOrf(r.sequence) }));
    const barcodes = new Set(records.map((r) => /^(?:heavy|light)_chain_(.+)_contig_\d+$/.exec(r.name)![1]));
    const { antibodies, summary } = pairRecords(records);
    console.log(`OAS: ${pairingLine(summary)}; ${barcodes.size} barcodes`);
    expect(barcodes.size).toBe(8437);
    expect(summary.byName).toBe(8437);
    expect(new Set(antibodies.filter((a) => a.pairedBy === 'name').map((a) => a.name))).toEqual(barcodes);
  }, 60_000);

  it('pairs every PDB id of antibody-sequences.fasta with exactly one heavy and one light record', (ctx) => {
    const rel = 'antibody-sequences/antibody-sequences.fasta';
    need(ctx, data(rel));
    const records = read(rel);
    // Independently of the pairing code: number each record (first of a repeated name) and group by id.
    const seen = new Set<string>();
    const byId = new Map<string, string[]>();
    for (const r of records) {
      if (seen.has(r.name)) continue;
      seen.add(r.name);
      let c;
      try {
        c = chainOfNumbering(number(r.sequence));
      } catch {
        continue;
      }
      if (c !== 'heavy' && c !== 'light') continue;
      const id = r.name.slice(0, r.name.lastIndexOf('_'));
      byId.set(id, [...(byId.get(id) ?? []), c]);
    }
    const expected = [...byId].filter(([, cs]) => cs.length === 2 && cs.includes('heavy') && cs.includes('light')).map(([id]) => id);
    const { antibodies, summary } = pairRecords(records);
    console.log(`antibody-sequences.fasta: ${pairingLine(summary)}; ${expected.length} ids with one heavy and one light record`);
    const paired = antibodies.filter((a) => a.pairedBy !== undefined).map((a) => idOf(a.heavy!.name)!.id);
    expect(paired.sort()).toEqual(expected.sort());
    expect(expected.length).toBeGreaterThan(300);
  }, 60_000);

  it("pairs 12e8's four chains of pdb-antibody-chains.fasta.gz as H/L, then M/P", (ctx) => {
    const rel = 'antibody-sequences/pdb-antibody-chains.fasta.gz';
    need(ctx, data(rel));
    const records = read(rel).filter((r) => r.name.startsWith('12e8_'));
    expect(records.map((r) => r.name)).toEqual(['12e8_L', '12e8_M', '12e8_H', '12e8_P']);
    expect(shape(pairRecords(records).antibodies)).toEqual([
      ['12e8', '12e8_H', '12e8_L', null, 'name'],
      ['12e8_P_M', '12e8_P', '12e8_M', null, 'id'],
    ]);
  });
});
