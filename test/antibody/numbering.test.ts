/**
 * Numbering: IMGT CDR rules, scheme conversion, validation and input parsing as units; then real
 * chains against independent references: the Chothia numbering in the residue columns of the
 * Rosetta Fv structures and the CDR columns of rosetta-fv.info (sampled; the full-set figures come
 * from models/numbering/report-rosetta.ts), ANARCI's TCR and non-human profiles (consensus
 * sequences), lysozyme.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import {
  NotAnAntibodyError,
  SequenceError,
  cleanSequence,
  convertNumbering,
  imgtCdrPositions,
  looksLikeNucleotides,
  number,
  parseFasta,
  translateLongestOrf,
  type Position,
} from '../../src/antibody/index.js';
import { INFO_CDR_RANGES, chothiaRange, listStructures, readInfo, readStructure, type CdrColumns } from '../../models/numbering/rosetta-fv.js';
import { hmmConsensus } from '../../models/numbering/hmm-consensus.js';
import { DATA, H12E8, L12E8, VH12E8, VL12E8, backTranslate, data } from './data.js';
import { need } from '../shared-data.js';

const lab = (xs: readonly Position[]): string => xs.map((x) => `${x.number}${x.insertion}`).join(' ');

describe('IMGT CDR numbering rules', () => {
  it('fills from both ends, gaps at the tip', () => {
    expect(lab(imgtCdrPositions(8, 27, 38))).toBe('27 28 29 30 35 36 37 38');
    expect(lab(imgtCdrPositions(3, 56, 65))).toBe('56 57 65');
    expect(lab(imgtCdrPositions(10, 105, 117))).toBe('105 106 107 108 109 113 114 115 116 117');
  });
  it('puts insertions on the middle positions, 112 first, letters towards the middle', () => {
    expect(lab(imgtCdrPositions(14, 105, 117))).toBe('105 106 107 108 109 110 111 112A 112 113 114 115 116 117');
    expect(lab(imgtCdrPositions(16, 105, 117))).toBe('105 106 107 108 109 110 111 111A 112B 112A 112 113 114 115 116 117');
    expect(lab(imgtCdrPositions(13, 27, 38))).toBe('27 28 29 30 31 32 33A 33 34 35 36 37 38');
  });
});

describe('Chothia and Kabat from IMGT', () => {
  const imgt = (labels: string): Position[] => labels.split(' ').map((l) => ({ number: parseInt(l, 10), insertion: l.replace(/^\d+/, '') }));
  it('H3 of 13 residues: 93–100, 100A–C, 101, 102 in both schemes', () => {
    const h3 = imgt('105 106 107 108 109 110 111 112 113 114 115 116 117 118');
    const want = '93 94 95 96 97 98 99 100 100A 100B 100C 101 102 103';
    expect(lab(convertNumbering(h3, 'chothia', 'heavy'))).toBe(want);
    expect(lab(convertNumbering(h3, 'kabat', 'heavy'))).toBe(want);
  });
  it('H1 insertions: Chothia on 31, Kabat on 35', () => {
    // 13 residues in IMGT 24–40 territory before 41: IMGT CDR1 of 10 + framework 24–26, 39, 40.
    const h1 = imgt('24 25 26 27 28 29 30 31 34 35 36 37 38 39 40 41');
    expect(lab(convertNumbering(h1, 'chothia', 'heavy'))).toBe('23 24 25 26 27 28 29 30 31 31A 31B 32 33 34 35 36');
    expect(lab(convertNumbering(h1, 'kabat', 'heavy'))).toBe('23 24 25 26 27 28 29 30 31 32 33 34 35 35A 35B 36');
  });
  it('heavy FR3: IMGT 92–94 are 82A–C', () => {
    const fr3 = imgt('90 91 92 93 94 95');
    expect(
      lab(convertNumbering(fr3, 'chothia', 'heavy'))
        .split(' ')
        .slice(-6)
        .join(' '),
    ).toBe('81 82 82A 82B 82C 83');
  });
  it('light: lambda FR1 gap and an 8-residue L3 (Chothia conventions of the structures), Kabat as ANARCI', () => {
    const fr1 = imgt('1 2 3 4 5 6 7 8 9 11');
    expect(lab(convertNumbering(fr1, 'chothia', 'light'))).toBe('1 2 3 4 5 6 7 8 10 11');
    expect(lab(convertNumbering(fr1, 'kabat', 'light'))).toBe('1 2 3 4 5 6 7 8 9 11');
    const l3 = imgt('104 105 106 107 108 109 115 116 117 118');
    expect(lab(convertNumbering(l3, 'chothia', 'light'))).toBe('88 89 90 91 92 93 94 95 97 98');
    expect(lab(convertNumbering(l3, 'kabat', 'light'))).toBe('88 89 90 91 92 93 94 96 97 98');
  });
});

describe('validation and input', () => {
  it('names the record, chain and position of every bad letter', () => {
    let err: unknown;
    try {
      cleanSequence('EVQLJESG1GG', { record: 'ab1', chain: 'H' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SequenceError);
    expect((err as SequenceError).message).toContain("record 'ab1', H chain, residue 5: 'J'");
    expect((err as SequenceError).problems.map((p) => p.position)).toEqual([5, 9]);
    expect(() => cleanSequence('  ')).toThrow(/empty/);
    expect(() => cleanSequence('A'.repeat(2001))).toThrow(/longer than the 2000/);
    expect(cleanSequence('evql vesg*')).toBe('EVQLVESG');
  });

  it('says DNA/RNA is DNA/RNA and offers --translate; translating gives the protein back', () => {
    // Trastuzumab's heavy-chain V domain back-translated with one codon per residue.
    const protein = 'EVQLVESGGGLVQPGGSLRLSCAASGFNIKDTYIHWVRQAPGKGLEWVARIYPTNGYTRYADSVKGRFTISADTSKNTAYLQMNSLRAEDTAVYYCSRWGGDGFYAMDYWGQGTLVTVSS';
    const dna = `TAG${backTranslate(protein)}TGAAC`;
    expect(looksLikeNucleotides(dna)).toBe(true);
    expect(looksLikeNucleotides(protein)).toBe(false);
    expect(looksLikeNucleotides('A'.repeat(100))).toBe(false); // poly-alanine is not DNA
    expect(() => number(dna.toLowerCase(), { source: { record: 'contig1' } })).toThrow(/record 'contig1', this looks like DNA\/RNA \(100% of its \d+ letters.*--translate/);
    expect(() => number(dna)).not.toThrow(/not an antibody variable domain/);
    expect(translateLongestOrf(dna)).toBe(protein);
    expect(translateLongestOrf(dna.replace(/T/g, 'U'))).toBe(protein); // RNA
  });

  it('suggests X for an unknown residue only where X is accepted', () => {
    expect(() => cleanSequence('EVQL1ESG')).toThrow(/use one-letter codes \(X for unknown\)/);
    expect(() => cleanSequence('EVQLBESG')).toThrow(/replace it by the residue, or X if unknown/);
    let message = '';
    try {
      cleanSequence('EVQL1ESGXG', { record: 'r' }, { allowUnknown: false });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/residue 5: '1' is not an amino acid: use one-letter codes;/);
    expect(message).not.toMatch(/X for unknown|or X if/);
    expect(message).toMatch(/residue 9: 'X' \(an unknown residue\) cannot be built/);
  });
  it('parses multi-record FASTA', () => {
    const recs = parseFasta('>ab1_H first\nEVQL\nVESG\n>ab1_L\nDIQM\n>x|H\nQVQL\n>lone\nAAAA\n');
    expect(recs.map((r) => [r.name, r.description, r.sequence, r.line])).toEqual([
      ['ab1_H', 'first', 'EVQLVESG', 1],
      ['ab1_L', '', 'DIQM', 4],
      ['x|H', '', 'QVQL', 6],
      ['lone', '', 'AAAA', 8],
    ]);
    expect(parseFasta('EVQLVESG\nGGLV')).toEqual([{ name: 'sequence', description: '', sequence: 'EVQLVESGGGLV', line: 1 }]);
  });
});

describe('numbering real chains (shipped profiles)', () => {
  it('numbers a full-length heavy and kappa chain, trimming the constant domain', () => {
    const h = number(H12E8, { scheme: 'chothia' });
    expect(h.domains).toHaveLength(1);
    const d = h.domains[0];
    expect([d.chainType, d.start, d.end, d.species]).toEqual(['H', 0, 119, 'mouse']);
    expect(h.trimmed).toEqual({ before: 0, after: H12E8.length - 120, between: 0 });
    const cdr3 = d.residues
      .filter((r) => r.region === 'cdr3')
      .map((r) => r.aa)
      .join('');
    expect(cdr3).toBe('GHDYDRGRFPY'); // Chothia H3 95–102 of 12e8 (rosetta-fv.info: GHDYDRGRFPY)
    const l = number(L12E8).domains[0];
    expect([l.chainType, l.start]).toEqual(['K', 0]);
    expect(l.residues.find((r) => r.imgt.number === 104)!.aa).toBe('C');
    expect(l.residues.find((r) => r.imgt.number === 118)!.aa).toBe('F');
    expect(l.vGene!.identity).toBeGreaterThan(0.9);
  });
  it('trims a leader peptide and a His tag, and reports it', () => {
    const leader = 'MGWSCIILFLVATATGVHS';
    const r = number(`${leader}${VH12E8}GSHHHHHH`);
    expect(r.domains[0].start).toBe(leader.length);
    expect(r.domains[0].sequence).toBe(VH12E8);
    expect(r.trimmed.before).toBe(leader.length);
    expect(r.trimmed.after).toBe(8);
  });
  it('an scFv yields both domains in order, either way round', () => {
    const linker = 'GGGGSGGGGSGGGGS';
    const hl = number(`${VH12E8}${linker}${VL12E8}`);
    expect(hl.domains.map((d) => d.chainType)).toEqual(['H', 'K']);
    // 12E8's kappa chain ends …KLELKR: as ANARCI, the domain ends at K (IMGT 127); the R that
    // starts the constant region is trimmed.
    expect(VL12E8.endsWith('KR')).toBe(true);
    expect(hl.domains[1].sequence).toBe(VL12E8.slice(0, -1));
    expect(hl.trimmed).toEqual({ before: 0, after: 1, between: linker.length });
    const lh = number(`${VL12E8}${linker}${VH12E8}`);
    expect(lh.domains.map((d) => d.chainType)).toEqual(['K', 'H']);
    // The same residues get the same numbers alone and inside the scFv.
    const alone = number(VH12E8).domains[0].residues.map((r) => `${r.number}${r.insertion}${r.aa}`);
    expect(lh.domains[1].residues.map((r) => `${r.number}${r.insertion}${r.aa}`)).toEqual(alone);
  });
  it('a light chain given as heavy is an error naming both', () => {
    expect(() => number(L12E8, { expect: 'heavy', source: { record: 'ab', chain: 'H' } })).toThrow(/record 'ab', H chain, this is a kappa light chain .* given as heavy/);
  });
});

describe('chain ends numbered as ANARCI numbers them', () => {
  const vh = 'EVQLVESGGGLVQPGGSLRLSCAASGFNIKDTYIHWVRQAPGKGLEWVARIYPTNGYTRYADSVKGRFTISADTSKNTAYLQMNSLRAEDTAVYYCSRWGGDGFYAMDY';
  it.each(['WGQGTMVSVSA', 'WGKGTPVTVSA', 'WGQGTQVTVSG'])('a heavy chain ending …%s keeps its last residue, at IMGT 128', (fr4) => {
    const d = number(vh + fr4).domains[0];
    expect(d.end).toBe(vh.length + fr4.length - 1);
    expect(d.residues.slice(-4).map((r) => `${r.aa}${r.imgt.number}`)).toEqual([...fr4.slice(-4)].map((c, j) => `${c}${125 + j}`));
  });
  it('a light chain ending …FGGGTELEIL keeps its last residue, at IMGT 127', () => {
    const vl = 'DIQMTQSPSSLSASVGDRVTITCRASQDVNTAVAWYQQKPGKAPKLLIYSASFLYSGVPSRFSGSRSGTDFTLTISSLQPEDFATYYCQQHYTTPPTFGGGTELEIL';
    const d = number(vl).domains[0];
    expect(d.end).toBe(vl.length - 1);
    expect(d.residues.at(-1)).toMatchObject({ aa: 'L', imgt: { number: 127, insertion: '' } });
  });
  it('a nanobody with a divergent FR1 is numbered from its first residue at IMGT 1', () => {
    const nb = 'KAHNTESGEMLFTVKKSLRLSCTASGAIFSTYDVSWYRQAPEKPRELVAIITRGGNTHYADTVKGRFTISRDNAKKTVNLQMNSLKPEDTAVYYCHAGVQGAMLGPRNYWGQGTQVTVSS';
    const d = number(nb).domains[0];
    expect(d.start).toBe(0);
    expect(d.residues[0]).toMatchObject({ aa: 'K', imgt: { number: 1, insertion: '' } });
    expect(d.residues.at(-1)).toMatchObject({ aa: 'S', imgt: { number: 128, insertion: '' } });
  });
  it('a chain that stops inside CDR3 keeps its last residues, numbered forward from 105 (2h3n_A)', () => {
    // ANARCI numbers this lambda fragment to its M, placed at 117 (its HMM's jump to FR4), and
    // leaves G, A out; balmkit numbers all three as the start of a truncated CDR3.
    const frag = 'QPVLHQPPAMSSALGTTIRLTCTLRNDHDIGVYSVYWYQQRPGHPPRFLLRYFSQSDKSQGPQVPPRFSGSKDVARNRGYLSISELQPEDEAMYYCAMGA';
    const d = number(frag).domains[0];
    expect([d.chainType, d.start, d.end]).toEqual(['L', 0, frag.length - 1]);
    expect(d.residues.slice(-5).map((r) => `${r.aa}${r.imgt.number}${r.imgt.insertion}:${r.region}`)).toEqual(['C104:fwr3', 'A105:cdr3', 'M106:cdr3', 'G107:cdr3', 'A108:cdr3']);
  });
  it('a leader before FR1 is still trimmed, not numbered', () => {
    const leader = 'MEFGLSWVFLVAILKGVQC';
    const d = number(leader + vh + 'WGQGTLVTVSS').domains[0];
    expect(d.start).toBe(leader.length);
    expect(d.residues[0]).toMatchObject({ aa: 'E', imgt: { number: 1 } });
  });
});

describe('against independent references (../shared/data)', () => {
  it("agrees with ANARCI's IMGT numbering of 530 PDB chains (figures printed)", async (ctx) => {
    const file = data('numbering/anarci-imgt-martin-aho-530.json');
    need(ctx, file);
    const { agreement } = await import('../../bench/anarci-agreement.js');
    const r = agreement(JSON.parse(fs.readFileSync(file.path(), 'utf8')));
    const pct = (100 * r.same) / r.residues;
    console.info(
      `ANARCI IMGT agreement: ${r.same}/${r.residues} residues (${pct.toFixed(2)}%), ${r.notNumbered.length} chains not numbered, ${r.shorter.length} numbered shorter (${r.shorter.map((x) => x.id).join(', ')})`,
    );
    expect(pct).toBeGreaterThanOrEqual(99.5);
    expect(r.notNumbered).toEqual([]);
    expect(r.shorter.map((x) => x.id)).toEqual([]);
  });

  it('lysozyme is not an antibody', (ctx) => {
    need(ctx, data('antibody-sequences/not-an-antibody-lysozyme.fasta'));
    const rec = parseFasta(fs.readFileSync(path.join(DATA, 'antibody-sequences/not-an-antibody-lysozyme.fasta'), 'utf8'))[0];
    expect(() => number(rec.sequence)).toThrow(NotAnAntibodyError);
    expect(() => number(rec.sequence)).toThrow(/not an antibody variable domain.*best score/);
  });

  it("ANARCI's profiles: TCR consensus rejected, antibodies of species balmkit has no germlines for numbered", (ctx) => {
    need(ctx, data('germlines/anarci-ALL.hmm'));
    const cons = hmmConsensus(fs.readFileSync(path.join(DATA, 'germlines/anarci-ALL.hmm'), 'utf8'));
    expect(cons.size).toBe(29);
    for (const [name, seq] of cons) {
      const chain = name.split('_')[1];
      if ('ABGD'.includes(chain)) {
        expect(() => number(seq), name).toThrow(NotAnAntibodyError);
      } else {
        const d = number(seq).domains[0];
        expect(d.chainType, name).toBe(chain);
        expect(d.residues.find((r) => r.imgt.number === 104)?.aa, name).toBe('C');
      }
    }
  });

  it("numbering OGRDB's human and mouse germline V genes reproduces their IMGT gapping", (ctx) => {
    // Self-consistency more than independence (the profiles are made from these genes), but the
    // CDR gaps come from IMGT's length rule, not from the alignment, and the genes' gapping is IMGT's.
    need(ctx, data('germlines/ogrdb-human/v.imgt-gapped.fasta'));
    const codon = (c: string): string => {
      const B = 'TCAG';
      const i = [...c].reduce((x, b) => x * 4 + B.indexOf(b), 0);
      return 'FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG'[i];
    };
    let genes = 0;
    let identical = 0;
    for (const sp of ['human', 'balbc', 'c57bl6']) {
      const text = fs.readFileSync(path.join(DATA, `germlines/ogrdb-${sp}/v.imgt-gapped.fasta`), 'utf8');
      for (const rec of parseFasta(text)) {
        let gapped = '';
        for (let i = 0; i + 3 <= Math.min(rec.sequence.length, 312); i += 3) {
          const c = rec.sequence.slice(i, i + 3).toUpperCase();
          gapped += c === '...' ? '-' : /^[TCAG]{3}$/.test(c) ? codon(c) : 'X';
        }
        if (/[*X]/.test(gapped) || gapped[22] !== 'C' || gapped[103] !== 'C') continue;
        genes++;
        const d = number(gapped.replace(/-/g, '')).domains[0];
        const mine = Array.from({ length: 104 }, () => '-');
        for (const r of d.residues) if (r.imgt.insertion === '' && r.imgt.number <= 104) mine[r.imgt.number - 1] = r.aa;
        if (mine.join('') === gapped) identical++;
      }
    }
    expect(genes).toBeGreaterThan(700);
    expect(identical / genes).toBeGreaterThan(0.99); // measured: all but 4 odd mouse genes
  });

  it('Chothia numbering agrees with the rosetta-fv structures (every 8th file) and CDRs with rosetta-fv.info', (ctx) => {
    need(ctx, data('antibody-structures/rosetta-fv'));
    const files = listStructures(path.join(DATA, 'antibody-structures/rosetta-fv'));
    const sample = files.filter((_, i) => i % 8 === 0);
    const info = readInfo(path.join(DATA, 'antibody-structures/rosetta-fv.info'));
    let total = 0;
    let same = 0;
    let cdrs = 0;
    let cdrSame = 0;
    for (const f of sample) {
      const e = readStructure(f);
      for (const chain of ['H', 'L'] as const) {
        const c = e.chains[chain];
        if (c === undefined) continue;
        total += c.sequence.length;
        let d;
        try {
          d = number(c.sequence, { scheme: 'chothia', maxDomains: 1 }).domains[0]!;
        } catch (err) {
          expect(err, `${e.id} ${chain}`).toBeInstanceOf(NotAnAntibodyError); // a fragment: counts as disagreement
          continue;
        }
        expect(d.chainType === 'H', `${e.id} ${chain}`).toBe(chain === 'H');
        const ours = new Map(d.residues.map((r) => [r.index, `${r.number}${r.insertion}`]));
        c.labels.forEach((l, i) => {
          if (ours.get(i) === l) same++;
        });
        const cols = info.get(e.id);
        if (cols === undefined) continue;
        for (const key of Object.keys(INFO_CDR_RANGES) as (keyof CdrColumns)[]) {
          if (key[0] !== chain.toLowerCase() || cols[key] === 'none') continue;
          cdrs++;
          if (chothiaRange(d, INFO_CDR_RANGES[key]) === cols[key]) cdrSame++;
        }
      }
    }
    expect(sample.length).toBeGreaterThanOrEqual(239);
    expect(same / total).toBeGreaterThan(0.98); // full set: 98.86% (report-rosetta.ts)
    expect(cdrSame / cdrs).toBeGreaterThan(0.96);
  });
});
