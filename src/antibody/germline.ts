/**
 * Closest germline genes of a numbered domain. Because germlines and domain share IMGT
 * positions, identity is a position-by-position comparison, no alignment needed.
 */
import { PROFILE_POSITIONS, type ChainType, type Germline } from './profile.js';

/** The closest germline gene of one segment. */
/**
 * Whether a germline name is one of OGRDB's temporary labels for a gene IUIS has not named
 * (`IGHJ0-SCNX*00`: gene number 0, four letters or digits, allele 00), not a gene name.
 */
export function isOgrdbPlaceholder(name: string): boolean {
  return /^IG[HKL][VDJ]0-[A-Z0-9]{4}\*00$/.test(name);
}

export interface GermlineMatch {
  /** Gene and allele, e.g. `IGHV3-23*01`. */
  name: string;
  species: string;
  /** Fraction of compared positions that are identical (0–1). */
  identity: number;
  /** Positions compared (both the domain and the gene have a residue there). */
  compared: number;
}

/**
 * Germlines of one chain type and segment as bitsets over genes, for bit-parallel counting:
 * `has[(k * 21 + a) * W …]` marks the genes with residue a at IMGT k, `present[g * 5 …]` the
 * positions gene g has. Identity to hundreds of genes then costs a few word operations per
 * position instead of one comparison per gene and position.
 */
interface GermlineTable {
  genes: Germline[];
  /** Words per gene bitset. */
  W: number;
  has: Uint32Array;
  present: Uint32Array;
}

const PLANES = 8; // counts up to 255 positions
const POS_WORDS = 5; // 129 position bits

const tables = new WeakMap<readonly Germline[], Map<string, GermlineTable>>();

function tableFor(germlines: readonly Germline[], chain: ChainType, segment: 'V' | 'J'): GermlineTable {
  let byKey = tables.get(germlines);
  if (byKey === undefined) tables.set(germlines, (byKey = new Map()));
  const key = `${chain}${segment}`;
  let t = byKey.get(key);
  if (t === undefined) {
    const genes = germlines.filter((g) => g.chain === chain && g.segment === segment);
    const W = Math.max(1, Math.ceil(genes.length / 32));
    const has = new Uint32Array((PROFILE_POSITIONS + 1) * 21 * W);
    const present = new Uint32Array(genes.length * POS_WORDS);
    genes.forEach((g, j) => {
      for (let k = 1; k <= PROFILE_POSITIONS; k++) {
        const a = g.codes[k];
        if (a === 255) continue;
        has[(k * 21 + a) * W + (j >>> 5)] |= 1 << (j & 31);
        present[j * POS_WORDS + (k >>> 5)] |= 1 << (k & 31);
      }
    });
    t = { genes, W, has, present };
    byKey.set(key, t);
  }
  return t;
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

const planes = new Uint32Array(PLANES * 64);

/**
 * The germline of `segment` with the highest identity to `codes` (residue index by IMGT position,
 * 255 where the domain has none), over IMGT `from…to`: identical positions / positions both
 * have. Ties go to the gene compared at more positions, then to the first in the file.
 */
export function closestGermline(
  codes: Uint8Array,
  germlines: readonly Germline[],
  chain: ChainType,
  segment: 'V' | 'J',
  from = segment === 'V' ? 1 : 114,
  to = segment === 'V' ? 104 : PROFILE_POSITIONS,
): GermlineMatch | null {
  const t = tableFor(germlines, chain, segment);
  const { W, has, present, genes } = t;
  const G = genes.length;
  const pl = W <= 64 ? planes : new Uint32Array(PLANES * W);
  pl.fill(0, 0, PLANES * W);
  const query = new Uint32Array(POS_WORDS);
  for (let k = from; k <= to; k++) {
    const q = codes[k];
    if (q === 255 || q === 20) continue;
    query[k >>> 5] |= 1 << (k & 31);
    // Add this position's "same residue" bitset to the bit-sliced per-gene counters.
    const base = (k * 21 + q) * W;
    for (let w = 0; w < W; w++) {
      let carry = has[base + w];
      for (let p = 0; carry !== 0 && p < PLANES; p++) {
        const i = p * W + w;
        const c = pl[i] & carry;
        pl[i] ^= carry;
        carry = c;
      }
    }
  }
  let best = -1;
  let bestId = -1;
  let bestCompared = 0;
  for (let g = 0; g < G; g++) {
    let compared = 0;
    for (let w = 0; w < POS_WORDS; w++) compared += popcount(present[g * POS_WORDS + w] & query[w]);
    if (compared === 0) continue;
    let same = 0;
    const w = g >>> 5;
    const bit = 1 << (g & 31);
    for (let p = 0; p < PLANES; p++) if (pl[p * W + w] & bit) same += 1 << p;
    const id = same / compared;
    if (best < 0 || id > bestId || (id === bestId && compared > bestCompared)) {
      best = g;
      bestId = id;
      bestCompared = compared;
    }
  }
  if (best < 0) return null;
  const g = genes[best];
  return { name: g.name, species: g.species, identity: bestId, compared: bestCompared };
}
