/**
 * Acceptance report: balmkit's Chothia numbering against the Chothia numbering in the residue
 * columns of the Rosetta antibody Fv structures, and balmkit's CDRs against the CDR columns of
 * `rosetta-fv.info`; plus the IMGT anchors (104 Cys, 118 Trp/Phe).
 *
 *   node --import tsx models/numbering/report-rosetta.ts [--data ../shared/data] [--sample N] [--list]
 *
 * Prints the agreement, the disagreements grouped by kind (chain, region, file label → balmkit
 * label), and with --list every disagreeing residue.
 */
import path from 'node:path';

import { number, type NumberedDomain } from '../../src/antibody/index.js';
import { INFO_CDR_RANGES, chothiaRange, label, listStructures, readInfo, readStructure, type CdrColumns } from './rosetta-fv.js';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const data = path.resolve(opt('--data') ?? path.join('..', 'shared', 'data'));
const sample = opt('--sample') !== undefined ? Number(opt('--sample')) : undefined;
const listAll = args.includes('--list');

const folder = path.join(data, 'antibody-structures', 'rosetta-fv');
let files = listStructures(folder);
if (sample !== undefined) files = files.filter((_, i) => i % Math.ceil(files.length / sample) === 0);
const info = readInfo(path.join(data, 'antibody-structures', 'rosetta-fv.info'));

let residues = 0;
let agree = 0;
const kinds = new Map<string, number>();
const patterns = new Map<string, number>();
const listed: string[] = [];
const rejected: string[] = [];
let cdrTotal = 0;
let cdrSame = 0;
let cdrNone = 0;
const cdrMisses: string[] = [];
let anchorChecked = 0;
const anchorBad: string[] = [];
const bump = (m: Map<string, number>, k: string, n = 1): void => {
  m.set(k, (m.get(k) ?? 0) + n);
};

/** Chothia region name of a file label, for grouping. */
function regionName(chain: 'H' | 'L', lab: string): string {
  const n = parseInt(lab, 10);
  const cuts =
    chain === 'H'
      ? [
          [1, 25, 'fwr1'],
          [26, 35, 'cdr1'],
          [36, 49, 'fwr2'],
          [50, 65, 'cdr2'],
          [66, 94, 'fwr3'],
          [95, 102, 'cdr3'],
          [103, 113, 'fwr4'],
        ]
      : [
          [1, 23, 'fwr1'],
          [24, 34, 'cdr1'],
          [35, 49, 'fwr2'],
          [50, 56, 'cdr2'],
          [57, 88, 'fwr3'],
          [89, 97, 'cdr3'],
          [98, 107, 'fwr4'],
        ];
  for (const [a, b, name] of cuts as [number, number, string][]) if (n >= a && n <= b) return name;
  return 'after fwr4';
}

/**
 * Whether a structure's own Chothia numbering is off its anchors: it labels H22/H92 (L23/L88)
 * something other than Cys, or H36 (L35) other than Trp, while balmkit's label for that number
 * is on the Cys/Trp (so it is the file's numbering, not a substitution, that is off).
 */
function fileAnchorsOk(chain: 'H' | 'L', seq: string, labels: string[], ours: Map<number, string>): boolean {
  const anchors: Record<string, string> = chain === 'H' ? { '22': 'C', '92': 'C', '36': 'W' } : { '23': 'C', '88': 'C', '35': 'W' };
  const oursAt = new Map([...ours].map(([i, l]) => [l, i]));
  return labels.every((l, i) => {
    const want = anchors[l];
    if (want === undefined || seq[i] === want) return true;
    const j = oursAt.get(l);
    return j === undefined || seq[j] !== want;
  });
}

const t0 = Date.now();
for (const file of files) {
  const entry = readStructure(file);
  const domains: Partial<Record<'H' | 'L', NumberedDomain>> = {};
  for (const chain of ['H', 'L'] as const) {
    const c = entry.chains[chain];
    if (c === undefined) continue;
    residues += c.sequence.length;
    let d: NumberedDomain | undefined;
    try {
      d = number(c.sequence, { scheme: 'chothia', maxDomains: 1, source: { record: entry.id, chain } }).domains[0];
    } catch (e) {
      rejected.push(`${entry.id} ${chain}: ${(e as Error).message}`);
      bump(kinds, `${chain} rejected (whole chain)`, c.sequence.length);
      continue;
    }
    domains[chain] = d;
    const ours = new Map<number, string>();
    for (const r of d!.residues) ours.set(r.index, label(r.number, r.insertion));
    if ((d!.chainType === 'H') !== (chain === 'H')) bump(kinds, `${chain} typed as ${d!.chainType}`);
    const anchorsOk = fileAnchorsOk(chain, c.sequence, c.labels, ours);
    for (let i = 0; i < c.sequence.length; i++) {
      const theirs = c.labels[i]!;
      const mine = ours.get(i);
      if (mine === theirs) {
        agree++;
        continue;
      }
      const where = !anchorsOk ? "file's numbering misses its own Cys/Trp anchors" : c.breaks > 0 ? 'chain with missing residues' : 'complete chain';
      const kind = `${chain} ${regionName(chain, theirs)}: ${mine === undefined ? 'not numbered by balmkit' : 'numbered differently'} (${where})`;
      bump(kinds, kind);
      bump(patterns, `${chain}${theirs}→${mine ?? '-'}`);
      if (listAll) listed.push(`${entry.id} ${chain} residue ${i + 1} ${c.sequence[i]}: file ${theirs}, balmkit ${mine ?? '(not numbered)'}`);
    }
    // IMGT anchors.
    for (const r of d!.residues) {
      if (r.imgt.insertion !== '') continue;
      if (r.imgt.number === 104 || r.imgt.number === 118) {
        anchorChecked++;
        const want = r.imgt.number === 104 ? 'C' : d!.chainType === 'H' ? 'W' : 'F';
        if (r.aa !== want) {
          // A substitution, or a misplaced anchor? Misplaced would leave the wanted residue next door.
          const near = [-2, -1, 1, 2].some((o) => c.sequence[r.index + o] === want);
          anchorBad.push(`${entry.id} ${chain} IMGT ${r.imgt.number}: ${r.aa} (expected ${want}${near ? `; a ${want} is within 2 residues: misplaced?` : '; none within 2 residues: a substitution'})`);
        }
      }
    }
  }
  const cols = info.get(entry.id);
  if (cols === undefined) continue;
  for (const key of Object.keys(INFO_CDR_RANGES) as (keyof CdrColumns)[]) {
    const want = cols[key];
    const chain = key[0] === 'h' ? 'H' : 'L';
    if (entry.chains[chain] === undefined && want === 'none') continue; // chain absent: no CDR to compare
    cdrTotal++;
    const d = domains[chain];
    const got = d === undefined ? '(not numbered)' : chothiaRange(d, INFO_CDR_RANGES[key]);
    if (want === 'none') {
      cdrNone++;
      cdrMisses.push(`${entry.id} ${key}: info 'none', balmkit ${got}`);
    } else if (got === want) cdrSame++;
    else cdrMisses.push(`${entry.id} ${key}: info ${want}, balmkit ${got}`);
  }
}

const pct = (a: number, b: number): string => `${((100 * a) / Math.max(1, b)).toFixed(2)}%`;
const lines: string[] = [];
lines.push(`rosetta-fv: ${files.length} files, ${residues} residues in chains H and L (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
lines.push(`Chothia numbering agrees with the files on ${agree} / ${residues} residues = ${pct(agree, residues)}`);
lines.push('', 'Disagreements by kind (residues):');
for (const [k, n] of [...kinds].sort((a, b) => b[1] - a[1])) lines.push(`  ${String(n).padStart(6)}  ${k}`);
lines.push('', 'Most frequent disagreements (file label → balmkit label):');
for (const [k, n] of [...patterns].sort((a, b) => b[1] - a[1]).slice(0, 25)) lines.push(`  ${String(n).padStart(6)}  ${k}`);
if (rejected.length > 0) lines.push('', `Chains rejected (${rejected.length}):`, ...rejected.slice(0, 20).map((r) => `  ${r}`));
const withSeq = cdrTotal - cdrNone;
lines.push(
  '',
  `CDRs vs rosetta-fv.info (Chothia ranges H1 26-35, H2 50-65, H3 95-102, L1 24-34, L2 50-56, L3 89-97):`,
  `  ${cdrSame} / ${cdrTotal} CDRs identical = ${pct(cdrSame, cdrTotal)} (a 'none' column counted as a miss; ${cdrNone} such)`,
  `  ${cdrSame} / ${withSeq} of the CDRs the info file gives a sequence for = ${pct(cdrSame, withSeq)}`,
);
lines.push(
  '  first misses:',
  ...cdrMisses
    .filter((m) => !m.includes("info 'none'"))
    .slice(0, 25)
    .map((m) => `    ${m}`),
);
lines.push('', `IMGT anchors: ${anchorChecked - anchorBad.length} / ${anchorChecked} residues at IMGT 104 are Cys and at 118 Trp (H) / Phe (L)`);
lines.push(`  of the ${anchorBad.length} others, ${anchorBad.filter((m) => m.includes('misplaced?')).length} have the expected residue within 2 residues (possible misplacement):`);
lines.push(...anchorBad.map((m) => `  ${m}`));
if (listAll) lines.push('', 'All disagreeing residues:', ...listed.map((l) => `  ${l}`));
process.stdout.write(`${lines.join('\n')}\n`);
