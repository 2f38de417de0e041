/**
 * Closest germline genes of a numbered domain. Because germlines and domain share IMGT
 * positions, identity is a position-by-position comparison, no alignment needed.
 */
import { PROFILE_POSITIONS, type ChainType, type Germline } from './profile.js';

/** The closest germline gene of one segment. */
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
 * The germline of `segment` with the highest identity to `codes` (residue index by IMGT position,
 * 255 where the domain has none), over IMGT `from…to`. Ties go to the gene compared at more positions.
 */
export function closestGermline(
  codes: Uint8Array,
  germlines: readonly Germline[],
  chain: ChainType,
  segment: 'V' | 'J',
  from = segment === 'V' ? 1 : 114,
  to = segment === 'V' ? 104 : PROFILE_POSITIONS,
): GermlineMatch | null {
  let best: GermlineMatch | null = null;
  for (const g of germlines) {
    if (g.chain !== chain || g.segment !== segment) continue;
    let same = 0;
    let compared = 0;
    const gc = g.codes;
    for (let k = from; k <= to; k++) {
      const q = codes[k]!;
      const r = gc[k]!;
      if (q === 255 || r === 255 || q === 20) continue;
      compared++;
      if (q === r) same++;
    }
    if (compared === 0) continue;
    const identity = same / compared;
    if (best === null || identity > best.identity || (identity === best.identity && compared > best.compared)) {
      best = { name: g.name, species: g.species, identity, compared };
    }
  }
  return best;
}
