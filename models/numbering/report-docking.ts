/**
 * Acceptance report on Docking Benchmark 5.5: the bound (`_r_b`) and unbound (`_r_u`) copies of
 * each antibody must number identically on their shared residues, and every antigen chain
 * (`_l_b`, `_l_u`) must be rejected.
 *
 *   node --import tsx models/numbering/report-docking.ts [--data ../shared/data]
 *
 * Shared residues: the two copies' chains of the same chain type are aligned (Needleman–Wunsch,
 * identity scoring; they are the same protein with different disordered or trimmed residues) and
 * residues aligned to an identical residue are compared by their IMGT and Chothia labels.
 */
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

import { number, type NumberedDomain } from '../../src/antibody/index.js';
import { alignSequences } from '../../src/fold/residue-pairs.js';
import { residueLetter } from '../../src/io/residue-names.js';

/** Protein chains of a PDB file: sequence from the ATOM records, one residue per (number, insertion code). */
function readChains(file: string): Map<string, string> {
  const text = gunzipSync(fs.readFileSync(file)).toString('utf8');
  const chains = new Map<string, string>();
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('ATOM')) continue;
    const aa = residueLetter(line.slice(17, 20));
    if (aa === undefined) continue;
    const key = line.slice(21, 27);
    if (seen.has(key)) continue;
    seen.add(key);
    chains.set(line[21]!, (chains.get(line[21]!) ?? '') + aa);
  }
  return chains;
}

/** Pairs of indices (i in a, j in b) aligned to each other with identical residues. */
function identicalPairs(a: string, b: string): [number, number][] {
  return alignSequences(a, b).filter(([i, j]) => a[i] === b[j]);
}

const args = process.argv.slice(2);
const di = args.indexOf('--data');
const data = path.resolve(di >= 0 ? args[di + 1]! : path.join('..', 'shared', 'data'));
const folder = path.join(data, 'antibody-structures', 'docking-benchmark-5.5', 'pdbs');
const cases = [...new Set(fs.readdirSync(folder).map((f) => f.slice(0, 4)))].sort();

let shared = 0;
let sameImgt = 0;
let sameChothia = 0;
const diffs: string[] = [];
let antigenChains = 0;
let antigenRejected = 0;
const antigenNumbered: string[] = [];
let antibodyChains = 0;
const antibodyFailed: string[] = [];

type Numbered = { chain: string; seq: string; domains: NumberedDomain[] };
function numberFile(file: string, tag: string): Numbered[] {
  const out: Numbered[] = [];
  for (const [chain, seq] of readChains(file)) {
    antibodyChains++;
    try {
      out.push({ chain, seq, domains: number(seq, { source: { record: tag, chain } }).domains });
    } catch (e) {
      antibodyFailed.push(`${tag} chain ${chain}: ${(e as Error).message}`);
    }
  }
  return out;
}

for (const c of cases) {
  const bound = numberFile(path.join(folder, `${c}_r_b.pdb.gz`), `${c}_r_b`);
  const unbound = numberFile(path.join(folder, `${c}_r_u.pdb.gz`), `${c}_r_u`);
  for (const b of bound) {
    const type = b.domains.map((d) => d.chainType).join('+');
    const u = unbound.find((x) => x.domains.map((d) => d.chainType).join('+') === type);
    if (u === undefined) {
      diffs.push(`${c}: bound chain ${b.chain} (${type}) has no unbound chain of the same type`);
      continue;
    }
    const labels = (n: Numbered, scheme: 'imgt' | 'chothia'): Map<number, string> =>
      new Map(n.domains.flatMap((d) => d.residues.map((r) => [r.index, `${r[scheme].number}${r[scheme].insertion}`] as const)));
    const [bi, ui, bc, uc] = [labels(b, 'imgt'), labels(u, 'imgt'), labels(b, 'chothia'), labels(u, 'chothia')];
    for (const [i, j] of identicalPairs(b.seq, u.seq)) {
      if (!bi.has(i) || !ui.has(j)) continue;
      shared++;
      if (bi.get(i) === ui.get(j)) sameImgt++;
      else diffs.push(`${c} ${type} ${b.seq[i]}: bound ${b.chain}${i + 1} IMGT ${bi.get(i)}, unbound ${u.chain}${j + 1} IMGT ${ui.get(j)}`);
      if (bc.get(i) === uc.get(j)) sameChothia++;
    }
  }
  for (const kind of ['l_b', 'l_u']) {
    for (const [chain, seq] of readChains(path.join(folder, `${c}_${kind}.pdb.gz`))) {
      antigenChains++;
      try {
        const r = number(seq);
        antigenNumbered.push(`${c}_${kind} chain ${chain}: numbered as ${r.domains.map((d) => d.chainType).join('+')} (score ${r.domains[0]!.score})`);
      } catch {
        antigenRejected++;
      }
    }
  }
}

console.log(`docking-benchmark-5.5: ${cases.length} cases`);
console.log(`  antibody chains: ${antibodyChains}, numbered ${antibodyChains - antibodyFailed.length}`);
for (const f of antibodyFailed) console.log(`    not numbered: ${f}`);
console.log(
  `  bound vs unbound, shared residues: ${shared}; same IMGT label ${sameImgt} (${((100 * sameImgt) / shared).toFixed(2)}%), same Chothia label ${sameChothia} (${((100 * sameChothia) / shared).toFixed(2)}%)`,
);
for (const d of diffs.slice(0, 30)) console.log(`    ${d}`);
console.log(`  antigen chains: ${antigenChains}, rejected ${antigenRejected}`);
for (const a of antigenNumbered) console.log(`    ${a}`);
