/**
 * A cheap first pass before alignment: 3-mer hits between the sequence and the germline V genes,
 * voted onto the start of the domain they imply. It says where variable domains may start (one
 * peak per domain, so an scFv gives two) and which profiles to align there, so the Viterbi pass
 * runs on a window of ~170 residues against one or two profiles instead of the whole chain
 * against all of them.
 */
import { PROFILE_POSITIONS, type ProfileSet } from './profile.js';

/** A place a variable domain probably starts, and the profile that voted for it most. */
export interface DomainCandidate {
  /** Estimated sequence index of IMGT position 1 (may be negative for N-terminally truncated domains). */
  start: number;
  /** Index into `ProfileSet.profiles`. */
  profile: number;
  /** 3-mer votes in the peak (within ±3 of `start`). */
  votes: number;
  /** Votes of the best profile of each other chain type at the same place, by profile index. */
  rivals: { profile: number; votes: number }[];
}

const MAX_OFFSET = 1024;
const SPREAD = 3;
const MARGIN = 160;

/** The 3-mer index: for each 3-mer code, entries `profile index << 10 | ungapped offset in the V gene`. */
export interface KmerIndex {
  offsets: Int32Array;
  entries: Int32Array;
  profiles: number;
}

const code3 = (a: number, b: number, c: number): number => (a * 21 + b) * 21 + c;

// Reused between calls (the prefilter runs once per chain).
const buffers = { votes: new Int32Array(0), smooth: new Int32Array(0) };

const farFrom = (taken: readonly number[], s: number): boolean => taken.every((t) => Math.abs(t - s) >= 90);

/** Builds the 3-mer index from the set's V genes. */
export function buildKmerIndex(set: ProfileSet): KmerIndex {
  const profileOf = new Map(set.profiles.map((p, i) => [`${p.species}_${p.chain}`, i]));
  const buckets = new Map<number, Set<number>>();
  for (const g of set.germlines) {
    if (g.segment !== 'V') continue;
    const pi = profileOf.get(`${g.species}_${g.chain}`);
    if (pi === undefined) continue;
    const res: number[] = [];
    for (let k = 1; k <= Math.min(PROFILE_POSITIONS, 104); k++) if (g.codes[k] !== 255) res.push(g.codes[k]);
    for (let i = 0; i + 2 < res.length; i++) {
      const c = code3(res[i], res[i + 1], res[i + 2]);
      let b = buckets.get(c);
      if (b === undefined) buckets.set(c, (b = new Set()));
      b.add((pi << 10) | i);
    }
  }
  const n = 21 * 21 * 21;
  const offsets = new Int32Array(n + 1);
  for (const [c, b] of buckets) offsets[c + 1] = b.size;
  for (let c = 0; c < n; c++) offsets[c + 1] += offsets[c];
  const entries = new Int32Array(offsets[n]);
  for (const [c, b] of buckets)
    entries.set(
      [...b].sort((x, y) => x - y),
      offsets[c],
    );
  return { offsets, entries, profiles: set.profiles.length };
}

/**
 * Where variable domains may start in `codes`, best first; at most `maxDomains`, at least 90
 * residues apart, each with ≥ `minVotes` votes (later ones also ≥ 12 and ≥ 30% of the first's).
 */
export function findDomainCandidates(codes: Uint8Array, index: KmerIndex, set: ProfileSet, maxDomains = 2, minVotes = 4): DomainCandidate[] {
  const L = codes.length;
  const width = L + MARGIN;
  const P = index.profiles;
  if (buffers.votes.length < P * width) {
    buffers.votes = new Int32Array(P * width * 2);
    buffers.smooth = new Int32Array(P * width * 2);
  }
  const votes = buffers.votes;
  votes.fill(0, 0, P * width);
  for (let i = 0; i + 2 < L; i++) {
    const a = codes[i];
    const b = codes[i + 1];
    const c = codes[i + 2];
    if (a > 20 || b > 20 || c > 20) continue;
    const k = code3(a, b, c);
    for (let e = index.offsets[k]; e < index.offsets[k + 1]; e++) {
      const v = index.entries[e];
      const s = i - (v & (MAX_OFFSET - 1)) + MARGIN;
      if (s >= 0 && s < width) votes[(v >>> 10) * width + s]++;
    }
  }
  // Smooth over ±SPREAD (the V genes' gaps shift offsets by a few residues).
  const smooth = buffers.smooth;
  for (let pi = 0; pi < P; pi++) {
    let acc = 0;
    const base = pi * width;
    for (let s = 0; s < width + SPREAD; s++) {
      if (s < width) acc += votes[base + s];
      if (s - 2 * SPREAD - 1 >= 0) acc -= votes[base + s - 2 * SPREAD - 1];
      const centre = s - SPREAD;
      if (centre >= 0 && centre < width) smooth[base + centre] = acc;
    }
  }
  const out: DomainCandidate[] = [];
  const taken: number[] = [];
  for (let d = 0; d < maxDomains; d++) {
    let best = -1;
    let bestP = -1;
    let bestS = -1;
    for (let pi = 0; pi < P; pi++) {
      const base = pi * width;
      for (let s = 0; s < width; s++) {
        const v = smooth[base + s];
        if (v > best && (taken.length === 0 || farFrom(taken, s))) {
          best = v;
          bestP = pi;
          bestS = s;
        }
      }
    }
    // A second domain (scFv) must look like one: a constant domain's chance 3-mers must not cost
    // a second alignment on every full-length chain.
    if (best < minVotes || (out.length > 0 && best < Math.max(12, 0.3 * out[0].votes))) break;
    taken.push(bestS);
    const rivals: { profile: number; votes: number }[] = [];
    const chain = set.profiles[bestP].chain;
    for (const other of ['H', 'K', 'L'] as const) {
      if (other === chain) continue;
      let rv = 0;
      let rp = -1;
      for (let pi = 0; pi < P; pi++) {
        if (set.profiles[pi].chain !== other) continue;
        for (let s = Math.max(0, bestS - 10); s < Math.min(width, bestS + 11); s++) {
          if (smooth[pi * width + s] > rv) {
            rv = smooth[pi * width + s]!;
            rp = pi;
          }
        }
      }
      if (rp >= 0) rivals.push({ profile: rp, votes: rv });
    }
    out.push({ start: bestS - MARGIN, profile: bestP, votes: best, rivals });
  }
  return out;
}
