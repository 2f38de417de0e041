/**
 * The page's reading of balmkit files: its REMARK parser against the Node reader of `src/io` on
 * the same file, CDR regions by file order (insertions included), IMGT fallback, and the error
 * legend's bins.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatMmcif, parseMmcif } from '../../src/io/mmcif.js';
import { parsePdb } from '../../src/io/pdb.js';
import { metadataLines } from '../../src/io/structure.js';
import { type ResidueRecord, annotate, regionMeans, residueKey } from '../../viewer/src/annotation.js';
import { ERROR_BINS, errorColor } from '../../viewer/src/palette.js';
import { parseRemarks, remarkLines } from '../../viewer/src/remarks.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/viewer');
const text = readFileSync(path.join(fixtures, 'fv-1a14-prediction.pdb'), 'utf8');
const structure = parsePdb(text);

/** The fixture's residues as the page reads them from Mol* (chain, number, insertion, CA B-factor). */
const residues: ResidueRecord[] = structure.chains.flatMap((c) =>
  c.residues.map((r) => ({ chain: c.id, number: r.number, insertion: r.insertion, name: r.name, letter: 'X', bFactor: (r.atoms.find((a) => a.name === 'CA') ?? r.atoms[0]).bFactor })),
);

describe('balmkit REMARKs in the page', () => {
  it('reads what the src/io reader reads', () => {
    const page = parseRemarks(text)!;
    const node = structure.metadata!;
    expect(page.version).toBe(node.version);
    expect(page.model).toBe(node.model);
    expect(page.scheme).toBe(node.scheme);
    expect(page.bfactor).toBe('PREDICTED_ERROR_ANGSTROM');
    expect(page.sequences).toEqual(node.sequences);
    expect(page.cdrs).toEqual(node.cdrs);
    expect(page.cdrs.map((c) => c.name)).toEqual(['H1', 'H2', 'H3', 'L1', 'L2', 'L3']);
  });

  it('reads the mmCIF form as src/io writes and reads it, and finds none in a plain file', () => {
    const cif = formatMmcif(structure, { name: 'fixture' });
    const node = parseMmcif(cif).metadata!;
    const page = parseRemarks(cif)!;
    expect(page.cdrs).toEqual(node.cdrs);
    expect(page.sequences).toEqual(node.sequences);
    expect([page.version, page.model, page.scheme]).toEqual([node.version, node.model, node.scheme]);
    expect(remarkLines(cif)).toEqual(metadataLines(node));
    // A single item instead of a loop; quotes, comments and a ;-text field.
    const single = `data_x\n_balmkit_remark.ordinal 1\n_balmkit_remark.text 'CDR H3 H 105 117' # note\n_atom_site.id 1\n`;
    expect(remarkLines(single)).toEqual(['CDR H3 H 105 117']);
    const text = `data_x\nloop_\n_balmkit_remark.ordinal\n_balmkit_remark.text\n1 "SCHEME imgt"\n2\n;FORMAT 1\n;\n3 BFACTOR\nloop_\n_atom_site.id\n`;
    expect(remarkLines(text)).toEqual(['SCHEME imgt', 'FORMAT 1', 'BFACTOR']);
    expect(parseRemarks('ATOM      1  N   GLN H   1      57.567  37.622  77.876  1.00  1.20           N\n')).toBeUndefined();
  });
});

describe('regions', () => {
  it('marks CDRs from the ranges, insertions included, and the rest framework', () => {
    const ann = annotate(residues, parseRemarks(text));
    expect(ann.regionSource.kind).toBe('remarks');
    expect(ann.hasPredictedError).toBe(true);
    const h3 = residues.filter((r) => ann.regions.get(residueKey(r.chain, r.number, r.insertion)) === 'H3').map((r) => `${r.number}${r.insertion}`);
    // 1A14's CDR-H3 in Chothia numbering: 95–100, 100A–100E, 101, 102 (13 residues, rosetta-fv.info: SGGSYRYDGGFDY).
    expect(h3).toEqual(['95', '96', '97', '98', '99', '100', '100A', '100B', '100C', '100D', '100E', '101', '102']);
    expect(ann.regions.get('H:10')).toBe('framework');
    expect(ann.regions.get('L:50')).toBe('L2');
    const means = regionMeans(residues, ann);
    const h3Values = residues.filter((r) => h3.includes(`${r.number}${r.insertion}`) && r.chain === 'H').map((r) => r.bFactor);
    expect(means.get('H3')!.mean).toBeCloseTo(h3Values.reduce((a, b) => a + b, 0) / h3Values.length, 10);
    expect(means.get('H3')!.count).toBe(13);
  });

  it('uses the declared scheme’s CDR definition when a file has no ranges, and says why not otherwise', () => {
    const imgt: ResidueRecord[] = [104, 105, 111, 111, 112, 117, 118].map((n, i) => ({ chain: 'H', number: n, insertion: i === 3 ? 'A' : '', name: 'GLY', letter: 'G', bFactor: 0 }));
    const ann = annotate(imgt, undefined, 'imgt');
    expect(imgt.map((r) => ann.regions.get(residueKey(r.chain, r.number, r.insertion)))).toEqual(['framework', 'H3', 'H3', 'H3', 'H3', 'H3', 'framework']);
    const none = annotate(imgt, undefined);
    expect(none.regionSource).toEqual({ kind: 'none', reason: expect.stringMatching(/numbering is unknown.*--scheme imgt\|chothia\|kabat/) });
    expect(none.regions.size).toBe(0);
    expect(none.hasPredictedError).toBe(false);
    // The fixture without its metadata, declared Chothia: the same CDRs as its REMARK ranges.
    const chothia = annotate(residues, undefined, 'chothia');
    const fromRemarks = annotate(residues, parseRemarks(text));
    expect(chothia.regionSource).toEqual({ kind: 'scheme', scheme: 'chothia' });
    expect(chothia.regions).toEqual(fromRemarks.regions);
    // Kabat H1 is 31–35 and its insertions 35A, 35B belong where 35 does.
    const ids = ['30', '31', '35', '35A', '35B', '36'];
    const kabat = annotate(
      ids.map((id) => ({ chain: 'H', number: Number.parseInt(id, 10), insertion: id.replace(/\d+/, ''), name: 'GLY', letter: 'G', bFactor: 0 })),
      undefined,
      'kabat',
    );
    expect(ids.map((id) => kabat.regions.get(`H:${id}`))).toEqual(['framework', 'H1', 'H1', 'H1', 'H1', 'framework']);
  });
});

describe('error legend', () => {
  it('puts each value in the bin whose range holds it', () => {
    expect(errorColor(0)).toBe(ERROR_BINS[0].color);
    expect(errorColor(0.49)).toBe(ERROR_BINS[0].color);
    expect(errorColor(0.5)).toBe(ERROR_BINS[1].color);
    expect(errorColor(1.99)).toBe(ERROR_BINS[2].color);
    expect(errorColor(3.2)).toBe(ERROR_BINS[3].color);
    expect(errorColor(40)).toBe(ERROR_BINS[4].color);
    expect(new Set(ERROR_BINS.map((b) => b.color)).size).toBe(ERROR_BINS.length);
  });
});
