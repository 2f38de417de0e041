/**
 * Which residues of two structures are the same residue, for superposing one on the other: by
 * numbering both structures' chains in one scheme (IMGT) with balmkit's numbering, whatever the
 * files' own residue numbers are (an IMGT-numbered prediction against a Chothia-numbered crystal
 * pairs the same residues as a Chothia prediction does); or, when a structure has no chain that
 * numbers as an antibody domain, by aligning chain sequences.
 *
 * Domains are matched by chain class (heavy with heavy, light with light); when the fixed
 * structure holds several of a class (two Fabs in the asymmetric unit), the one with the same
 * chain id wins if it shares most positions, else the one sharing the most identical residues.
 */
import { numberOrError } from '../antibody/number.js';
import type { ChainClass } from '../antibody/schemes.js';
import { oneLetter, type ResidueId, type Structure, type StructureResidue } from '../io/structure.js';

/** A residue of a structure: its chain id and its number in the file. */
export interface ResidueRef extends ResidueId {
  chain: string;
}

/** How the residues of a pair of chains were matched. */
export type PairingMethod = 'numbering' | 'alignment';

/** One matched pair of chains (or domains) and the residues paired in them. */
export interface ChainPairing {
  moving: string;
  fixed: string;
  /** The class both domains numbered as (absent for sequence alignment). */
  chainClass?: ChainClass;
  method: PairingMethod;
  /** Paired residues; identical ones are the `same` count. */
  pairs: number;
  same: number;
}

export interface ResiduePairing {
  method: PairingMethod;
  chains: ChainPairing[];
  /** Residue pairs, in the moving structure's order. */
  pairs: { moving: ResidueRef; fixed: ResidueRef }[];
}

/** Residues with a CA atom, per chain: what can be superposed. */
function chainsWithCa(s: Structure): { id: string; residues: StructureResidue[]; sequence: string }[] {
  return s.chains
    .map((c) => {
      const residues = c.residues.filter((r) => r.atoms.some((a) => a.name === 'CA') && oneLetter(r.name) !== 'X');
      return { id: c.id, residues, sequence: residues.map((r) => oneLetter(r.name)).join('') };
    })
    .filter((c) => c.residues.length > 0);
}

/** One numbered antibody domain of a chain: its residues by IMGT label. */
interface Domain {
  chain: string;
  chainClass: ChainClass;
  byLabel: Map<string, StructureResidue>;
}

function numberedDomains(s: Structure): Domain[] {
  const out: Domain[] = [];
  for (const c of chainsWithCa(s)) {
    const result = numberOrError(c.sequence, { source: { record: c.id } });
    if (result instanceof Error) continue;
    for (const d of result.domains) {
      const byLabel = new Map<string, StructureResidue>();
      d.residues.forEach((r, j) => byLabel.set(`${r.imgt.number}${r.imgt.insertion}`, c.residues[d.start + j]));
      out.push({ chain: c.id, chainClass: d.chainType === 'H' ? 'heavy' : 'light', byLabel });
    }
  }
  return out;
}

const ref = (chain: string, r: StructureResidue): ResidueRef => ({ chain, number: r.number, insertion: r.insertion });

/** Shared IMGT positions of two domains, and how many hold the same residue. */
function shared(a: Domain, b: Domain): { labels: string[]; same: number } {
  const labels = [...a.byLabel.keys()].filter((k) => b.byLabel.has(k));
  const same = labels.filter((k) => a.byLabel.get(k)!.name === b.byLabel.get(k)!.name).length;
  return { labels, same };
}

/**
 * Global alignment (Needleman–Wunsch, identity +1, mismatch −1, gap −1) of two sequences: the
 * aligned index pairs. Written here because npm has no maintained protein aligner; the fallback
 * only needs the residue correspondence of two chains of one protein.
 */
export function alignSequences(a: string, b: string): [number, number][] {
  const n = a.length;
  const m = b.length;
  const score = new Int32Array((n + 1) * (m + 1));
  const w = m + 1;
  for (let i = 0; i <= n; i++) score[i * w] = -i;
  for (let j = 0; j <= m; j++) score[j] = -j;
  for (let i = 1; i <= n; i++) {
    for (let j = 1; j <= m; j++) {
      const diag = score[(i - 1) * w + j - 1] + (a[i - 1] === b[j - 1] ? 1 : -1);
      score[i * w + j] = Math.max(diag, score[(i - 1) * w + j] - 1, score[i * w + j - 1] - 1);
    }
  }
  const pairs: [number, number][] = [];
  let i = n;
  let j = m;
  while (i > 0 && j > 0) {
    const s = score[i * w + j];
    if (s === score[(i - 1) * w + j - 1] + (a[i - 1] === b[j - 1] ? 1 : -1)) pairs.push([--i, --j]);
    else if (s === score[(i - 1) * w + j] - 1) i--;
    else j--;
  }
  return pairs.reverse();
}

/** Pairs by sequence alignment: each moving chain with the fixed chain of the same id, else the one aligning best. */
function pairByAlignment(moving: Structure, fixed: Structure): ResiduePairing {
  const fixedChains = chainsWithCa(fixed);
  const out: ResiduePairing = { method: 'alignment', chains: [], pairs: [] };
  const taken = new Set<string>();
  for (const mc of chainsWithCa(moving)) {
    const candidates = fixedChains.filter((f) => !taken.has(f.id));
    if (candidates.length === 0) break;
    const scored = candidates.map((f) => {
      const pairs = alignSequences(mc.sequence, f.sequence);
      return { f, pairs, same: pairs.filter(([i, j]) => mc.sequence[i] === f.sequence[j]).length };
    });
    const best = scored.find((x) => x.f.id === mc.id && x.same >= 0.5 * mc.residues.length) ?? scored.reduce((a, b) => (b.same > a.same ? b : a));
    if (best.same < 3) continue;
    taken.add(best.f.id);
    out.chains.push({ moving: mc.id, fixed: best.f.id, method: 'alignment', pairs: best.pairs.length, same: best.same });
    for (const [i, j] of best.pairs) out.pairs.push({ moving: ref(mc.id, mc.residues[i]), fixed: ref(best.f.id, best.f.residues[j]) });
  }
  return out;
}

/**
 * The residue pairs of two structures: by IMGT numbering of both when each has an antibody
 * domain, else by sequence alignment.
 */
export function pairResidues(moving: Structure, fixed: Structure): ResiduePairing {
  const md = numberedDomains(moving);
  const fd = numberedDomains(fixed);
  if (md.length === 0 || fd.length === 0) return pairByAlignment(moving, fixed);
  const out: ResiduePairing = { method: 'numbering', chains: [], pairs: [] };
  const taken = new Set<Domain>();
  for (const m of md) {
    const candidates = fd.filter((f) => f.chainClass === m.chainClass && !taken.has(f)).map((f) => ({ f, ...shared(m, f) }));
    if (candidates.length === 0) continue;
    const most = Math.max(...candidates.map((c) => c.labels.length));
    const best = candidates.find((c) => c.f.chain === m.chain && c.labels.length === most) ?? candidates.reduce((a, b) => (b.same > a.same ? b : a));
    if (best.labels.length === 0) continue;
    taken.add(best.f);
    out.chains.push({ moving: m.chain, fixed: best.f.chain, chainClass: m.chainClass, method: 'numbering', pairs: best.labels.length, same: best.same });
    for (const k of best.labels) out.pairs.push({ moving: ref(m.chain, m.byLabel.get(k)!), fixed: ref(best.f.chain, best.f.byLabel.get(k)!) });
  }
  return out;
}

/** What a pairing did, in words: "IMGT numbering of both structures: H↔H 118 (112 identical), L↔L 107 (…)". */
export function describePairing(p: ResiduePairing): string {
  const how = p.method === 'numbering' ? 'IMGT numbering of both structures' : 'sequence alignment (a structure has no antibody domain to number)';
  const chains = p.chains.map((c) => `${c.moving}↔${c.fixed} ${c.pairs} (${c.same} identical)`).join(', ');
  return `${p.pairs.length} residues paired by ${how}${chains ? `: ${chains}` : ''}`;
}

/** The CA coordinates of the paired residues, as flat [x, y, z, …] arrays for {@link kabsch}. */
export function pairedCa(moving: Structure, fixed: Structure, p: ResiduePairing): { moving: Float64Array; fixed: Float64Array } {
  const index = (s: Structure) => {
    const map = new Map<string, [number, number, number]>();
    for (const c of s.chains) {
      for (const r of c.residues) {
        const ca = r.atoms.find((a) => a.name === 'CA');
        if (ca) map.set(`${c.id}:${r.number}${r.insertion}`, [ca.x, ca.y, ca.z]);
      }
    }
    return map;
  };
  const mi = index(moving);
  const fi = index(fixed);
  const a = new Float64Array(p.pairs.length * 3);
  const b = new Float64Array(p.pairs.length * 3);
  p.pairs.forEach((pair, k) => {
    a.set(mi.get(`${pair.moving.chain}:${pair.moving.number}${pair.moving.insertion}`)!, k * 3);
    b.set(fi.get(`${pair.fixed.chain}:${pair.fixed.number}${pair.fixed.insertion}`)!, k * 3);
  });
  return { moving: a, fixed: b };
}
