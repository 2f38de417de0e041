/**
 * Builds balmkit's numbering profiles (`models/numbering/ig-profiles.json.gz`) from the
 * IMGT-gapped germline genes of OGRDB (CC BY 4.0), as copied into `../shared/data/germlines`.
 *
 *   node --import tsx models/numbering/build-profiles.ts [germlines-folder] [--out file]
 *
 * One position-specific scoring profile per species and chain type (H, K, L) over the 128 IMGT
 * positions: codon i of an IMGT-gapped V gene is IMGT position i; a J gene is placed by its
 * conserved W/F-G-x-G motif (the W/F is IMGT 118) and gives FR4. Emissions are log-odds in bits
 * against the Robinson & Robinson background, from weighted germline counts smoothed with
 * BLOSUM62-derived substitution probabilities (mature antibodies carry somatic mutations the
 * germlines lack). Occupancy (how often a position is filled) comes from the IMGT gaps of the V
 * genes; insertion sites are the IMGT ones (CDR1 32/33, CDR2 60/61, CDR3 111/112).
 * The file also carries the translated germline V and J genes, for closest-germline identity.
 *
 * Deterministic: the same germline files give the same bytes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

import { AMINO_ACIDS, BACKGROUND } from '../../src/antibody/alphabet.js';
import { number } from '../../src/antibody/number.js';
import { PROFILE_FORMAT, PROFILE_POSITIONS, parseProfileSet, type GermlineJson, type ProfileFile, type ProfileJson, type ProfileSet } from '../../src/antibody/profile.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const outArg = process.argv.indexOf('--out');
const OUT = outArg >= 0 ? path.resolve(process.argv[outArg + 1]!) : path.join(HERE, 'ig-profiles.json.gz');

/**
 * OGRDB folder → species name balmkit reports (both mouse strains are one species).
 * `ogrdb-macaque` is read differently (see {@link regapWithProfiles}): its V genes are not gapped
 * the IMGT way (extra gaps at 16 and 28 shift Cys 23 to 24 and Trp 41 to 43).
 */
const SPECIES_FOLDERS: readonly [string, string][] = [
  ['ogrdb-human', 'human'],
  ['ogrdb-balbc', 'mouse'],
  ['ogrdb-c57bl6', 'mouse'],
];

const CHAINS = ['H', 'K', 'L'] as const;
type Chain = (typeof CHAINS)[number];

// ---- translation -----------------------------------------------------------------------------

const BASES = 'TCAG';
// The standard genetic code in TCAG order (first base slowest); '*' = stop.
const CODE = 'FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG';

function translateCodon(codon: string): string {
  let idx = 0;
  for (const b of codon) {
    const v = BASES.indexOf(b);
    if (v < 0) return 'X';
    idx = idx * 4 + v;
  }
  return CODE[idx]!;
}

/** Translates an IMGT-gapped V gene: element i is IMGT position i+1 ('-' = IMGT gap). */
function translateGappedV(nt: string): string {
  let out = '';
  for (let i = 0; i + 3 <= nt.length; i += 3) {
    const c = nt.slice(i, i + 3).toUpperCase();
    out += c === '...' ? '-' : c.includes('.') ? 'X' : translateCodon(c);
  }
  return out;
}

// ---- BLOSUM62 --------------------------------------------------------------------------------

// BLOSUM62 (Henikoff & Henikoff 1992) in the usual ARNDCQEGHILKMFPSTWYV order.
const B62_ORDER = 'ARNDCQEGHILKMFPSTWYV';
const B62 = `
 4 -1 -2 -2  0 -1 -1  0 -2 -1 -1 -1 -1 -2 -1  1  0 -3 -2  0
-1  5  0 -2 -3  1  0 -2  0 -3 -2  2 -1 -3 -2 -1 -1 -3 -2 -3
-2  0  6  1 -3  0  0  0  1 -3 -3  0 -2 -3 -2  1  0 -4 -2 -3
-2 -2  1  6 -3  0  2 -1 -1 -3 -4 -1 -3 -3 -1  0 -1 -4 -3 -3
 0 -3 -3 -3  9 -3 -4 -3 -3 -1 -1 -3 -1 -2 -3 -1 -1 -2 -2 -1
-1  1  0  0 -3  5  2 -2  0 -3 -2  1  0 -3 -1  0 -1 -2 -1 -2
-1  0  0  2 -4  2  5 -2  0 -3 -3  1 -2 -3 -1  0 -1 -3 -2 -2
 0 -2  0 -1 -3 -2 -2  6 -2 -4 -4 -2 -3 -3 -2  0 -2 -2 -3 -3
-2  0  1 -1 -3  0  0 -2  8 -3 -3 -1 -2 -1 -2 -1 -2 -2  2 -3
-1 -3 -3 -3 -1 -3 -3 -4 -3  4  2 -3  1  0 -3 -2 -1 -3 -1  3
-1 -2 -3 -4 -1 -2 -3 -4 -3  2  4 -2  2  0 -3 -2 -1 -2 -1  1
-1  2  0 -1 -3  1  1 -2 -1 -3 -2  5 -1 -3 -1  0 -1 -3 -2 -2
-1 -1 -2 -3 -1  0 -2 -3 -2  1  2 -1  5  0 -2 -1 -1 -1 -1  1
-2 -3 -3 -3 -2 -3 -3 -3 -1  0  0 -3  0  6 -4 -2 -2  1  3 -1
-1 -2 -2 -1 -3 -1 -1 -2 -2 -3 -3 -1 -2 -4  7 -1 -1 -4 -3 -2
 1 -1  1  0 -1  0  0  0 -1 -2 -2  0 -1 -2 -1  4  1 -3 -2 -2
 0 -1  0 -1 -1 -1 -1 -2 -2 -1 -1 -1 -1 -2 -1  1  5 -2 -2  0
-3 -3 -4 -4 -2 -2 -3 -2 -2 -3 -2 -3 -1  1 -4 -3 -2 11  2 -3
-2 -2 -2 -3 -2 -1 -2 -3  2 -1 -1 -2 -1  3 -3 -2 -2  2  7 -1
 0 -3 -3 -3 -1 -2 -2 -3 -3  3  1 -2  1 -1 -2 -2  0 -3 -1  4`;

/** P(a | b): the probability BLOSUM62's target frequencies give residue a at a site holding b. */
function substitutionProbabilities(): number[][] {
  const rows = B62.trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number));
  const s = (a: number, b: number): number => rows[B62_ORDER.indexOf(AMINO_ACIDS[a]!)]![B62_ORDER.indexOf(AMINO_ACIDS[b]!)]!;
  const p: number[][] = [];
  for (let b = 0; b < 20; b++) {
    // q_ab ∝ bg_a · bg_b · 2^(s_ab / 2) (BLOSUM scores are half-bits).
    const col = AMINO_ACIDS.split('').map((_, a) => BACKGROUND[a]! * 2 ** (s(a, b) / 2));
    const z = col.reduce((x, y) => x + y, 0);
    p.push(col.map((v) => v / z));
  }
  return p;
}

// ---- reading the germlines -------------------------------------------------------------------

interface Gene {
  name: string;
  species: string;
  chain: Chain;
  segment: 'V' | 'J';
  /** IMGT position of aa[0]. */
  start: number;
  /** Residues ('-' = IMGT gap), position start + i. */
  aa: string;
}

function readFasta(file: string): { name: string; seq: string }[] {
  const out: { name: string; seq: string }[] = [];
  for (const block of fs.readFileSync(file, 'utf8').split('>').slice(1)) {
    const [head, ...rest] = block.split('\n');
    out.push({ name: head!.trim().split(/\s+/)[0]!.replace(/__.*$/, ''), seq: rest.join('').replace(/\s+/g, '') });
  }
  return out;
}

function chainOf(name: string): Chain | undefined {
  const m = /^IG([HKL])[VJ]/.exec(name);
  return m ? (m[1] as Chain) : undefined;
}

/** Places a J gene: the frame and offset that put its W/F-G-x-G motif's W/F at IMGT 118. */
function placeJ(nt: string, chain: Chain): { start: number; aa: string } | undefined {
  const motif = chain === 'H' ? /WG.G/ : /FG.G/;
  for (let frame = 0; frame < 3; frame++) {
    let aa = '';
    for (let i = frame; i + 3 <= nt.length; i += 3) aa += translateCodon(nt.slice(i, i + 3).toUpperCase());
    const m = motif.exec(aa);
    if (m && !aa.slice(0, m.index + 11).includes('*')) {
      // Keep from IMGT 114 (the J-encoded end of CDR3) to 128 at most.
      const from = Math.max(0, m.index - 4);
      const fr4 = aa.slice(from, m.index + 11).replace(/\*.*$/, '');
      return { start: 118 - (m.index - from), aa: fr4 };
    }
  }
  return undefined;
}

/**
 * Germlines whose IMGT gapping cannot be trusted (OGRDB's macaque set) are gapped anew: each
 * translated V gene is numbered by balmkit itself with the profiles built from the well-gapped
 * species, and a gene is kept only if it numbers as its own chain type from IMGT 1–3 to Cys 104,
 * with no framework insertion (which a gapped string cannot hold).
 */
function regapWithProfiles(root: string, folder: string, species: string, set: ProfileSet): { genes: Gene[]; skipped: string[] } {
  const genes: Gene[] = [];
  const skipped: string[] = [];
  const seen = new Set<string>();
  for (const rec of readFasta(path.join(root, folder, 'v.imgt-gapped.fasta'))) {
    const chain = chainOf(rec.name);
    if (!chain) continue;
    const nt = rec.seq.replace(/\./g, '');
    let aa = '';
    for (let i = 0; i + 3 <= nt.length; i += 3) aa += translateCodon(nt.slice(i, i + 3).toUpperCase());
    if (aa.includes('*') || aa.includes('X')) {
      skipped.push(`${folder}/${rec.name}`);
      continue;
    }
    let gapped: string | undefined;
    try {
      const d = number(aa, { profiles: set, maxDomains: 1 }).domains[0]!;
      const res = d.residues;
      const frameworkInsertion = res.some((r) => r.imgt.insertion !== '' && r.imgt.number < 105);
      const at = (k: number): string | undefined => res.find((r) => r.imgt.number === k && r.imgt.insertion === '')?.aa;
      if (d.chainType === chain && d.start === 0 && res[0]!.imgt.number <= 3 && !frameworkInsertion && at(23) === 'C' && at(104) === 'C') {
        const chars = Array.from({ length: 108 }, () => '-');
        for (const r of res) if (r.imgt.insertion === '' && r.imgt.number <= 108) chars[r.imgt.number - 1] = r.aa;
        gapped = chars.join('').replace(/-+$/, '');
      }
    } catch {
      gapped = undefined;
    }
    if (gapped === undefined) {
      skipped.push(`${folder}/${rec.name}`);
      continue;
    }
    const key = `${species}|V|${gapped}`;
    if (seen.has(key)) continue;
    seen.add(key);
    genes.push({ name: rec.name, species, chain, segment: 'V', start: 1, aa: gapped });
  }
  for (const rec of readFasta(path.join(root, folder, 'j.imgt-gapped.fasta'))) {
    const chain = chainOf(rec.name);
    if (!chain) continue;
    const placed = placeJ(rec.seq.replace(/\./g, ''), chain);
    if (!placed) {
      skipped.push(`${folder}/${rec.name}`);
      continue;
    }
    const key = `${species}|J|${chain}|${placed.start}|${placed.aa}`;
    if (seen.has(key)) continue;
    seen.add(key);
    genes.push({ name: rec.name, species, chain, segment: 'J', start: placed.start, aa: placed.aa });
  }
  return { genes, skipped };
}

function readGermlines(root: string): { genes: Gene[]; skipped: string[] } {
  const genes: Gene[] = [];
  const skipped: string[] = [];
  const seen = new Set<string>();
  for (const [folder, species] of SPECIES_FOLDERS) {
    for (const rec of readFasta(path.join(root, folder, 'v.imgt-gapped.fasta'))) {
      const chain = chainOf(rec.name);
      if (!chain) continue;
      const aa = translateGappedV(rec.seq).slice(0, 108);
      // Pseudogenes (stop codons in the V region) and fragments teach the profile nothing.
      if (aa.slice(0, 104).includes('*') || aa.replace(/-/g, '').length < 85 || aa[22] !== 'C') {
        skipped.push(`${folder}/${rec.name}`);
        continue;
      }
      const key = `${species}|V|${aa}`;
      if (seen.has(key)) continue;
      seen.add(key);
      genes.push({ name: rec.name, species, chain, segment: 'V', start: 1, aa: aa.replace(/\*/g, 'X') });
    }
    for (const rec of readFasta(path.join(root, folder, 'j.imgt-gapped.fasta'))) {
      const chain = chainOf(rec.name);
      if (!chain) continue;
      const placed = placeJ(rec.seq.replace(/\./g, ''), chain);
      if (!placed) {
        skipped.push(`${folder}/${rec.name}`);
        continue;
      }
      const key = `${species}|J|${chain}|${placed.start}|${placed.aa}`;
      if (seen.has(key)) continue;
      seen.add(key);
      genes.push({ name: rec.name, species, chain, segment: 'J', start: placed.start, aa: placed.aa });
    }
  }
  return { genes, skipped };
}

// ---- profiles --------------------------------------------------------------------------------

const CDR1 = [27, 38];
const CDR2 = [56, 65];
const CDR3 = [105, 117];
const inRange = (p: number, r: number[]): boolean => p >= r[0]! && p <= r[1]!;

/** CDR3 occupancy by IMGT position: IMGT fills 105–117 from both ends, so the middle is emptiest. */
const CDR3_OCCUPANCY: Record<number, number> = {
  105: 0.98,
  106: 0.97,
  107: 0.95,
  108: 0.9,
  109: 0.85,
  110: 0.8,
  111: 0.7,
  112: 0.7,
  113: 0.8,
  114: 0.85,
  115: 0.9,
  116: 0.95,
  117: 0.98,
};

const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

function buildProfile(species: string, chain: Chain, genes: Gene[], subst: number[][]): ProfileJson {
  const K = PROFILE_POSITIONS;
  // Allele groups share weight: a gene with 10 alleles should not outvote one with 1.
  const groups = new Map<string, number>();
  for (const g of genes) groups.set(g.name.split('*')[0]!, (groups.get(g.name.split('*')[0]!) ?? 0) + 1);
  const counts = Array.from({ length: K + 1 }, () => new Float64Array(20));
  const filled = new Float64Array(K + 1);
  const covered = new Float64Array(K + 1);
  for (const g of genes) {
    const w = 1 / groups.get(g.name.split('*')[0]!)!;
    const last = g.segment === 'V' ? Math.min(g.start + g.aa.length - 1, 106) : g.start + g.aa.length - 1;
    for (let p = g.start; p <= last && p <= K; p++) {
      const c = g.aa[p - g.start]!;
      covered[p] += w;
      if (c === '-') continue;
      filled[p] += w;
      const a = AMINO_ACIDS.indexOf(c);
      if (a >= 0) counts[p]![a] += w;
    }
  }
  const nGroups = groups.size;
  const match: number[] = [];
  const occupancy: number[] = [];
  const insertOpen: number[] = [];
  const insertExtend: number[] = [];
  for (let p = 1; p <= K; p++) {
    const total = counts[p]!.reduce((x, y) => x + y, 0);
    // How much the germline counts are trusted: less in CDRs (diverse, mutated), little with few genes.
    const cdr = inRange(p, CDR1) || inRange(p, CDR2);
    const cdr3 = inRange(p, CDR3);
    const base = cdr3 ? 0.5 : cdr ? 0.75 : 0.95;
    const wData = total > 0 ? base * (nGroups / (nGroups + 1)) : 0;
    const lambda = cdr || cdr3 ? 0.5 : 0.35;
    for (let a = 0; a < 20; a++) {
      let pa = BACKGROUND[a]!;
      if (total > 0) {
        const f = (b: number): number => counts[p]![b]! / total;
        let smoothed = 0;
        for (let b = 0; b < 20; b++) smoothed += f(b) * subst[b]![a]!;
        const fa = (1 - lambda) * f(a) + lambda * smoothed;
        pa = wData * fa + (1 - wData) * BACKGROUND[a]!;
      }
      match.push(round(Math.log2(pa / BACKGROUND[a]!)));
    }
    let occ = cdr3 ? CDR3_OCCUPANCY[p]! : covered[p]! > 0 ? filled[p]! / covered[p]! : 0.5;
    if (chain !== 'H' && p === 128) occ = 0.9; // light chains: the first constant-region residue when present
    occupancy.push(round(Math.min(0.995, Math.max(0.05, occ)), 4));
    // IMGT's insertion sites are cheap; anywhere else an insertion is a rare event.
    const open = p === 111 ? -1 : p === 32 || p === 60 ? -3 : -14;
    const extend = p === 111 ? -0.25 : -1;
    insertOpen.push(open);
    insertExtend.push(extend);
  }
  return { species, chain, genes: genes.length, geneGroups: nGroups, match, occupancy, insertOpen, insertExtend };
}

function profilesFor(genes: Gene[], subst: number[][]): ProfileJson[] {
  const profiles: ProfileJson[] = [];
  for (const species of [...new Set(genes.map((g) => g.species))]) {
    for (const chain of CHAINS) {
      const mine = genes.filter((g) => g.species === species && g.chain === chain);
      if (mine.filter((g) => g.segment === 'V').length === 0) continue;
      profiles.push(buildProfile(species, chain, mine, subst));
    }
  }
  return profiles;
}

function fileFor(genes: Gene[], profiles: ProfileJson[], source: string): ProfileFile {
  return {
    format: PROFILE_FORMAT,
    positions: PROFILE_POSITIONS,
    alphabet: AMINO_ACIDS,
    units: 'bits',
    source,
    profiles,
    germlines: genes.map((g): GermlineJson => ({ name: g.name, species: g.species, chain: g.chain, segment: g.segment, start: g.start, aa: g.aa })),
  };
}

function main(): void {
  const positional = process.argv.slice(2).filter((a, i, all) => a !== '--out' && all[i - 1] !== '--out');
  const root = path.resolve(positional[0] ?? path.join(HERE, '..', '..', '..', 'shared', 'data', 'germlines'));
  if (!fs.existsSync(root)) throw new Error(`germline folder ${root} not found: pass the folder holding ogrdb-*/ as the first argument`);
  const subst = substitutionProbabilities();
  // 1. Human and mouse, from their IMGT gapping.
  const { genes, skipped } = readGermlines(root);
  const first = fileFor(genes, profilesFor(genes, subst), '');
  // 2. Rhesus macaque, gapped by numbering its V genes with the profiles of step 1.
  const macaque = regapWithProfiles(root, 'ogrdb-macaque', 'rhesus', parseProfileSet(Buffer.from(JSON.stringify(first))));
  const all = [...genes, ...macaque.genes];
  const profiles = profilesFor(all, subst);
  const file = fileFor(all, profiles, 'OGRDB germline sets (human; BALB/c and C57BL/6 mouse; rhesus macaque, re-gapped by balmkit), via brineylab/abstar @c0b7c29; CC BY 4.0');
  const json = JSON.stringify(file);
  const bytes = gzipSync(Buffer.from(json), { level: 9 });
  // Zero the gzip header's mtime so the bytes depend on the input only.
  bytes.writeUInt32LE(0, 4);
  const tmp = `${OUT}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, bytes);
  fs.renameSync(tmp, OUT);
  process.stderr.write(
    `wrote ${path.relative(process.cwd(), OUT)}: ${profiles.length} profiles (${profiles.map((p) => `${p.species}_${p.chain}:${p.geneGroups}`).join(' ')}), ` +
      `${file.germlines.length} germline genes, ${bytes.length} bytes; skipped ${skipped.length + macaque.skipped.length} pseudogenes/fragments/ungappable genes\n`,
  );
}

main();
