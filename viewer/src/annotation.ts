/**
 * What the page knows about each residue of a loaded file: its region (a CDR or framework, from
 * balmkit's CDR ranges, or from the definition of a declared numbering scheme) and its predicted
 * error, plus per-CDR summaries for
 * the side panel.
 */
import { CDR_RANGES } from '../../src/antibody/regions.js';
import type { BalmkitRemarks } from './remarks.js';

/** One residue as Mol* read it from the file, in file order. */
export interface ResidueRecord {
  chain: string;
  number: number;
  insertion: string;
  /** Three-letter name. */
  name: string;
  /** One-letter code (`X` when unknown). */
  letter: string;
  /** B-factor of the residue's CA (else its first atom). */
  bFactor: number;
}

/** Numbering schemes whose CDR definition the page applies to files without CDR ranges. */
export type DeclaredScheme = 'imgt' | 'chothia' | 'kabat';

/** Where the CDR ranges came from, or why there are none. */
export type RegionSource = { kind: 'remarks' } | { kind: 'scheme'; scheme: DeclaredScheme } | { kind: 'none'; reason: string };

/** A file's per-residue annotation. */
export interface FileAnnotation {
  /** Region of each residue (`H3`, `framework`) by {@link residueKey}; empty when regions are unknown. */
  regions: Map<string, string>;
  regionSource: RegionSource;
  /** Whether B-factors are balmkit's predicted errors in Å. */
  hasPredictedError: boolean;
  /** Chain ids in file order. */
  chains: string[];
}

/** `H:100A` — chain, number and insertion code of a residue. */
export function residueKey(chain: string, number: number, insertion: string): string {
  return `${chain}:${number}${insertion.trim()}`;
}

/** Parses `100A` / `100` / `H:100A` style residue labels given to the test hook. */
export function parseResidueLabel(label: string | number): { number: number; insertion: string } | undefined {
  const m = /^(-?\d+)([A-Za-z]?)$/.exec(String(label).trim());
  return m ? { number: Number(m[1]), insertion: m[2] ?? '' } : undefined;
}

export { oneLetter } from '../../src/io/residue-names.js';

/**
 * Marks CDR residues by position in the chain: everything from the range's first residue to its
 * last, in file order. Numbering schemes put insertions in orders that do not sort (IMGT's 112A
 * comes before 112), so file order is the one order that holds in every scheme. A range whose
 * ends are not both in the file falls back to comparing numbers.
 */
function markRange(
  regions: Map<string, string>,
  residues: readonly ResidueRecord[],
  name: string,
  chain: string,
  start: { number: number; insertion: string },
  end: { number: number; insertion: string },
): void {
  const inChain = residues.filter((r) => r.chain === chain);
  const at = (p: { number: number; insertion: string }) => inChain.findIndex((r) => r.number === p.number && r.insertion === p.insertion);
  const i = at(start);
  const j = at(end);
  if (i >= 0 && j >= i) {
    for (let k = i; k <= j; k++) regions.set(residueKey(chain, inChain[k].number, inChain[k].insertion), name);
    return;
  }
  for (const r of inChain) if (r.number >= start.number && r.number <= end.number) regions.set(residueKey(chain, r.number, r.insertion), name);
}

/**
 * Annotates a file's residues.
 *
 * @param residues - the residues Mol* read, in file order.
 * @param remarks - balmkit's metadata, when the file has it.
 * @param declaredScheme - the numbering scheme the user declared for files without metadata
 *   (`imgt`, `chothia`, `kabat`): CDRs then follow balmkit's definition for that scheme, on chains
 *   H and L.
 */
export function annotate(residues: readonly ResidueRecord[], remarks: BalmkitRemarks | undefined, declaredScheme?: string): FileAnnotation {
  const chains = [...new Set(residues.map((r) => r.chain))];
  const regions = new Map<string, string>();
  let regionSource: RegionSource;
  const scheme = remarks?.scheme || declaredScheme?.toLowerCase() || '';
  if (remarks && remarks.cdrs.length > 0) {
    for (const c of remarks.cdrs) markRange(regions, residues, c.name, c.chain, c.start, c.end);
    regionSource = { kind: 'remarks' };
  } else if (scheme === 'imgt' || scheme === 'chothia' || scheme === 'kabat') {
    // balmkit's CDR definitions (src/antibody/regions.ts); an insertion belongs where its number does.
    const def = CDR_RANGES[scheme];
    for (const r of residues) {
      const ranges = r.chain === 'H' ? def.heavy : r.chain === 'L' ? def.light : undefined;
      const c = ranges?.findIndex(([a, b]) => r.number >= a && r.number <= b) ?? -1;
      if (c >= 0) regions.set(residueKey(r.chain, r.number, r.insertion), `${r.chain}${c + 1}`);
    }
    regionSource = { kind: 'scheme', scheme };
  } else {
    regionSource = {
      kind: 'none',
      reason: remarks
        ? `this file's balmkit metadata has no CDR ranges and its numbering (${scheme || 'unknown'}) is not one balmkit knows`
        : 'no CDR ranges: the file has no balmkit metadata and its numbering is unknown (declare it: balmkit view --scheme imgt|chothia|kabat)',
    };
  }
  if (regions.size > 0) {
    for (const r of residues) {
      const k = residueKey(r.chain, r.number, r.insertion);
      if (!regions.has(k) && (r.chain === 'H' || r.chain === 'L' || remarks?.cdrs.some((c) => c.chain === r.chain))) regions.set(k, 'framework');
    }
  }
  return { regions, regionSource, hasPredictedError: remarks?.bfactor === 'PREDICTED_ERROR_ANGSTROM', chains };
}

/** Mean predicted error of each CDR (and of the framework) present in the annotation. */
export function regionMeans(residues: readonly ResidueRecord[], ann: FileAnnotation): Map<string, { mean: number; count: number }> {
  const sums = new Map<string, { sum: number; count: number }>();
  for (const r of residues) {
    const region = ann.regions.get(residueKey(r.chain, r.number, r.insertion));
    if (region === undefined) continue;
    const s = sums.get(region) ?? { sum: 0, count: 0 };
    s.sum += r.bFactor;
    s.count += 1;
    sums.set(region, s);
  }
  return new Map([...sums].map(([k, v]) => [k, { mean: v.sum / v.count, count: v.count }]));
}
