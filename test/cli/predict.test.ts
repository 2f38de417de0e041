/**
 * `balmkit predict-structure` as a user runs it (the built CLI): a FASTA mixing good pairs, the
 * lysozyme record (../shared/data) and a record with an invalid letter writes every good
 * structure and reports the two bad ones with exit code 1; --heavy/--light to one file; CSV input;
 * --json summary; usage errors exit 2.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

import { relaxCapLine } from '../../cli/commands/predict.js';
import { parsePdb } from '../../src/io/pdb.js';
import { parseMmcif } from '../../src/io/mmcif.js';
import { MAIN, ROOT, balmkit, ensureBuilt } from './helpers.js';
import { need, sharedData } from '../shared-data.js';

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'fold-baseline', 'antibodies.fasta');
const LYSOZYME = sharedData('the mixed-FASTA predict-structure test', 'antibody-sequences/not-an-antibody-lysozyme.fasta');
const pairs = fs.readFileSync(FIXTURE, 'utf8');
const seq = (name: string) => new RegExp(`>${name}\\n(\\S+)`).exec(pairs)![1];

let tmp: string;
beforeAll(() => {
  ensureBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'balmkit-predict-'));
});

describe('balmkit predict-structure', () => {
  it('a batch in which every record fails builds no model (the model cache stays empty)', () => {
    const cache = path.join(tmp, 'cache-bad-batch');
    const fasta = path.join(tmp, 'all-bad.fasta');
    fs.writeFileSync(fasta, `>a_H\n${seq('trastuzumab_H').replace(/^(.{10})./, '$1J')}\n>a_L\n${seq('trastuzumab_L')}\n>b\nEVQLVESGGG\n`);
    const r = balmkit(['predict-structure', fasta, '-o', path.join(tmp, 'bad-out')], { BALMKIT_CACHE_DIR: cache });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/2 record\(s\) failed/);
    expect(fs.existsSync(path.join(cache, 'models')) ? fs.readdirSync(path.join(cache, 'models')) : []).toEqual([]);
  });

  it('two processes started together on an empty model cache both predict, and leave one entry per model', async () => {
    const cache = path.join(tmp, 'cache-race');
    const run = (k: number) =>
      new Promise<{ code: number | null; err: string }>((resolve) => {
        const p = spawn(process.execPath, [MAIN, 'predict-structure', '--heavy', seq('trastuzumab_H'), '--light', seq('trastuzumab_L'), '-o', path.join(tmp, `race${k}.pdb`)], {
          cwd: ROOT,
          env: { ...process.env, BALMKIT_CACHE_DIR: cache, BALMKIT_EP: 'cpu' },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let err = '';
        p.stderr.on('data', (d: Buffer) => (err += d.toString()));
        p.on('close', (code) => resolve({ code, err }));
      });
    const results = await Promise.all([run(1), run(2)]);
    for (const r of results) expect(r.code, r.err).toBe(0);
    expect(fs.readFileSync(path.join(tmp, 'race1.pdb'), 'utf8')).toBe(fs.readFileSync(path.join(tmp, 'race2.pdb'), 'utf8'));
    const entries = fs.readdirSync(path.join(cache, 'models'));
    expect(entries.filter((e) => e.startsWith('.'))).toEqual([]); // no temporary folder left
    expect(entries).toHaveLength(2); // the fold graph and BALM
    // balmkit cache info / clear on that folder.
    const info = balmkit(['cache', 'info', '--json'], { BALMKIT_CACHE_DIR: cache });
    expect(info.code, info.stderr).toBe(0);
    const listed = JSON.parse(info.stdout) as { folder: string; entries: { label: string; ep: string }[] };
    expect(listed.folder).toBe(cache);
    expect(listed.entries.map((e) => e.label).sort()).toEqual(['BALM balm-small', 'balmfold-small fold graph']);
    expect(balmkit(['cache', 'info'], { BALMKIT_CACHE_DIR: cache }).stdout).toMatch(/2 entries, [\d.]+ MB/);
    expect(balmkit(['cache', 'clear'], { BALMKIT_CACHE_DIR: cache }).stdout).toMatch(/^removed 2 entries/);
    expect(fs.readdirSync(path.join(cache, 'models'))).toEqual([]);
  });

  it('a repeated record name is a bad record: reported, the rest written, nothing renamed', () => {
    const fasta = path.join(tmp, 'dups.fasta');
    const h = seq('trastuzumab_H');
    const l = seq('trastuzumab_L');
    fs.writeFileSync(fasta, `>a_H\n${h}\n>a_L\n${l}\n>a_H\n${h}\n>b\n${h}\n>b\n${h}\n>B\n${h}\n`);
    const out = path.join(tmp, 'dups');
    const r = balmkit(['predict-structure', fasta, '-o', out, '--model', 'fold-baseline', '--json']);
    expect(r.code).toBe(1);
    expect(fs.readdirSync(out).sort()).toEqual(['a.pdb', 'b.pdb']);
    const j = JSON.parse(r.stdout) as { errors: { name: string; reason: string; message: string }[] };
    expect(j.errors.map((e) => [e.name, e.reason])).toEqual([
      ['a_H', 'duplicate-name'],
      ['b', 'duplicate-name'],
      ['B', 'cannot-write'],
    ]);
    expect(r.stderr).toMatch(/record 'a_H' \(line 5\): the same name as an earlier record \(line 1\); record names must be unique: rename one/);
    expect(r.stderr).toMatch(/record 'B': its file name B is already that of record 'b'/);
  });

  it('says on stderr what was trimmed from each chain (a constant region, a His tag)', () => {
    const h = `${seq('trastuzumab_H')}ASTKGPSVFPLAPSSKSTSGGTAALGCLVK`;
    const l = `${seq('trastuzumab_L')}HHHHHH`;
    const r = balmkit(['predict-structure', '--heavy', h, '--light', l, '-o', path.join(tmp, 'trim.pdb'), '--model', 'fold-baseline']);
    expect(r.code, r.stderr).toBe(0);
    const vh = seq('trastuzumab_H').length;
    expect(r.stderr).toContain(`record 'antibody', H chain: kept residues 1–${vh} of ${h.length} (trimmed 0 before, ${h.length - vh} after: outside the variable domain)`);
    expect(r.stderr).toMatch(/record 'antibody', L chain: kept residues 1–\d+ of \d+ \(trimmed 0 before, [67] after/);
    // The file says it too, with the relaxation's outcome: TRIMMED and RELAX records, read back.
    const text = fs.readFileSync(path.join(tmp, 'trim.pdb'), 'utf8');
    expect(text).toContain(`REMARK 999 BALMKIT TRIMMED H 1 ${vh} 0 ${h.length - vh}\n`);
    expect(text).toMatch(/^REMARK 999 BALMKIT RELAX (true|false) \d+\.\d\d$/m);
    const meta = parsePdb(text).metadata!;
    expect(meta.trimmed![0]).toEqual({ chain: 'H', first: 1, last: vh, before: 0, after: h.length - vh });
    expect(meta.trimmed![1]).toMatchObject({ chain: 'L', first: 1, before: 0 });
    expect(meta.relax!.maxMove).toBeGreaterThan(0);
  });

  it('names the structures whose relaxation stopped at its iteration cap, in one stderr line', () => {
    const capped = ['a', 'b', 'c', 'd', 'e', 'f'].map((name, k) => ({ name, maxMove: k === 2 ? 4.1 : 0.5 }));
    expect(relaxCapLine(capped, 34)).toBe(
      "balmkit: 6 of 34 structures stopped at the relaxation's iteration cap before converging (largest atom move 4.1 Å, c): a, b, c, d, e, …; geometry is still checked (relax and geometry in --json)",
    );
  });

  it('a digit in a sequence is reported without suggesting X, which a structure cannot hold', () => {
    const r = balmkit([
      'predict-structure',
      '--heavy',
      seq('trastuzumab_H').replace(/^(.{30})./, '$17'),
      '--light',
      seq('trastuzumab_L'),
      '-o',
      path.join(tmp, 'digit.pdb'),
      '--model',
      'fold-baseline',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/H chain, residue 31: '7' is not an amino acid: use one-letter codes/);
    expect(r.stderr).not.toMatch(/X for unknown|or X if unknown/);
    const x = balmkit(['predict-structure', '--heavy', seq('trastuzumab_H').replace(/^(.{30})./, '$1X'), '--light', seq('trastuzumab_L'), '-o', path.join(tmp, 'x.pdb'), '--model', 'fold-baseline']);
    expect(x.code).toBe(1);
    expect(x.stderr).toMatch(/residue 31: 'X' \(an unknown residue\) cannot be built into a structure/);
  });

  it('writes every good structure of a mixed FASTA and reports the lysozyme and the invalid letter (exit 1)', (ctx) => {
    need(ctx, LYSOZYME);
    const bad = seq('trastuzumab_L').replace(/^(.{49})./, '$1J');
    const fasta = path.join(tmp, 'mixed.fasta');
    fs.writeFileSync(fasta, `${pairs}${fs.readFileSync(LYSOZYME.path(), 'utf8')}\n>broken_H\n${seq('adalimumab_H')}\n>broken_L\n${bad}\n`);
    const out = path.join(tmp, 'mixed');
    const r = balmkit(['predict-structure', fasta, '-o', out, '--json']);
    expect(r.code, r.stderr).toBe(1);
    expect(fs.readdirSync(out).sort()).toEqual(['adalimumab.pdb', 'trastuzumab.pdb']);
    for (const f of ['adalimumab.pdb', 'trastuzumab.pdb']) {
      const s = parsePdb(fs.readFileSync(path.join(out, f), 'utf8'));
      expect(s.chains.map((c) => c.id)).toEqual(['H', 'L']);
      expect(s.metadata?.model).toBe('balmfold-small');
    }
    expect(r.stderr).toMatch(/record '2LYZ:A\|PDBID\|CHAIN\|SEQUENCE': not an antibody variable domain/);
    expect(r.stderr).toMatch(/record 'broken', L chain, residue 50: 'J' is not/);
    expect(r.stderr).toMatch(/2 record\(s\) failed/);
    const summary = JSON.parse(r.stdout) as {
      records: { name: string; file: string; cdrs: { name: string; meanError: number }[]; residues: unknown[] }[];
      errors: { name: string; reason: string }[];
      model: string;
    };
    expect(summary.model).toBe('balmfold-small');
    expect(summary.records.map((x) => x.name)).toEqual(['trastuzumab', 'adalimumab']);
    expect(summary.records[0].cdrs.map((c) => c.name)).toEqual(['H1', 'H2', 'H3', 'L1', 'L2', 'L3']);
    expect(summary.errors.map((e) => e.name)).toEqual(['2LYZ:A|PDBID|CHAIN|SEQUENCE', 'broken']);
    expect(summary.errors[0].reason).toMatch(/^(low-score|no-domain)$/);
    expect(summary.errors[1].reason).toBe('invalid-residue');
  });

  it('--heavy/--light to one .cif file, numbered in Chothia', () => {
    const file = path.join(tmp, 'one.cif');
    const r = balmkit(['predict-structure', '--heavy', seq('trastuzumab_H'), '--light', seq('trastuzumab_L'), '--name', 'tz', '-o', file, '--scheme', 'chothia']);
    expect(r.code, r.stderr).toBe(0);
    const s = parseMmcif(fs.readFileSync(file, 'utf8'));
    expect(s.metadata?.scheme).toBe('chothia');
    const h3 = s.metadata!.cdrs.find((c) => c.name === 'H3')!;
    expect([h3.start.number, h3.end.number]).toEqual([95, 102]);
    // Chothia puts the light chain's CDR1 insertions at 30A…; trastuzumab's L1 (11 residues) has none.
    expect(s.chains.find((c) => c.id === 'L')!.residues[0].number).toBe(1);
  });

  it('reads a CSV name,heavy,light and writes one file per antibody', () => {
    const csv = path.join(tmp, 'abs.csv');
    fs.writeFileSync(csv, `name,heavy,light\nt1,${seq('trastuzumab_H')},${seq('trastuzumab_L')}\nvh,${seq('adalimumab_H')},\n`);
    const out = path.join(tmp, 'csv');
    const r = balmkit(['predict-structure', csv, '-o', out, '--format', 'pdb']);
    expect(r.code, r.stderr).toBe(0);
    expect(fs.readdirSync(out).sort()).toEqual(['t1.pdb', 'vh.pdb']);
    expect(parsePdb(fs.readFileSync(path.join(out, 'vh.pdb'), 'utf8')).chains.map((c) => c.id)).toEqual(['H']);
  });

  it('exits 2 naming the fix for a batch without -o, a bad --format, and --json without -o', () => {
    const batch = balmkit(['predict-structure', FIXTURE]);
    expect(batch.code).toBe(2);
    expect(batch.stderr).toMatch(/2 antibodies: give -o DIR/);
    const fmt = balmkit(['predict-structure', FIXTURE, '-o', tmp, '--format', 'xyz']);
    expect(fmt.code).toBe(2);
    expect(fmt.stderr).toMatch(/--format must be one of pdb, cif/);
    const json = balmkit(['predict-structure', '--heavy', seq('trastuzumab_H'), '--json']);
    expect(json.code).toBe(2);
    const recycles = balmkit(['predict-structure', '--heavy', seq('trastuzumab_H'), '-o', path.join(tmp, 'r.pdb'), '--model', 'fold-baseline', '--recycles', '1']);
    expect(recycles.code).toBe(2);
    expect(recycles.stderr).toMatch(/--recycles: model 'fold-baseline' is a template-baseline, which does not recycle/);
    const negative = balmkit(['predict-structure', '--heavy', seq('trastuzumab_H'), '-o', path.join(tmp, 'r.pdb'), '--recycles', '-1']);
    expect(negative.code).toBe(2);
    expect(negative.stderr).toMatch(/--recycles must be a whole number ≥ 0/);
  });
});
