/**
 * PDB writer and reader: round trip, Biopython reading our output (chains, residue count,
 * numbering with insertion codes, B-factors, coordinates), our reader against Biopython on real
 * experimental files (altlocs, insertion codes, HETATM), and a sample of the shared antibody sets
 * read without error. BALMKIT_ALL_STRUCTURES=1 reads every shared file.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { BadInputError } from '../../src/runtime/errors.js';
import { requireGates } from '../shared-data.js';
import { chainBreaks, chainSequence, formatPdb, parsePdb, readPdb, readTextMaybeCompressed, writePdb, type Structure } from '../../src/io/index.js';
import { DOCKING_PDBS, ROSETTA_FV, BIOPYTHON, biopythonRead, biopythonReadAll, expectSameAsBiopython, sampleFiles, sampleFv, sharedStructures, type BiopythonView } from '../fold/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'balmkit-pdb-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function flatAtoms(s: Structure) {
  return s.chains.flatMap((c) => c.residues.flatMap((r) => r.atoms.map((a) => ({ chain: c.id, res: `${r.number}${r.insertion}`, resName: r.name, ...a }))));
}

describe('PDB writer', () => {
  test('fixed columns, unique serials, TER after each chain, REMARKs within 80 columns', async () => {
    const fv = sampleFv();
    const path = join(dir, 'fv.pdb');
    await writePdb(path, fv);
    const text = readFileSync(path, 'utf8');
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const lines = text.trimEnd().split('\n');
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);
    const records = lines.filter((l) => /^(ATOM {2}|HETATM|TER {3})/.test(l));
    const serials = records.map((l) => Number(l.slice(6, 11)));
    expect(new Set(serials).size).toBe(serials.length);
    expect(serials).toEqual(serials.map((_, i) => i + 1));
    const ters = lines.filter((l) => l.startsWith('TER'));
    expect(ters.map((l) => l[21])).toEqual(['H', 'L']);
    // TER follows the last atom of its chain, and names that chain's last residue.
    const terH = lines.indexOf(ters[0]);
    expect(lines[terH - 1].slice(17, 27).trimEnd()).toBe(ters[0].slice(17, 27));
    expect(ters[0].slice(22, 26)).toBe(' 119');
    const atom = lines.find((l) => l.startsWith('ATOM') && l.slice(12, 16) === ' CA ')!;
    expect(atom.slice(76, 78)).toBe(' C');
    expect(lines.filter((l) => l.startsWith('ATOM') && l[26] === 'A' && l[21] === 'H').length).toBeGreaterThan(0);
    expect(lines.at(-1)).toBe('END');
    expect(lines[0]).toBe('REMARK 999 BALMKIT FORMAT 1');
  });

  test('round trip: write → read gives the same structure and metadata', async () => {
    const fv = sampleFv();
    const path = join(dir, 'roundtrip.pdb');
    await writePdb(path, fv);
    const back = await readPdb(path);
    expect(back.chains.map((c) => c.id)).toEqual(['H', 'L']);
    expect(back.chains[0].residues.map((r) => ({ number: r.number, insertion: r.insertion }))).toEqual(fv.heavyIds);
    expect(back.chains[1].residues.map((r) => ({ number: r.number, insertion: r.insertion }))).toEqual(fv.lightIds);
    const a = flatAtoms(fv);
    const b = flatAtoms(back);
    expect(b.length).toBe(a.length);
    a.forEach((x, i) => {
      const y = b[i];
      expect([y.chain, y.res, y.resName, y.name, y.element]).toEqual([x.chain, x.res, x.resName, x.name, x.element]);
      for (const k of ['x', 'y', 'z'] as const) expect(Math.abs(y[k] - x[k])).toBeLessThanOrEqual(0.0005 + 1e-9);
      expect(Math.abs(y.bFactor - x.bFactor)).toBeLessThanOrEqual(0.005 + 1e-9);
    });
    expect(back.metadata).toEqual(fv.metadata);
    expect(chainSequence(back.chains[0])).toBe(fv.metadata!.sequences[0].sequence);
  });

  test('an interrupted write leaves the old file and no temporary file', async () => {
    const path = join(dir, 'keep.pdb');
    await writePdb(path, sampleFv());
    const old = readFileSync(path, 'utf8');
    const bad = sampleFv();
    bad.chains[1].residues[3].atoms[0].x = 1e9; // does not fit the coordinate columns
    await expect(writePdb(path, bad)).rejects.toThrow(/x 1000000000 does not fit 8 columns/);
    expect(readFileSync(path, 'utf8')).toBe(old);
    // A rename onto a folder fails after the temporary file was written: it must be cleaned up.
    mkdirSync(join(dir, 'a-folder.pdb'));
    await expect(writePdb(join(dir, 'a-folder.pdb'), sampleFv())).rejects.toThrow();
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('long sequences split over REMARK lines and come back whole', () => {
    const seq = 'EVQLVESGGGLVQPGGSLRLSCAASGFTFSSYAMSWVRQAPGKGLEWVSAISGSGGSTYYADSVKGRFTISRDNSKNTLYLQMNSLRAEDTAVYYCAK';
    const text = formatPdb({ chains: [], metadata: { version: '1.2.3', model: 'm 1', scheme: 'chothia', sequences: [{ chain: 'H', sequence: seq }], cdrs: [] } });
    expect(text.split('\n').filter((l) => l.includes('SEQUENCE H')).length).toBe(Math.ceil(seq.length / 40));
    expect(parsePdb(text).metadata).toEqual({ version: '1.2.3', model: 'm 1', scheme: 'chothia', sequences: [{ chain: 'H', sequence: seq }], cdrs: [] });
  });

  test('TRIMMED and RELAX records round-trip, and a reader without them still reads the file', () => {
    const metadata = {
      version: '1.2.3',
      model: 'm',
      scheme: 'imgt',
      sequences: [{ chain: 'H', sequence: 'EVQL' }],
      cdrs: [],
      trimmed: [{ chain: 'H', first: 20, last: 139, before: 19, after: 104 }],
      relax: { converged: false, maxMove: 4.1 },
    };
    const text = formatPdb({ chains: [], metadata });
    expect(text).toContain('REMARK 999 BALMKIT TRIMMED H 20 139 19 104\n');
    expect(text).toContain('REMARK 999 BALMKIT RELAX false 4.10\n');
    expect(parsePdb(text).metadata).toEqual(metadata);
    const older = text.replace(/^REMARK 999 BALMKIT (TRIMMED|RELAX) .*\n/gm, '');
    expect(parsePdb(older).metadata).toEqual({ ...metadata, trimmed: undefined, relax: undefined });
  });

  test('bad input is refused with a message naming it', () => {
    const fv = sampleFv();
    fv.chains[0].residues[0].insertion = 'AB';
    expect(() => formatPdb(fv)).toThrow(/chain H residue 100: insertion code 'AB'/);
    expect(() => formatPdb({ chains: [{ id: 'HH', residues: [] }] })).toThrow(/chain id 'HH'/);
    // A bad record's error, which a batch reports and goes past; never a RangeError (a bug's class).
    expect(() => formatPdb({ chains: [{ id: 'HH', residues: [] }] })).toThrow(BadInputError);
    expect(() => formatPdb({ chains: [{ id: 'HH', residues: [] }] })).not.toThrow(RangeError);
  });
});

describe('PDB reader on crafted records', () => {
  const line = (rec: string, serial: number, name: string, alt: string, res: string, chain: string, num: number, ins: string, x: number, occ = 1, el = '') =>
    `${rec.padEnd(6)}${String(serial).padStart(5)} ${name.length < 4 ? ` ${name}`.padEnd(4) : name}${alt}${res.padStart(3)} ${chain}${String(num).padStart(4)}${ins}   ${x.toFixed(3).padStart(8)}${'1.000'.padStart(8)}${'2.000'.padStart(8)}${occ.toFixed(2).padStart(6)}${'10.00'.padStart(6)}          ${el.padStart(2)}`;
  const text = [
    'REMARK 465   M RES C SSSEQI',
    'REMARK 465     GLY H    30A',
    'REMARK 465     SER H    31',
    'MODEL        1',
    line('ATOM', 1, 'N', ' ', 'SER', 'H', 29, ' ', 1),
    line('ATOM', 2, 'CA', 'A', 'SER', 'H', 29, ' ', 2, 0.6),
    line('ATOM', 3, 'CA', 'B', 'SER', 'H', 29, ' ', 3, 0.4),
    line('ATOM', 4, 'OG', 'B', 'SER', 'H', 29, ' ', 4, 0.4),
    line('ATOM', 5, 'OG', 'A', 'SER', 'H', 29, ' ', 5, 0.6),
    line('ATOM', 6, 'CA', ' ', 'TYR', 'H', 32, 'A', 6),
    line('HETATM', 7, 'O', ' ', 'HOH', 'H', 501, ' ', 7),
    line('HETATM', 8, 'C1', ' ', 'NAG', 'H', 601, ' ', 8, 1, 'C'),
    line('HETATM', 9, 'ZN  ', ' ', 'ZN', 'L', 602, ' ', 9, 1, ''),
    'ENDMDL',
    'MODEL        2',
    line('ATOM', 1, 'N', ' ', 'SER', 'H', 29, ' ', 99),
    'ENDMDL',
  ].join('\n');

  test('first model, first altloc, insertion codes, water skipped, HETATM kept, REMARK 465', () => {
    const s = parsePdb(text);
    expect(s.chains.map((c) => c.id)).toEqual(['H', 'L']);
    const h = s.chains[0];
    expect(h.residues.map((r) => `${r.name}${r.number}${r.insertion}${r.hetero ? '*' : ''}`)).toEqual(['SER29', 'TYR32A', 'NAG601*']);
    expect(h.residues[0].atoms.map((a) => [a.name, a.x])).toEqual([
      ['N', 1],
      ['CA', 2],
      ['OG', 5],
    ]);
    expect(s.chains[1].residues[0].atoms[0].element).toBe('ZN');
    expect(h.residues[0].atoms[1].element).toBe('C');
    expect(s.missing).toEqual([
      { name: 'GLY', chain: 'H', number: 30, insertion: 'A' },
      { name: 'SER', chain: 'H', number: 31, insertion: '' },
    ]);
  });

  test('a malformed coordinate record is reported with its line', () => {
    expect(() => parsePdb('ATOM      1  CA  GLY H   1      xx.000   1.000   2.000  1.00  0.00')).toThrow(/line 1: malformed ATOM/);
  });
});

const structures = sharedStructures('the PDB reader tests on real structures');

describe('Biopython reads our PDB output', () => {
  requireGates(BIOPYTHON);
  test('right chains, residue count, numbering with insertion codes, B-factors, coordinates', async () => {
    const fv = sampleFv();
    const path = join(dir, 'bio.pdb');
    await writePdb(path, fv);
    const view = biopythonRead(path, 'pdb');
    expectSameAsBiopython(view, fv);
  });
});

describe('our PDB reader against Biopython on experimental structures', () => {
  requireGates(BIOPYTHON, structures);

  test('a sample of files: same chains, residues (name, number, insertion) and atom counts', async () => {
    // A sample with alternate locations, insertion codes and HETATM records among them.
    const files = [...sampleFiles(ROSETTA_FV, /\.pdb\.bz2$/, 240), ...sampleFiles(DOCKING_PDBS, /_r_[bu]\.pdb\.gz$/, 40)];
    const originals: string[] = [];
    const rewritten: string[] = [];
    const ours: Structure[] = [];
    for (const [k, path] of files.entries()) {
      const s = await readPdb(path);
      ours.push(s);
      // Biopython parses the original text (decompressed by us only to hand it over) and our rewrite.
      originals.push(join(dir, `orig${k}.pdb`));
      writeFileSync(originals[k], await readTextMaybeCompressed(path));
      rewritten.push(join(dir, `rewritten${k}.pdb`));
      writeFileSync(rewritten[k], formatPdb({ chains: s.chains }));
    }
    const bio = biopythonReadAll([...originals, ...rewritten], 'pdb');
    files.forEach((path, k) => {
      const residues = (v: BiopythonView) => v.chains.map((c) => ({ id: c.id, residues: c.residues.filter((r) => r.het !== 'W') })).filter((c) => c.residues.length > 0);
      const orig = residues(bio[k]);
      const again = residues(bio[files.length + k]);
      const mine = ours[k].chains;
      expect(
        mine.map((c) => c.id),
        path,
      ).toEqual(orig.map((c) => c.id));
      mine.forEach((c, ci) => {
        const want = orig[ci].residues.map((r) => `${r.name}${r.number}${r.insertion}:${r.atoms}`);
        expect(
          c.residues.map((r) => `${r.name}${r.number}${r.insertion}:${r.atoms.length}`),
          `${path} chain ${c.id}`,
        ).toEqual(want);
        expect(
          again[ci].residues.map((r) => `${r.name}${r.number}${r.insertion}:${r.atoms}`),
          `rewrite of ${path} chain ${c.id}`,
        ).toEqual(want);
      });
    });
  });
});

describe('reading the shared antibody structures', () => {
  requireGates(structures);
  const all = process.env.BALMKIT_ALL_STRUCTURES === '1';

  test('rosetta-fv: every 12th file (BALMKIT_ALL_STRUCTURES=1: all), chains H/L with Fv-sized sequences', async () => {
    const rosetta = sampleFiles(ROSETTA_FV, /\.pdb\.bz2$/, all ? 1 : 12);
    let altlocFiles = 0;
    let insertions = 0;
    let fvSized = 0;
    let chains = 0;
    for (const path of rosetta) {
      const text = await readTextMaybeCompressed(path);
      const s = parsePdb(text, path);
      const ids = s.chains.map((c) => c.id);
      expect(ids.length, path).toBeGreaterThan(0);
      for (const id of ids) expect(['H', 'L'], path).toContain(id);
      for (const c of s.chains) {
        chains++;
        const seq = chainSequence(c);
        expect(seq.length, `${path} ${c.id}`).toBeGreaterThan(20);
        if (seq.length > 80 && seq.length < 150) fvSized++;
        insertions += c.residues.filter((r) => r.insertion !== '').length;
        // Each residue's atom names are unique (one altloc kept).
        for (const r of c.residues) expect(new Set(r.atoms.map((a) => a.name)).size).toBe(r.atoms.length);
        // A few entries are Cα-only (e.g. 1IGA): no peptide bonds to check there.
        if (c.residues.some((r) => r.atoms.length > 1)) expect(chainBreaks(c).length, `${path} ${c.id}`).toBeLessThan(6);
      }
      if (/^ATOM {2}.{10}[A-Z]/m.test(text)) altlocFiles++;
    }
    // The sample must exercise what the reader handles (Chothia insertions; alternate locations).
    expect(insertions).toBeGreaterThan(rosetta.length);
    expect(altlocFiles).toBeGreaterThan(0);
    // Nearly every chain is a whole variable domain (a few entries are fragments).
    expect(fvSized / chains).toBeGreaterThan(0.95);
  });

  test('docking benchmark 5.5: every 2nd gzipped file (BALMKIT_ALL_STRUCTURES=1: all)', async () => {
    const docking = sampleFiles(DOCKING_PDBS, /\.pdb\.gz$/, all ? 1 : 2);
    for (const path of docking) {
      const s = await readPdb(path);
      expect(s.chains.length, path).toBeGreaterThan(0);
      expect(
        s.chains.every((c) => c.residues.every((r) => r.atoms.length > 0)),
        path,
      ).toBe(true);
    }
  });
});
