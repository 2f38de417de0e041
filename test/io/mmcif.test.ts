/**
 * mmCIF writer and reader: round trip; Biopython's MMCIFParser reads our output with the right
 * chains, numbering, insertion codes, B-factors and coordinates; our reader reads what
 * Biopython's MMCIFIO writes from real structures the same as our PDB reader reads the originals;
 * the tokenizer on quoted values, text fields, models and altlocs.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { requireGates } from '../shared-data.js';
import { cifValue, parseCif, parseMmcif, readMmcif, readPdb, readTextMaybeCompressed, writeMmcif, type Structure } from '../../src/io/index.js';
import { DOCKING_PDBS, ROSETTA_FV, BIOPYTHON, biopythonPdbToCif, biopythonRead, expectSameAsBiopython, sampleFiles, sampleFv, sharedStructures } from '../fold/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'balmkit-cif-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const residueKeys = (s: Structure) => s.chains.map((c) => ({ id: c.id, residues: c.residues.map((r) => `${r.name}${r.number}${r.insertion}:${r.atoms.length}`) }));

describe('mmCIF writer', () => {
  test('round trip: write → read gives the same structure and metadata', async () => {
    const fv = sampleFv();
    const path = join(dir, 'fv.cif');
    await writeMmcif(path, fv, { name: 'fv test' });
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const text = readFileSync(path, 'utf8');
    expect(text.startsWith('data_fv_test\n')).toBe(true);
    const back = await readMmcif(path);
    expect(residueKeys(back)).toEqual(residueKeys(fv));
    const atoms = (s: Structure) => s.chains.flatMap((c) => c.residues.flatMap((r) => r.atoms));
    const a = atoms(fv);
    const b = atoms(back);
    a.forEach((x, i) => {
      expect([b[i].name, b[i].element]).toEqual([x.name, x.element]);
      for (const k of ['x', 'y', 'z'] as const) expect(Math.abs(b[i][k] - x[k])).toBeLessThanOrEqual(0.0005 + 1e-9);
      expect(Math.abs(b[i].bFactor - x.bFactor)).toBeLessThanOrEqual(0.005 + 1e-9);
    });
    expect(back.metadata).toEqual(fv.metadata);
  });

  test('values are quoted when CIF needs it', () => {
    expect(cifValue('CA')).toBe('CA');
    // A quote inside a bare value is legal CIF; only a leading one needs quoting.
    expect(cifValue("O5'")).toBe("O5'");
    const tricky = ["'x", '"y', "a'b c", 'd" e', 'loop_', '#hash', ';semi', 'multi\nline'];
    const parsed = parseCif(`data_x\nloop_\n_t.v\n${tricky.map(cifValue).join('\n')}\n`)
      .get('t')!
      .rows.map((r) => r[0]);
    expect(parsed).toEqual(tricky);
    expect(cifValue('MODEL my model')).toBe("'MODEL my model'");
    expect(cifValue('')).toBe('.');
    expect(cifValue('?')).toBe("'?'");
    expect(cifValue('_x')).toBe("'_x'");
    const tables = parseCif(`data_x\nloop_\n_t.a\n_t.b\n${cifValue("O5'")} ${cifValue('a b')}\n${cifValue('it\'s "q" both')} ?\n`);
    expect(tables.get('t')!.rows).toEqual([
      ["O5'", 'a b'],
      ['it\'s "q" both', null],
    ]);
  });
});

describe('mmCIF reader on crafted text', () => {
  const text = `data_test
# a comment
_entry.id TEST
_struct.title
;A title on
two lines
;
loop_
_atom_site.group_PDB
_atom_site.id
_atom_site.type_symbol
_atom_site.label_atom_id
_atom_site.label_alt_id
_atom_site.label_comp_id
_atom_site.label_asym_id
_atom_site.label_seq_id
_atom_site.pdbx_PDB_ins_code
_atom_site.Cartn_x
_atom_site.Cartn_y
_atom_site.Cartn_z
_atom_site.occupancy
_atom_site.B_iso_or_equiv
_atom_site.auth_seq_id
_atom_site.auth_asym_id
_atom_site.pdbx_PDB_model_num
ATOM 1 N N . SER A 1 ? 1.0 0 0 1.00 10.0 29 H 1
ATOM 2 C CA A SER A 1 ? 2.0 0 0 0.60 10.0 29 H 1
ATOM 3 C CA B SER A 1 ? 3.0 0 0 0.40 10.0 29 H 1
ATOM 4 C CA . TYR A 2 A 4.0 0 0 1.00 10.0 32 H 1
HETATM 5 O O . HOH B . ? 5.0 0 0 1.00 10.0 501 H 1
ATOM 6 N N . SER A 1 ? 9.0 0 0 1.00 10.0 29 H 2
#
loop_
_pdbx_unobs_or_zero_occ_residues.id
_pdbx_unobs_or_zero_occ_residues.PDB_model_num
_pdbx_unobs_or_zero_occ_residues.polymer_flag
_pdbx_unobs_or_zero_occ_residues.occupancy_flag
_pdbx_unobs_or_zero_occ_residues.auth_asym_id
_pdbx_unobs_or_zero_occ_residues.auth_comp_id
_pdbx_unobs_or_zero_occ_residues.auth_seq_id
_pdbx_unobs_or_zero_occ_residues.PDB_ins_code
1 1 Y 1 H GLY 30 A
`;

  test('auth ids, first model, first altloc, insertion codes, water skipped, text fields, unobserved residues', () => {
    const s = parseMmcif(text);
    expect(s.chains.map((c) => c.id)).toEqual(['H']);
    expect(s.chains[0].residues.map((r) => `${r.name}${r.number}${r.insertion}`)).toEqual(['SER29', 'TYR32A']);
    expect(s.chains[0].residues[0].atoms.map((a) => [a.name, a.x])).toEqual([
      ['N', 1],
      ['CA', 2],
    ]);
    expect(s.missing).toEqual([{ chain: 'H', name: 'GLY', number: 30, insertion: 'A' }]);
    expect(parseCif(text).get('struct')!.rows[0]).toEqual(['A title on\ntwo lines']);
  });

  test('errors name the problem', () => {
    expect(() => parseMmcif('data_x\n_entry.id X\n')).toThrow(/no _atom_site/);
    expect(() => parseCif("data_x\n_a.b 'open\n")).toThrow(/line 2: unterminated/);
    expect(() => parseCif('data_x\nloop_\n_a.b\n_a.c\n1 2 3\n')).toThrow(/3 values for 2 columns/);
  });
});

const structures = sharedStructures('the mmCIF reader tests on real structures');

describe("Biopython's MMCIFParser reads our mmCIF output", () => {
  requireGates(BIOPYTHON);
  test('right chains, residue count, numbering with insertion codes, B-factors, coordinates', async () => {
    const fv = sampleFv();
    const path = join(dir, 'bio.cif');
    await writeMmcif(path, fv);
    const view = biopythonRead(path, 'cif');
    expectSameAsBiopython(view, fv);
  });
});

describe('our mmCIF reader on mmCIF written by Biopython from experimental structures', () => {
  requireGates(BIOPYTHON, structures);

  test('a sample of files reads the same as our PDB reader reads the originals', async () => {
    const files = [...sampleFiles(ROSETTA_FV, /\.pdb\.bz2$/, 480), ...sampleFiles(DOCKING_PDBS, /_r_b\.pdb\.gz$/, 30)];
    const pairs: [string, string][] = [];
    for (const [k, path] of files.entries()) {
      const pdb = join(dir, `orig${k}.pdb`);
      writeFileSync(pdb, await readTextMaybeCompressed(path));
      pairs.push([pdb, join(dir, `bio${k}.cif`)]);
    }
    biopythonPdbToCif(pairs);
    for (const [k, path] of files.entries()) {
      const fromCif = await readMmcif(pairs[k][1]);
      const fromPdb = await readPdb(path);
      expect(residueKeys(fromCif), path).toEqual(residueKeys(fromPdb));
      const ca = (s: Structure) => s.chains.flatMap((c) => c.residues.flatMap((r) => r.atoms.filter((a) => a.name === 'CA').map((a) => [a.x, a.y, a.z])));
      expect(ca(fromCif)).toEqual(ca(fromPdb));
    }
  });
});
