/**
 * `balmkit embed` and `balmkit score` end to end (the built CLI), on the official-format fixture
 * model: 1,000 real antibody chains embedded by the CLI equal `Balm.embed` through the library,
 * and a FASTA with a non-amino-acid letter, an empty record and a non-antibody processes the rest
 * and reports exactly those three.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { number } from '../../src/antibody/index.js';
import { parseFasta } from '../../src/antibody/fasta.js';
import { Balm } from '../../src/balm/index.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { requireGates, sharedData } from '../shared-data.js';
import { ROOT, balmkit, ensureBuilt } from './helpers.js';

const MODEL = join(ROOT, 'test', 'fixtures', 'balm', 'official-bin');
const data = sharedData('balmkit embed/score CLI tests', 'antibody-sequences/pdb-antibody-chains.fasta.gz', 'antibody-sequences/not-an-antibody-lysozyme.fasta');
const tmp = mkdtempSync(join(tmpdir(), 'balmkit-cli-balm-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('embed and score', () => {
  requireGates(data);
  let fasta = '';
  let bad = '';
  beforeAll(() => {
    if (!data.present()) return;
    ensureBuilt();
    const [chainsPath, lysoPath] = data.paths as [string, string];
    const seen = new Set<string>();
    const records = parseFasta(gunzipSync(readFileSync(chainsPath)).toString('utf8')).filter((r) => !seen.has(r.sequence) && (seen.add(r.sequence), true));
    // 1,000 unique chains that number (as single chains: no pairing by name).
    const chosen = [];
    for (const r of records) {
      if (chosen.length === 1000) break;
      try {
        if (number(r.sequence).domains.length === 1) chosen.push(r);
      } catch {
        /* not numberable: not part of this sample */
      }
    }
    fasta = join(tmp, 'chains.fasta');
    writeFileSync(fasta, chosen.map((r) => `>${r.name.replace(/_/g, '-')}\n${r.sequence}\n`).join(''));
    const lyso = parseFasta(readFileSync(lysoPath, 'utf8'))[0];
    bad = join(tmp, 'bad.fasta');
    writeFileSync(bad, `>good\n${chosen[0].sequence}\n>letters\nEVQLVESGGGLVQPGG1SLRLSCAASGFTFS\n>empty\n\n>lysozyme\n${lyso.sequence}\n>good2\n${chosen[1].sequence}\n`);
  });

  test('1,000 chains: CLI rows equal Balm.embed through the library', async () => {
    const out = join(tmp, 'e.safetensors');
    const r = balmkit(['embed', fasta, '--no-pair', '--model', MODEL, '--ep', 'cpu', '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    const f = readSafetensors(out);
    const meta = JSON.parse(f.metadata.chains) as { record: string; residues: number }[];
    expect(meta).toHaveLength(1000);
    const offsets = Array.from(f.tensors.get('offsets')!.data as BigInt64Array, Number);
    const rows = f.tensors.get('embeddings')!.data as Float32Array;
    const records = parseFasta(readFileSync(fasta, 'utf8'));
    const balm = await Balm.load(MODEL, { ep: 'cpu' });
    const lib = await balm.embed(
      records.map((rec) => {
        const d = number(rec.sequence).domains[0];
        return { sequence: d.sequence, numbering: d.residues.map((x) => x.imgt) };
      }),
    );
    await balm.release();
    const d = balm.hiddenSize;
    let worst = 0;
    lib.forEach((e, i) => {
      expect(offsets[i + 1] - offsets[i]).toBe(e.residues);
      for (let k = 0; k < e.perResidue.length; k++) worst = Math.max(worst, Math.abs(rows[offsets[i] * d + k] - e.perResidue[k]));
    });
    expect(worst).toBeLessThanOrEqual(1e-5);
  });

  test('bad records are reported and the rest processed, for embed and score', () => {
    const out = join(tmp, 'bad.json');
    const r = balmkit(['embed', bad, '--model', MODEL, '--ep', 'cpu', '-o', out]);
    expect(r.code).toBe(1);
    const json = JSON.parse(readFileSync(out, 'utf8')) as { chains: { record: string }[] };
    expect(json.chains.map((c) => c.record)).toEqual(['good', 'good2']);
    for (const name of ['letters', 'empty', 'lysozyme']) expect(r.stderr).toContain(`'${name}'`);
    expect(r.stderr).toContain('3 record(s) failed');

    const s = balmkit(['score', bad, '--model', MODEL, '--ep', 'cpu', '--json']);
    expect(s.code).toBe(1);
    const scored = JSON.parse(s.stdout) as { chains: { record: string; perResidue: unknown[]; pseudoPerplexity: number }[]; errors: { record: string }[] };
    expect(scored.chains.map((c) => c.record)).toEqual(['good', 'good2']);
    expect(scored.errors.map((e) => e.record)).toEqual(['letters', 'empty', 'lysozyme']);
    expect(scored.chains[0].pseudoPerplexity).toBeGreaterThan(1);
    // Each chain says why it stands alone (these records have no partner by name or id).
    expect((scored.chains as { unpaired?: string }[]).map((c) => c.unpaired)).toEqual(['no partner', 'no partner']);
  });
});
