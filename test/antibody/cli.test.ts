/**
 * `balmkit number` as a user runs it (the built CLI): JSON schema, tables, batches with bad
 * records, chain-type checks, option errors, atomic output files.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

import { spawnSync } from 'node:child_process';

import { numberOutputSchema } from '../../src/antibody/index.js';
import { balmkit, ensureBuilt } from '../cli/helpers.js';
import { BIOPYTHON, PYTHON } from '../fold/helpers.js';
import { need } from '../shared-data.js';
import { DATA, backTranslate, data } from './data.js';

const VH = 'EVQLQQSGAEVVRSGASVKLSCTASGFNIKDYYIHWVKQRPEKGLEWIGWIDPEIGDTEYVPKFQGKATMTADTSSNTAYLQLSSLTSEDTAVYYCNAGHDYDRGRFPYWGQGTLVTVSA';
const VL = 'DIVMTQSQKFMSTSVGDRVSITCKASQNVGTAVAWYQQKPGQSPKLMIYSASNRYTGVPDRFTGSGSGTDFTLTISNMQSEDLADYFCQQYSSYPLTFGAGTKLELKR';
const LYSOZYME = 'KVFGRCELAAAMKRHGLDNYRGYSLGNWVCAAKFESNFNTQATNRNTDGSTDYGILQINSRWWCNDGRTPGSRNLCNIPCSALLSSDITASVNCAKKIVSDGNGMNAWVAWRNRCKGTDVQAWIRGCRL';

describe('balmkit number', () => {
  beforeAll(() => ensureBuilt(), 120_000);

  it('numbers a plain sequence to JSON (Chothia), residues as {aa, number, insertion, region}', () => {
    const r = balmkit(['number', VH, '--scheme', 'chothia', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = numberOutputSchema.parse(JSON.parse(r.stdout)); // the documented schema
    expect(out.scheme).toBe('chothia');
    const c = out.records[0].chains[0];
    expect(c.chainType).toBe('H');
    expect(c.residues.map((x) => x.aa).join('')).toBe(VH);
    expect(c.residues.find((x) => x.number === 52 && x.insertion === 'A')?.aa).toBe('P');
    expect(
      c.residues
        .filter((x) => x.region === 'cdr3')
        .map((x) => x.aa)
        .join(''),
    ).toBe('GHDYDRGRFPY');
    expect(Object.keys(c.residues[0]).sort()).toEqual(['aa', 'insertion', 'number', 'region']);
  });

  it('germlines read as the closest match, and OGRDB placeholder labels are marked', () => {
    const r = balmkit(['number', 'EVQLVESGGGLVQPGGSLRLSCAASGFNIKDTYIHWVRQAPGKGLEWVARIYPTNGYTRYADSVKGRFTISADTSKNTAYLQMNSLRAEDTAVYYCSRWGGDGFYAMDYWGQGTLVTVSS']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^sequence {2}heavy \(H\), score [\d.]+ bits; closest germlines: V human IGHV3-\S+ \d+%, J mouse IGHJ0-SCNX\*00 \(an OGRDB label for an unnamed gene\) \d+%$/m);
    const j = numberOutputSchema.parse(
      JSON.parse(balmkit(['number', '--json', 'EVQLVESGGGLVQPGGSLRLSCAASGFNIKDTYIHWVRQAPGKGLEWVARIYPTNGYTRYADSVKGRFTISADTSKNTAYLQMNSLRAEDTAVYYCSRWGGDGFYAMDYWGQGTLVTVSS']).stdout),
    );
    const c = j.records[0].chains[0];
    expect([c.jGene?.name, c.jGene?.placeholder, c.vGene?.placeholder]).toEqual(['IGHJ0-SCNX*00', true, undefined]);
  });

  it('DNA is reported as DNA with --translate offered, and --translate numbers it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'balmkit-number-dna-'));
    const fasta = path.join(dir, 'contigs.fasta');
    // VH back-translated (one codon per residue, stops in the other frames), with a stop before it.
    fs.writeFileSync(fasta, `>contig1\nTAG${backTranslate(VH)}TGA\n`);
    const r = balmkit(['number', fasta]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/record 'contig1', this looks like DNA\/RNA .*--translate/);
    expect(r.stderr).not.toMatch(/not an antibody variable domain/);
    const t = balmkit(['number', fasta, '--translate', '--json']);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stderr).toMatch(/translated 1 DNA\/RNA record/);
    const out = numberOutputSchema.parse(JSON.parse(t.stdout));
    expect(out.records[0].chains[0].residues.map((x) => x.aa).join('')).toBe(VH);
  });

  it('a batch numbers the good records, names the bad ones on stderr and exits 1', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'balmkit-number-'));
    const fasta = path.join(dir, 'in.fasta');
    fs.writeFileSync(fasta, `>ab1_H\n${VH}\n>ab1_L\n${VL}\n>bad\n${VH.slice(0, 40)}J${VH.slice(41)}\n>lyso\n${LYSOZYME}\n`);
    const r = balmkit(['number', fasta, '--json']);
    expect(r.code).toBe(1);
    const out = numberOutputSchema.parse(JSON.parse(r.stdout));
    expect(out.records.map((x) => [x.name, x.chains.map((c) => c.chainType).join('')])).toEqual([['ab1', 'HK']]);
    expect(out.errors.map((e) => [e.record, e.reason])).toEqual([
      ['bad', 'invalid-residue'],
      ['lyso', 'low-score'],
    ]);
    expect(r.stderr).toContain("record 'bad', residue 41: 'J' is not one of the 20 standard amino acids");
    expect(r.stderr).toContain("record 'lyso': not an antibody variable domain");
    const table = balmkit(['number', fasta, '--scheme', 'kabat']);
    expect(table.code).toBe(1);
    expect(table.stdout).toMatch(/ab1_H {2}heavy \(H\), score [\d.]+ bits; closest germlines: V mouse /);
    expect(table.stdout).toMatch(/cdr1 {2}31-35 +DYYIH/); // Kabat H1
  });

  it('pairs FASTA by name, then by PDB id, reads CSV rows, and says how (stderr line, --json pairedBy/unpaired)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'balmkit-number-pair-'));
    const fasta = path.join(dir, 'chains.fasta');
    fs.writeFileSync(fasta, `>12e8_L\n${VL}\n>12e8_M\n${VL}\n>12e8_H\n${VH}\n>12e8_P\n${VH}\n>heavy_chain_AAAC-1_contig_1\n${VH}\n>light_chain_AAAC-1_contig_2\n${VL}\n>nb_A\n${VH}\n`);
    const r = balmkit(['number', fasta, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('balmkit: pairing 7 records: 3 pairs (2 by name, 1 by id), 1 record alone (1 no partner)');
    const out = numberOutputSchema.parse(JSON.parse(r.stdout));
    expect(out.records.map((x) => [x.name, x.pairedBy ?? x.unpaired, x.chains.map((c) => `${c.record}:${c.chainType}`).join(' ')])).toEqual([
      ['12e8', 'name', '12e8_H:H 12e8_L:K'],
      ['12e8_P_M', 'id', '12e8_P:H 12e8_M:K'],
      ['AAAC-1', 'name', 'heavy_chain_AAAC-1_contig_1:H light_chain_AAAC-1_contig_2:K'],
      ['nb_A', 'no partner', 'nb_A:H'],
    ]);
    const csv = path.join(dir, 'abs.csv');
    fs.writeFileSync(csv, `name,VH,VL\nab1,${VH},${VL}\nwrong,${VL},\nab1,${VH},\n`);
    const c = balmkit(['number', csv, '--json']);
    expect(c.code).toBe(1);
    const rows = numberOutputSchema.parse(JSON.parse(c.stdout));
    expect(rows.records.map((x) => [x.name, x.pairedBy ?? null, x.chains.map((ch) => ch.record).join(' ')])).toEqual([['ab1', 'row', 'ab1_H ab1_L']]);
    expect(rows.errors.map((e) => [e.record, e.reason])).toEqual([
      ['wrong', 'wrong-chain'],
      ['ab1', 'duplicate-name'],
    ]);
    expect(c.stderr).toMatch(/record 'ab1' \(.*abs\.csv line 4\): the same name as the row on line 2/);
  });

  it("-o x.csv writes ANARCI's tables (x_H.csv, x_KL.csv) that agree with ANARCI's own numbering of 530 PDB chains", (ctx) => {
    const rel = 'numbering/anarci-imgt-martin-aho-530.json';
    need(ctx, data(rel), BIOPYTHON); // Python's csv module reads the tables (Biopython's gate: Debian's python3)
    type Entry = { seq: string; imgt: { start: number; end: number; chain_type: string; numbers: string[]; residues: string[] } };
    const anarci = JSON.parse(fs.readFileSync(path.join(DATA, rel), 'utf8')) as Record<string, Entry>;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'balmkit-number-csv-'));
    const fasta = path.join(dir, 'chains.fasta');
    fs.writeFileSync(
      fasta,
      Object.entries(anarci)
        .map(([id, e]) => `>${id}\n${e.seq}\n`)
        .join(''),
    );
    const r = balmkit(['number', fasta, '--no-pair', '-o', path.join(dir, 'x.csv')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/wrote .*x_H\.csv \(\d+ chains\), .*x_KL\.csv \(\d+ chains\)/);
    const read = spawnSync(
      PYTHON,
      ['-c', 'import csv, json, sys; print(json.dumps([list(csv.reader(open(p, newline=""))) for p in sys.argv[1:]]))', path.join(dir, 'x_H.csv'), path.join(dir, 'x_KL.csv')],
      { encoding: 'utf8' },
    );
    expect(read.status, read.stderr).toBe(0);
    const tables = JSON.parse(read.stdout) as string[][][];
    let same = 0;
    let total = 0;
    let rows = 0;
    for (const [k, table] of tables.entries()) {
      const header = table[0];
      expect(header.slice(0, 13)).toEqual([
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
      ]);
      const col = new Map(header.map((h, j) => [h, j]));
      for (const row of table.slice(1)) {
        if (row[1] !== '0') continue; // ANARCI's entry is a record's first domain
        rows++;
        const e = anarci[row[0]].imgt;
        expect(k === 0 ? row[3] === 'H' : ['K', 'L'].includes(row[3]), row[0]).toBe(true);
        // ANARCI's order of the positions it numbers is the header's (a position no balmkit chain
        // has, where the numberings differ, is no column: counted as a disagreement).
        const cols = e.numbers.map((n) => col.get(n)).filter((c) => c !== undefined);
        expect(
          cols.every((c, j) => j === 0 || c > cols[j - 1]),
          `${row[0]}: column order`,
        ).toBe(true);
        e.numbers.forEach((n, j) => {
          total++;
          if (col.has(n) && row[col.get(n)!] === e.residues[j]) same++;
        });
      }
    }
    console.info(`ANARCI CSV layout: ${rows} chains, ${same}/${total} of ANARCI's numbered residues in the same column (${((100 * same) / total).toFixed(2)}%)`);
    expect(rows).toBe(Object.keys(anarci).length);
    expect(same / total).toBeGreaterThanOrEqual(0.995);
  }, 60_000);

  it('--format: json, table, csv/tsv agree with -o; a mismatch is a usage error', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'balmkit-number-format-'));
    const tsv = balmkit(['number', VH, '--format', 'tsv']);
    expect(tsv.code, tsv.stderr).toBe(0);
    const [head, row] = tsv.stdout
      .trimEnd()
      .split('\n')
      .map((l) => l.split('\t'));
    expect(head.slice(13, 16)).toEqual(['1', '2', '3']);
    expect(row.slice(0, 4)).toEqual(['sequence', '0', 'mouse', 'H']);
    expect(
      row
        .slice(13)
        .filter((c) => c !== '-')
        .join(''),
    ).toBe(VH);
    const both = balmkit(['number', '--heavy', VH, '--light', VL, '--format', 'csv']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/two tables .* give -o x\.csv/);
    const bad = balmkit(['number', VH, '--format', 'csv', '-o', path.join(dir, 'x.json')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/ends in \.json but the format is csv/);
    expect(balmkit(['number', VH, '--json', '--format', 'table']).stderr).toMatch(/--json and --format table disagree/);
    // An scFv with a His tag, as JSON: one stderr line names both domains, the linker and the tag
    // (VH 120 + linker 15 + VL 108 whose last R starts the constant region + 6 His).
    const scfv = balmkit(['number', `${VH}GGGGSGGGGSGGGGS${VL}HHHHHH`, '--json']);
    expect(scfv.code, scfv.stderr).toBe(0);
    expect(scfv.stderr).toContain("record 'sequence': 2 domains (H 1–120, K 136–242 of 249; trimmed 0 before, 15 between, 7 after)");
    const j = balmkit(['number', VH, '-o', path.join(dir, 'n.json')]);
    expect(j.code, j.stderr).toBe(0);
    expect(numberOutputSchema.parse(JSON.parse(fs.readFileSync(path.join(dir, 'n.json'), 'utf8'))).records).toHaveLength(1);
  });

  it('checks --heavy/--light against the chain type', () => {
    const r = balmkit(['number', '--heavy', VL]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/record '--heavy', H chain, this is a kappa light chain .* given as heavy/);
    const ok = balmkit(['number', '--heavy', VH, '--light', VL, '--json']);
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('rejects bad options with exit code 2 and writes -o files whole', () => {
    const bad = balmkit(['number', VH, '--scheme', 'aho']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--scheme must be one of imgt, chothia, kabat');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'balmkit-number-'));
    const file = path.join(dir, 'out.json');
    const r = balmkit(['number', VH, '--json', '-o', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(numberOutputSchema.parse(JSON.parse(fs.readFileSync(file, 'utf8'))).records).toHaveLength(1);
    expect(fs.readdirSync(dir)).toEqual(['out.json']);
  });
});
