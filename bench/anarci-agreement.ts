/**
 * balmkit's IMGT numbering against ANARCI's on the 530 PDB chains of
 * ../shared/data/numbering/anarci-imgt-martin-aho-530.json (ANARCI's entry is a chain's first
 * domain): residues numbered alike, chains whose numbered span is shorter than ANARCI's, chains
 * not numbered, and the positions where the two differ most.
 *
 *   node --import tsx bench/anarci-agreement.ts [--data ../shared/data] [--json] [--show 10]
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { number } from '../src/antibody/number.js';
import { flagArgs } from './lib.js';

export interface AnarciScheme {
  start: number;
  end: number;
  chain_type: string;
  numbers: string[];
  residues: string[];
}
export interface AnarciEntry {
  seq: string;
  imgt: AnarciScheme;
}

export interface Agreement {
  chains: number;
  residues: number;
  same: number;
  notNumbered: string[];
  shorter: { id: string; anarci: [number, number]; ours: [number, number] }[];
  differences: Map<string, number>;
}

/** Compares balmkit's IMGT numbering with ANARCI's, residue by residue over ANARCI's span. */
export function agreement(entries: Record<string, AnarciEntry>): Agreement {
  const out: Agreement = { chains: 0, residues: 0, same: 0, notNumbered: [], shorter: [], differences: new Map() };
  for (const [id, e] of Object.entries(entries)) {
    out.chains++;
    const a = e.imgt;
    out.residues += a.numbers.length;
    let d;
    try {
      d = number(e.seq, { scheme: 'imgt' }).domains[0];
    } catch {
      d = undefined;
    }
    if (!d) {
      out.notNumbered.push(id);
      continue;
    }
    if (d.start > a.start || d.end < a.end) out.shorter.push({ id, anarci: [a.start, a.end], ours: [d.start, d.end] });
    const ours = new Map(d.residues.map((r) => [r.index, `${r.imgt.number}${r.imgt.insertion}`]));
    // ANARCI's numbers run over its span in order, one per residue.
    a.numbers.forEach((n, k) => {
      const mine = ours.get(a.start + k);
      if (mine === n) out.same++;
      else {
        const key = `${n}→${mine ?? '-'}`;
        out.differences.set(key, (out.differences.get(key) ?? 0) + 1);
      }
    });
  }
  return out;
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1]);
if (isMain) {
  const flags = flagArgs(process.argv.slice(2).filter((a) => a !== '--json'));
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const data = flags.get('data') ?? path.join(root, '..', 'shared', 'data');
  const file = path.join(data, 'numbering', 'anarci-imgt-martin-aho-530.json');
  const entries = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, AnarciEntry>;
  const r = agreement(entries);
  const top = [...r.differences].sort((x, y) => y[1] - x[1]).slice(0, Number(flags.get('show') ?? 15));
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify({ ...r, differences: Object.fromEntries(top) }, null, 1));
  } else {
    console.log(`IMGT agreement with ANARCI: ${r.same} / ${r.residues} residues = ${((100 * r.same) / r.residues).toFixed(2)}% over ${r.chains} chains`);
    console.log(`not numbered: ${r.notNumbered.length} ${r.notNumbered.join(' ')}`);
    console.log(`numbered span shorter than ANARCI's: ${r.shorter.length}`);
    for (const s of r.shorter.slice(0, 30)) console.log(`  ${s.id}: ANARCI ${s.anarci.join('–')}, balmkit ${s.ours.join('–')}`);
    console.log('most frequent differences (ANARCI→balmkit):');
    for (const [k, v] of top) console.log(`  ${k}: ${v}`);
  }
}
