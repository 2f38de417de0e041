/**
 * Training data for balm-small, numbered by balmkit itself.
 *
 *   node --import tsx models/train/prepare-balm-data.ts [--out /tmp/balm-data.jsonl] [--limit N]
 *
 * Sources (read in place from ../shared/data, never copied):
 *   antibody-sequences/oas-paired-1279067_1.fasta.gz  paired nucleotide contigs (OAS, CC BY 4.0):
 *       translated in the frame with the longest stop-free stretch, then numbered (which trims the
 *       leader and the constant region)
 *   antibody-sequences/pdb-antibody-chains.fasta.gz   PDB antibody chains (ANARCI, BSD-3)
 *   antibody-sequences/antibody-sequences.fasta       further antibody chains (ANARCI, BSD-3)
 * Each variable domain is one training chain (an scFv gives two). Exact duplicates are dropped.
 *
 * Excluded: every chain of the RAB-49 test entries and of the ABodyBuilder2 test entries
 * (benchmark-lists/), taken from pdb-antibody-chains and from the RAB structures in rosetta-fv,
 * and every chain ≥ 95% identical to one of them (same chain class, identity over aligned IMGT
 * positions divided by the longer domain).
 *
 * Split: 5% held out by clonotype. Chains with the same chain type, V gene and a CDR3 (IMGT
 * 105–117) of equal length and ≥ 90% identity share a clonotype (greedy clustering); a clonotype
 * goes to validation when a hash of its first member's sequence falls in 5% of the range.
 *
 * Output: JSON lines {id, source, chain, species, v_gene, sequence, numbering, split} and a
 * summary (counts per source, exclusions, split) printed as JSON and written beside the output.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { NotAnAntibodyError, type NumberedDomain, number } from '../../src/antibody/index.js';
import { translateLongestOrf } from '../../src/antibody/translate.js';
import { readPdb } from '../../src/io/pdb.js';
import { STANDARD_RESIDUES } from '../../src/io/residue-names.js';

const DATA = new URL('../../../shared/data/', import.meta.url).pathname;
const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);
const OUT = args.get('out') ?? '/tmp/balm-data.jsonl';
const LIMIT = Number(args.get('limit') ?? Infinity);

function readFasta(path: string): { id: string; seq: string }[] {
  const raw = readFileSync(path);
  const text = (path.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
  const out: { id: string; seq: string }[] = [];
  for (const block of text.split('>').slice(1)) {
    const nl = block.indexOf('\n');
    out.push({
      id: block.slice(0, nl).trim().split(/\s+/)[0],
      seq: block
        .slice(nl + 1)
        .replace(/\s+/g, '')
        .toUpperCase(),
    });
  }
  return out;
}

interface Chain {
  id: string;
  source: string;
  chain: string;
  species: string;
  vGene: string;
  sequence: string;
  numbering: [number, string][];
  /** Residue by IMGT slot, for identity comparisons. */
  slots: Map<string, string>;
  cdr3: string;
}

function toChain(id: string, source: string, d: NumberedDomain): Chain {
  const slots = new Map<string, string>();
  let cdr3 = '';
  for (const r of d.residues) {
    slots.set(`${r.imgt.number}${r.imgt.insertion}`, r.aa);
    if (r.imgt.number >= 105 && r.imgt.number <= 117) cdr3 += r.aa;
  }
  return {
    id,
    source,
    chain: d.chainType,
    species: d.species,
    vGene: d.vGene?.name.split('*')[0] ?? '?',
    sequence: d.sequence,
    numbering: d.residues.map((r) => [r.imgt.number, r.imgt.insertion || ' ']),
    slots,
    cdr3,
  };
}

function domainsOf(seq: string, id: string): NumberedDomain[] {
  try {
    return number(seq, { scheme: 'imgt', source: { record: id } }).domains;
  } catch (e) {
    if (e instanceof NotAnAntibodyError || (e as Error).name === 'SequenceError') return [];
    throw e;
  }
}

/** Identity over aligned IMGT positions, divided by the longer domain. */
function identity(a: Chain, b: Chain): number {
  let same = 0;
  for (const [k, aa] of a.slots) if (b.slots.get(k) === aa) same++;
  return same / Math.max(a.slots.size, b.slots.size);
}

const heavyClass = (c: string) => (c === 'H' ? 'H' : 'L');

async function main(): Promise<void> {
  const t0 = Date.now();
  const summary: Record<string, unknown> = {};

  // Test entries: RAB-49 and ABodyBuilder2's test ids.
  const rab = readFileSync(`${DATA}benchmark-lists/rab49-test-set.txt`, 'utf8')
    .split(/\s+/)
    .filter((x) => /^[0-9][a-z0-9]{3}$/i.test(x))
    .map((x) => x.toLowerCase());
  const abb2 = readFileSync(`${DATA}benchmark-lists/abodybuilder2-antibody-split.csv`, 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => l.split(','))
    .filter(([, set]) => set?.trim() === 'test')
    .map(([id]) => id.trim().toLowerCase());
  const testIds = new Set([...rab, ...abb2]);
  summary.testEntries = { rab49: rab.length, abodybuilder2: abb2.length };

  const pdbChains = readFasta(`${DATA}antibody-sequences/pdb-antibody-chains.fasta.gz`);
  const extra = readFasta(`${DATA}antibody-sequences/antibody-sequences.fasta`);
  const testChains: Chain[] = [];
  for (const r of [...pdbChains, ...extra]) {
    if (!testIds.has(r.id.slice(0, 4).toLowerCase())) continue;
    for (const d of domainsOf(r.seq, r.id)) testChains.push(toChain(r.id, 'test', d));
  }

  const fvDir = `${DATA}antibody-structures/rosetta-fv/`;
  const fvFiles = new Set(readdirSync(fvDir));
  for (const id of rab) {
    const f = `pdb${id}_chothia.pdb.bz2`;
    if (!fvFiles.has(f)) continue;
    const s = await readPdb(fvDir + f);
    for (const ch of s.chains) {
      const seq = ch.residues
        .filter((r) => !r.hetero)
        .map((r) => STANDARD_RESIDUES[r.name] ?? 'X')
        .join('');
      for (const d of domainsOf(seq, `${id}_${ch.id}`)) testChains.push(toChain(`${id}_${ch.id}`, 'test', d));
    }
  }
  summary.testChains = testChains.length;

  // Training candidates.
  const candidates: Chain[] = [];
  const failed: Record<string, number> = {};
  const add = (source: string, id: string, seq: string) => {
    const ds = domainsOf(seq, id);
    if (ds.length === 0) failed[source] = (failed[source] ?? 0) + 1;
    ds.forEach((d, i) => candidates.push(toChain(ds.length > 1 ? `${id}#${i + 1}` : id, source, d)));
  };
  let n = 0;
  for (const r of readFasta(`${DATA}antibody-sequences/oas-paired-1279067_1.fasta.gz`)) {
    if (n++ >= LIMIT) break;
    add('oas', r.id, translateLongestOrf(r.seq));
  }
  for (const r of pdbChains) {
    if (testIds.has(r.id.slice(0, 4).toLowerCase())) continue;
    add('pdb', r.id, r.seq);
  }
  for (const r of extra) {
    if (testIds.has(r.id.slice(0, 4).toLowerCase())) continue;
    add('antibody-sequences', r.id, r.seq);
  }
  summary.numbered = candidates.length;
  summary.notNumbered = failed;

  // Deduplicate, then drop anything ≥ 95% identical to a test chain.
  const seen = new Set<string>();
  const unique = candidates.filter((c) => (seen.has(c.sequence) ? false : (seen.add(c.sequence), true)));
  summary.unique = unique.length;
  const kept = unique.filter((c) => !testChains.some((t) => heavyClass(t.chain) === heavyClass(c.chain) && identity(c, t) >= 0.95));
  summary.excludedAsTestLike = unique.length - kept.length;

  // Clonotypes: chain type + V gene + CDR3 of equal length with ≥ 90% identity.
  const reps = new Map<string, Chain[]>();
  const clonotypeOf = new Map<Chain, Chain>();
  for (const c of kept) {
    const key = `${c.chain}|${c.vGene}|${c.cdr3.length}`;
    const list = reps.get(key) ?? [];
    let rep = list.find((r) => {
      let same = 0;
      for (let i = 0; i < c.cdr3.length; i++) if (r.cdr3[i] === c.cdr3[i]) same++;
      return same >= 0.9 * c.cdr3.length;
    });
    if (!rep) {
      rep = c;
      list.push(c);
      reps.set(key, list);
    }
    clonotypeOf.set(c, rep);
  }
  const held = (rep: Chain) => createHash('sha256').update(rep.sequence).digest().readUInt32BE(0) / 2 ** 32 < 0.05;
  const lines = kept.map((c) =>
    JSON.stringify({
      id: c.id,
      source: c.source,
      chain: c.chain,
      species: c.species,
      v_gene: c.vGene,
      sequence: c.sequence,
      numbering: c.numbering,
      split: held(clonotypeOf.get(c)!) ? 'valid' : 'train',
    }),
  );
  const valid = lines.filter((l) => l.endsWith('"valid"}')).length;
  summary.split = { train: lines.length - valid, valid, clonotypes: [...reps.values()].reduce((a, l) => a + l.length, 0) };
  summary.bySource = Object.fromEntries(['oas', 'pdb', 'antibody-sequences'].map((s) => [s, kept.filter((c) => c.source === s).length]));
  summary.byChain = Object.fromEntries(['H', 'K', 'L'].map((s) => [s, kept.filter((c) => c.chain === s).length]));
  summary.seconds = Math.round((Date.now() - t0) / 1000);

  writeFileSync(`${OUT}.tmp`, `${lines.join('\n')}\n`);
  renameSync(`${OUT}.tmp`, OUT);
  writeFileSync(`${OUT}.summary.json`, `${JSON.stringify(summary, null, 2)}\n`);
  console.log(JSON.stringify(summary, null, 2));
}

main().catch((e: unknown) => {
  console.error((e as Error).stack);
  process.exit(1);
});
