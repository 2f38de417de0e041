/**
 * End to end in a real browser: `balmkit view` (the CLI, as a user runs it) serves the built
 * viewer page and a balmkit prediction; Debian's Chromium, driven by playwright-core, loads it
 * and the page's state (`window.balmkitViewer`), its legend and its pixels are checked against
 * the file as balmkit's own PDB reader reads it.
 *
 * The prediction is `test/fixtures/viewer/fv-1a14-prediction.pdb` (make-fixtures.ts): a real
 * prediction of the shipped template baseline (`models/fold-baseline`, by `fold()` as
 * `balmkit predict-structure --scheme chothia` makes it) of the Fv of PDB 1A14, Chothia-numbered,
 * with balmkit's metadata REMARKs and the model's predicted error in the B-factors. The
 * experimental structure it is superposed on is 1A14's crystal structure moved by a fixed rigid
 * motion (`fv-1a14-moved.pdb.gz`). Everything the test expects (atom counts, error extremes, CDR
 * residues, the superposition) is read or computed from those files, not hard-coded, so a
 * regenerated prediction needs no edit here.
 *
 * Needs Chromium (`apt-get install -y chromium`; `.ci/run` installs it) and the built viewer
 * (`npm run build`). Under CI=true a missing Chromium fails the test; elsewhere it is skipped
 * with a message.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatMmcif } from '../../src/io/mmcif.js';
import { readPdb, writePdb } from '../../src/io/pdb.js';
import { fold } from '../../src/fold/predict.js';
import { type Structure, type StructureChain, atomCount } from '../../src/io/structure.js';
import { describePairing, pairResidues } from '../../src/fold/residue-pairs.js';
import { kabsch } from '../../src/fold/superpose.js';
import { findChromium, launchChromium } from '../../src/view/chromium.js';
import { countColor, decodePng, findPatch, fractionDiffering } from './png.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PRED = path.join(root, 'test/fixtures/viewer/fv-1a14-prediction.pdb');
const MOVED = path.join(root, 'test/fixtures/viewer/fv-1a14-moved.pdb.gz');
const chromium = findChromium();
const inCi = process.env.CI === 'true';

if (!chromium && !inCi) {
  process.stderr.write('test/viewer/e2e.test.ts: skipped: no Chromium (install it: apt-get install -y chromium, or set BALMKIT_CHROMIUM)\n');
}

/** A legend entry as the page shows it (read from the DOM, not from the page's code). */
interface ShownLegend {
  label: string;
  color: string;
  min: number | null;
  max: number | null;
}

async function legend(page: Page): Promise<ShownLegend[]> {
  return page.$$eval('#legend li', (items) =>
    items.map((li) => ({
      label: li.getAttribute('data-label') ?? '',
      color: li.getAttribute('data-color') ?? '',
      min: li.hasAttribute('data-min') ? Number(li.getAttribute('data-min')) : null,
      max: li.getAttribute('data-max') ? Number(li.getAttribute('data-max')) : null,
    })),
  );
}

type PageState = { ready: boolean; error: string | null; [k: string]: unknown };
type PageGlobal = { balmkitViewer: PageState & { colorAt(c: string, r: string | number): string | null; setColorMode(m: string): Promise<void>; show(i: number, r?: number | null): Promise<void> } };

async function ready(page: Page): Promise<Record<string, unknown>> {
  await page.waitForFunction(
    () => {
      const v = (globalThis as unknown as Partial<PageGlobal>).balmkitViewer;
      return v !== undefined && (v.ready || v.error !== null);
    },
    undefined,
    { timeout: 45_000, polling: 100 },
  );
  const s = await page.evaluate(() => {
    const v = (globalThis as unknown as PageGlobal).balmkitViewer;
    return JSON.parse(JSON.stringify(v)) as Record<string, unknown>;
  });
  expect(s.error).toBeNull();
  return s;
}

/** `100C`: a residue's id as the test hook takes it. */
const idOf = (r: { number: number; insertion: string }): string => `${r.number}${r.insertion}`;

/**
 * The residues of CDR `name` of a balmkit file: from the REMARK range's first residue to its last,
 * in file order (how balmkit's CDR ranges are defined for every scheme).
 */
function cdrResidues(s: Structure, name: string): { chain: StructureChain; residues: StructureChain['residues'] } {
  const cdr = s.metadata?.cdrs.find((c) => c.name === name);
  if (!cdr) throw new Error(`the prediction has no ${name} REMARK`);
  const chain = s.chains.find((c) => c.id === cdr.chain)!;
  const at = (p: { number: number; insertion: string }) => chain.residues.findIndex((r) => r.number === p.number && r.insertion === p.insertion);
  const [i, j] = [at(cdr.start), at(cdr.end)];
  if (i < 0 || j < i) throw new Error(`${name} range ${idOf(cdr.start)}–${idOf(cdr.end)} is not in chain ${cdr.chain} in file order`);
  return { chain, residues: chain.residues.slice(i, j + 1) };
}

/** First CA of each residue by `chain:number+insertion` (how the viewer pairs residues to superpose). */
function caByResidue(s: Structure): Map<string, [number, number, number]> {
  const out = new Map<string, [number, number, number]>();
  for (const c of s.chains) {
    for (const r of c.residues) {
      const a = r.atoms.find((x) => x.name === 'CA');
      const key = `${c.id}:${idOf(r)}`;
      if (a && !out.has(key)) out.set(key, [a.x, a.y, a.z]);
    }
  }
  return out;
}

const colorAt = (page: Page, chain: string, residue: string): Promise<string | null> => page.evaluate(([c, r]) => (globalThis as unknown as PageGlobal).balmkitViewer.colorAt(c, r), [chain, residue]);

describe.skipIf(!chromium && !inCi)('viewer in Chromium', () => {
  let cli: ChildProcess;
  let url: string;
  let browser: Browser;
  let page: Page;
  let structure: Structure;
  let experimental: Structure;
  let imgtPrediction: Structure;
  const pageErrors: string[] = [];
  let cliErr = '';

  beforeAll(async () => {
    if (!chromium) throw new Error("CI=true and no Chromium: .ci/run installs Debian's chromium; set BALMKIT_CHROMIUM if it is elsewhere");
    const built = path.join(root, 'dist/viewer/index.html');
    if (!existsSync(built)) throw new Error('the viewer is not built: run `npm run build`');
    const sources = [path.join(root, 'viewer/index.html'), ...readdirSync(path.join(root, 'viewer/src')).map((f) => path.join(root, 'viewer/src', f))];
    const stale = sources.filter((f) => statSync(f).mtimeMs > statSync(built).mtimeMs);
    if (stale.length > 0) throw new Error(`the built viewer is older than ${stale.map((f) => path.relative(root, f)).join(', ')}: run \`npm run build\``);
    structure = await readPdb(PRED);
    expect(structure.metadata?.scheme).toBe('chothia');
    experimental = await readPdb(MOVED);
    // The same prediction as mmCIF, written by balmkit's mmCIF writer.
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'balmkit-e2e-'));
    const cif = path.join(tmp, 'fv-1a14-prediction.cif');
    writeFileSync(cif, formatMmcif(structure, { name: 'fv-1a14' }));
    // The same sequences predicted again, IMGT-numbered (IMGT's numbering has gaps: 10, 73, …).
    const seq = (c: string) => structure.metadata!.sequences.find((x) => x.chain === c)!.sequence;
    const [imgtOutcome] = await fold({ name: 'fv-1a14-imgt', heavy: seq('H'), light: seq('L') }, { model: 'fold-baseline', scheme: 'imgt' });
    if (!imgtOutcome.ok) throw new Error(imgtOutcome.failure.message);
    imgtPrediction = imgtOutcome.antibody.structure;
    const imgtFile = path.join(tmp, 'fv-1a14-imgt.pdb');
    await writePdb(imgtFile, imgtPrediction);
    // The control: the same atoms without balmkit's metadata, an "experimental" PDB served as it
    // is, where Mol* takes the IMGT numbers as sequence positions and finds gaps (it numbers
    // residues serially when a file has insertion codes, so the chains without any are kept).
    const plainChains = imgtPrediction.chains.filter((c) => c.residues.every((r) => r.insertion === ''));
    expect(plainChains.length).toBeGreaterThan(0);
    const imgtRaw = path.join(tmp, 'fv-1a14-imgt-plain.pdb');
    await writePdb(imgtRaw, { chains: plainChains });
    // The CLI exactly as a user runs it, from the sources.
    cli = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'view', PRED, MOVED, cif, imgtFile, imgtRaw], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    cli.stderr!.on('data', (d: Buffer) => (cliErr += d.toString()));
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      cli.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /^(http:\/\/127\.0\.0\.1:\d+\/\S*)$/m.exec(out);
        if (m) resolve(m[1]);
      });
      cli.on('exit', (code) => reject(new Error(`balmkit view exited (${code}) before printing a URL: ${cliErr}`)));
    });
    browser = await launchChromium(chromium);
    page = await browser.newPage({ viewport: { width: 840, height: 520 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`);
    });
    // Flat lighting: pixels carry exactly their theme colour, so they can be compared with the legend.
    const target = new URL(url);
    target.searchParams.set('light', 'flat');
    await page.goto(target.href);
  });

  afterAll(async () => {
    await browser?.close();
    if (cli && cli.exitCode === null) cli.kill('SIGKILL');
  });

  it('prints a 127.0.0.1 URL on a free port and lists the files', () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(cliErr).toMatch(/\/files\/0 {2}fv-1a14-prediction\.pdb {2}\(prediction, pdb, served as mmCIF\)/);
    expect(cliErr).toMatch(/\/files\/1 {2}fv-1a14-moved\.pdb\.gz {2}\(experimental, pdb\)/);
  });

  it('shows the file: atom count and chains equal the file’s', async () => {
    const s = await ready(page);
    expect(s.atomCount).toBe(atomCount(structure));
    // balmkit's reader against the file's own ATOM records (a full-atom Fv: over 1500 atoms).
    expect(atomCount(structure)).toBe(
      readFileSync(PRED, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('ATOM  ')).length,
    );
    expect(s.atomCount).toBeGreaterThan(1500);
    expect(s.chains).toEqual(structure.chains.map((c) => c.id));
    expect(s.file).toBe(0);
    expect(s.colorMode).toBe('error'); // predictions open coloured by predicted error
    expect(s.availableModes).toEqual(['chain', 'region', 'error']);
    expect(pageErrors).toEqual([]);
  });

  it('colours by predicted error with the legend’s colour for each value, and draws those colours', async () => {
    const shown = await legend(page);
    expect(shown.map((e) => e.label)).toEqual(['< 0.5 Å', '0.5–1 Å', '1–2 Å', '2–4 Å', '≥ 4 Å']);
    const binOf = (v: number): ShownLegend => shown.find((e) => v >= (e.min ?? -Infinity) && v < (e.max ?? Infinity))!;
    const ca = structure.chains.flatMap((c) => c.residues.map((r) => ({ chain: c.id, id: `${r.number}${r.insertion}`, b: r.atoms.find((a) => a.name === 'CA')!.bFactor })));
    const high = ca.reduce((a, b) => (b.b > a.b ? b : a));
    const low = ca.reduce((a, b) => (b.b < a.b ? b : a));
    // The file's own extremes; a real prediction's highest and lowest errors fall in different bins.
    expect(binOf(high.b)).not.toBe(binOf(low.b));
    expect(binOf(high.b).color).not.toBe(binOf(low.b).color);
    expect(await colorAt(page, high.chain, high.id)).toBe(binOf(high.b).color);
    expect(await colorAt(page, low.chain, low.id)).toBe(binOf(low.b).color);
    // Every residue, not just two: the theme's colour is the legend's bin of the file's value.
    for (const r of ca.filter((_, i) => i % 7 === 0)) expect({ r, c: await colorAt(page, r.chain, r.id) }).toEqual({ r, c: binOf(r.b).color });
    expect(await colorAt(page, 'H', '999')).toBeNull();

    const img = decodePng(await page.locator('#viewport canvas').first().screenshot());
    const bg = (await page.evaluate(() => (globalThis as unknown as PageGlobal).balmkitViewer.background)) as string;
    expect(fractionDiffering(img, bg)).toBeGreaterThan(0.1);
    expect(countColor(img, binOf(high.b).color)).toBeGreaterThan(30);
    expect(countColor(img, binOf(low.b).color)).toBeGreaterThan(30);
  });

  it('colours by region: a CDR-H3 residue and a framework residue get the legend’s colours, and they are drawn', async () => {
    await page.locator('input[name="color"][value="region"]').check(); // through the page's own control
    const s = await ready(page);
    expect(s.colorMode).toBe('region');
    const shown = await legend(page);
    const h3 = shown.find((e) => e.label === 'CDR-H3')!.color;
    const fw = shown.find((e) => e.label === 'framework')!.color;
    expect(h3).not.toBe(fw);
    // H3 and L3 as the file's REMARK ranges give them; the residue after H3 and the tenth of the chain are framework.
    const H3 = cdrResidues(structure, 'H3');
    const h3Ids = H3.residues.map(idOf);
    expect(H3.chain.id).toBe('H');
    expect(h3Ids.length).toBeGreaterThanOrEqual(3);
    expect(await colorAt(page, 'H', h3Ids[0])).toBe(h3);
    const inserted = H3.residues.find((r) => r.insertion !== '');
    expect(await colorAt(page, 'H', inserted ? idOf(inserted) : h3Ids[1])).toBe(h3); // an insertion where H3 has one
    expect(await colorAt(page, 'H', h3Ids[h3Ids.length - 1])).toBe(h3);
    const after = H3.chain.residues[H3.chain.residues.indexOf(H3.residues[H3.residues.length - 1]) + 1];
    expect(await colorAt(page, 'H', idOf(after))).toBe(fw);
    expect(await colorAt(page, 'H', idOf(H3.chain.residues[9]))).toBe(fw);
    const L3 = cdrResidues(structure, 'L3');
    expect(await colorAt(page, L3.chain.id, idOf(L3.residues[Math.floor(L3.residues.length / 2)]))).toBe(shown.find((e) => e.label === 'CDR-L3')!.color);
    const canvas = page.locator('#viewport canvas').first();
    const img = decodePng(await canvas.screenshot());
    expect(countColor(img, h3)).toBeGreaterThan(30);
    expect(countColor(img, fw)).toBeGreaterThan(1000);
    // Pointing at a CDR-H3-coloured patch of the picture names an H3 residue (Mol*'s picking).
    const patch = findPatch(img, h3);
    expect(patch).not.toBeNull();
    const box = (await canvas.boundingBox())!;
    let jiggle = 0; // Mol* picks on its draw loop: keep the pointer moving (by a pixel) until it has
    await expect
      .poll(
        async () => {
          await page.mouse.move(box.x + patch!.x + (jiggle ^= 1), box.y + patch!.y, { steps: 2 });
          return page.locator('#hover').textContent();
        },
        { timeout: 15_000, interval: 300 },
      )
      .toMatch(new RegExp(`^[A-Z]{3} H(${h3Ids.join('|')}) \\(CDR-H3\\), predicted error \\d+\\.\\d\\d Å$`));
    await page.mouse.move(0, 0);
    // The CDR table's mean predicted error of H3 is the mean of the file's H3 values.
    const h3Values = H3.residues.map((r) => r.atoms[0].bFactor);
    const cell = await page.locator('#cdrs tr[data-region="H3"] td.num').textContent();
    expect(cell).toBe(`${(h3Values.reduce((a, b) => a + b, 0) / h3Values.length).toFixed(2)} Å`);
  });

  it('draws ball-and-stick over the cartoon when the box is ticked', async () => {
    const before = decodePng(await page.locator('#viewport canvas').first().screenshot());
    await page.locator('#ball-and-stick').check();
    const s = await ready(page);
    expect(s.ballAndStick).toBe(true);
    const after = decodePng(await page.locator('#viewport canvas').first().screenshot());
    const bg = s.background as string;
    // Side chains stick out of the cartoon: more of the picture is molecule.
    expect(fractionDiffering(after, bg)).toBeGreaterThan(fractionDiffering(before, bg) + 0.01);
    await page.locator('#ball-and-stick').uncheck();
    expect((await ready(page)).ballAndStick).toBe(false);
  });

  it('superposes the prediction on the experimental structure and switches between files', async () => {
    await page.evaluate(() => (globalThis as unknown as PageGlobal).balmkitViewer.show(0, 1));
    let s = await ready(page);
    const sup = s.superposition as { reference: number; rmsd: number; pairs: number; method: string; description: string };
    // A Kabsch fit in Node (src/fold/superpose.ts, not Mol*'s) over the pairs balmkit's pairing
    // makes from numbering both files in IMGT.
    const mine = caByResidue(structure);
    const theirs = caByResidue(experimental);
    const pairing = pairResidues(structure, experimental);
    const keys = pairing.pairs.map((p) => [`${p.moving.chain}:${p.moving.number}${p.moving.insertion}`, `${p.fixed.chain}:${p.fixed.number}${p.fixed.insertion}`] as const);
    const fit = kabsch(
      keys.flatMap(([m]) => mine.get(m)!),
      keys.flatMap(([, f]) => theirs.get(f)!),
    );
    expect(sup.reference).toBe(1);
    expect(sup.method).toBe('numbering');
    expect(sup.pairs).toBe(keys.length);
    expect(sup.description).toBe(describePairing(pairing));
    expect(keys.length).toBeGreaterThan(0.9 * Math.min(mine.size, theirs.size)); // nearly every residue pairs
    expect(await page.locator('#info').textContent()).toContain(`residues paired${sup.description}`);
    expect(Math.abs(sup.rmsd - fit.rmsd)).toBeLessThan(0.01);
    // A prediction, not a moved copy: it differs from the crystal by more than rounding, by less than a misfit.
    expect(fit.rmsd).toBeGreaterThan(0.1);
    expect(fit.rmsd).toBeLessThan(5);
    expect(s.colorMode).toBe('region'); // the colouring in use is kept

    // The same prediction numbered IMGT, on the same Chothia-numbered crystal: the same residues
    // pair (both files are numbered in IMGT by balmkit) and the RMSD is the same.
    await page.evaluate(() => (globalThis as unknown as PageGlobal).balmkitViewer.show(3, 1));
    const imgtSup = (await ready(page)).superposition as typeof sup;
    expect(imgtSup.pairs).toBe(sup.pairs);
    expect(Math.abs(imgtSup.rmsd - sup.rmsd)).toBeLessThanOrEqual(0.01);
    expect(imgtSup.description).toBe(sup.description);

    await page.evaluate(() => (globalThis as unknown as PageGlobal).balmkitViewer.show(1, null));
    s = await ready(page);
    expect(s.file).toBe(1);
    expect(s.atomCount).toBe(atomCount(experimental));
    expect(s.availableModes).toEqual(['chain']); // experimental: no predicted error; no metadata: no CDRs
    expect(s.colorMode).toBe('chain');
    expect(await page.locator('[data-note="error"]').textContent()).toMatch(/only for balmkit predictions/);
    const shown = await legend(page);
    expect(await colorAt(page, 'L', '50')).toBe(shown.find((e) => e.label === 'chain L')!.color);
    await expect(page.evaluate(() => (globalThis as unknown as PageGlobal).balmkitViewer.setColorMode('error'))).rejects.toThrow(/not available/);
    expect((await ready(page)).colorMode).toBe('chain'); // refused without disturbing the page

    // The mmCIF form of the prediction: the same atoms, chains, metadata and colours.
    await page.evaluate(() => (globalThis as unknown as PageGlobal).balmkitViewer.show(2, null));
    s = await ready(page);
    expect([s.file, s.atomCount, s.chains, s.availableModes]).toEqual([2, atomCount(structure), ['H', 'L'], ['chain', 'region', 'error']]);
    expect(s.colorMode).toBe('chain'); // the colouring in use is kept when the next file allows it
    await page.evaluate(() => (globalThis as unknown as PageGlobal).balmkitViewer.setColorMode('region'));
    await ready(page);
    const h3 = cdrResidues(structure, 'H3').residues;
    expect(await colorAt(page, 'H', idOf(h3[Math.floor(h3.length / 2)]))).toBe((await legend(page)).find((e) => e.label === 'CDR-H3')!.color);

    // An IMGT-numbered prediction (its numbers skip, e.g. 10, 73), served as mmCIF so Mol* draws no
    // "missing residue" dashes at those gaps: shown with its own numbers.
    const numbers = imgtPrediction.chains.flatMap((c) => c.residues.filter((r) => r.insertion === '').map((r) => r.number));
    expect(numbers.some((n, k) => k > 0 && n > numbers[k - 1] + 1)).toBe(true);
    await page.evaluate(() => (globalThis as unknown as PageGlobal).balmkitViewer.show(3, null));
    s = await ready(page);
    expect([s.file, s.atomCount]).toEqual([3, atomCount(imgtPrediction)]);
    expect(await colorAt(page, 'H', '11')).not.toBeNull(); // IMGT numbers, as in the file
    expect(s.polymerGaps).toBe(0); // no missing-residue segments: the chains are complete
    // The control: read as plain PDB, the same chains have gaps at the numbering's jumps.
    await page.evaluate(() => (globalThis as unknown as PageGlobal).balmkitViewer.show(4, null));
    s = await ready(page);
    expect([s.file, s.atomCount]).toEqual([4, atomCount({ chains: imgtPrediction.chains.filter((c) => c.residues.every((r) => r.insertion === '')) })]);
    expect(s.polymerGaps).toBeGreaterThan(0);
  });

  it('colours an experimental structure by region when its numbering is declared (scheme=chothia)', async () => {
    const target = new URL(url);
    target.search = new URLSearchParams({ file: '1', scheme: 'chothia', light: 'flat' }).toString();
    await page.goto(target.href);
    const s = await ready(page);
    expect([s.file, s.availableModes, s.colorMode]).toEqual([1, ['chain', 'region'], 'region']);
    const shown = await legend(page);
    expect(await colorAt(page, 'H', '100C')).toBe(shown.find((e) => e.label === 'CDR-H3')!.color);
    expect(await colorAt(page, 'L', '60')).toBe(shown.find((e) => e.label === 'framework')!.color);
  });

  it('renders a PNG headlessly with --screenshot', async () => {
    const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'balmkit-shot-')), 'fv.png');
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'view', PRED, '--screenshot', out, '--color', 'region', '--no-panel', '--width', '480', '--height', '320'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 50_000,
    });
    expect(run.stderr).toContain(`${atomCount(structure)} atoms, chains H, L, coloured by region`);
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe(out);
    const img = decodePng(readFileSync(out));
    expect([img.width, img.height]).toEqual([480, 320]);
    // The Fv fitted in its bounding sphere, as a ribbon: about a tenth of the picture.
    expect(fractionDiffering(img, '#ffffff')).toBeGreaterThan(0.05);
  });

  it('logged no errors on the page (script errors, refused requests, CSP violations)', () => {
    expect(pageErrors).toEqual([]);
  });

  it('stops on Ctrl-C', async () => {
    const exited = new Promise<number | null>((resolve) => cli.on('exit', (code) => resolve(code)));
    cli.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(cliErr).toMatch(/balmkit view: stopped/);
  });
});
