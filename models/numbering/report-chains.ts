/**
 * Acceptance report: every chain of `pdb-antibody-chains.fasta.gz` numbered on its own (counts of
 * numbered chains, rejections by reason), lysozyme rejected, and T-cell receptor V domains
 * rejected: the consensus sequences of ANARCI's TCR profiles (`anarci-ALL.hmm`, used for
 * validation only, never shipped).
 *
 *   node --import tsx models/numbering/report-chains.ts [--data ../shared/data]
 */
import fs from 'node:fs';
import path from 'node:path';

import { decodeInput, number, parseFasta } from '../../src/antibody/index.js';
import { hmmConsensus } from './hmm-consensus.js';

const args = process.argv.slice(2);
const i = args.indexOf('--data');
const data = path.resolve(i >= 0 ? args[i + 1]! : path.join('..', 'shared', 'data'));

const reasons = new Map<string, number>();
const bump = (k: string): void => {
  reasons.set(k, (reasons.get(k) ?? 0) + 1);
};
const records = parseFasta(decodeInput(fs.readFileSync(path.join(data, 'antibody-sequences', 'pdb-antibody-chains.fasta.gz'))));
// The file is ANARCI's antigen-receptor test set: it holds T-cell receptor chains too, which must be rejected.
const TCR = /T[- ]?CELL[- ]ANTIGEN RECEPTOR|T[- ]?CELL RECEPTOR|\bTCR\b/i;
const tcrByHeader = records.filter((r) => TCR.test(r.description)).length;
let tcrRejected = 0;
let tcrNumbered = 0;
const otherRejected: string[] = [];
let numbered = 0;
let domains = 0;
const types = new Map<string, number>();
const examples = new Map<string, string>();
const t0 = Date.now();
for (const r of records) {
  try {
    const res = number(r.sequence, { source: { record: r.name } });
    numbered++;
    domains += res.domains.length;
    if (TCR.test(r.description)) tcrNumbered++;
    const k = res.domains.map((d) => d.chainType).join('+');
    types.set(k, (types.get(k) ?? 0) + 1);
  } catch (e) {
    const reason = (e as { reason?: string }).reason ?? `crash: ${(e as Error).message}`;
    bump(reason);
    if (TCR.test(r.description)) tcrRejected++;
    else otherRejected.push(`${r.name} ${r.description.slice(0, 60)}: ${reason}`);
    if (!examples.has(reason)) examples.set(reason, (e as Error).message);
  }
}
const secs = (Date.now() - t0) / 1000;
const pct = (a: number, b: number): string => `${((100 * a) / b).toFixed(2)}%`;
console.log(`pdb-antibody-chains: ${records.length} chains, ${numbered} numbered (${pct(numbered, records.length)}; ${domains} domains), ${records.length - numbered} rejected; ${secs.toFixed(1)} s`);
console.log(
  `  domains by chain: ${[...types]
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(', ')}`,
);
for (const [k, n] of [...reasons].sort((a, b) => b[1] - a[1])) console.log(`  rejected ${String(n).padStart(5)}  ${k}   e.g. ${examples.get(k)}`);
console.log(`  chains whose header names a T-cell receptor: ${tcrByHeader}; rejected ${tcrRejected}, numbered ${tcrNumbered}`);
const others = records.length - tcrByHeader;
console.log(`  the other ${others} chains: ${numbered - tcrNumbered} numbered (${pct(numbered - tcrNumbered, others)}), ${otherRejected.length} rejected:`);
for (const o of otherRejected) console.log(`    ${o}`);

const lyso = parseFasta(fs.readFileSync(path.join(data, 'antibody-sequences', 'not-an-antibody-lysozyme.fasta'), 'utf8'))[0]!;
try {
  number(lyso.sequence, { source: { record: lyso.name } });
  console.log('lysozyme: NUMBERED (wrong)');
} catch (e) {
  console.log(`lysozyme: rejected: ${(e as Error).message}`);
}

const hmm = hmmConsensus(fs.readFileSync(path.join(data, 'germlines', 'anarci-ALL.hmm'), 'utf8'));
for (const [name, seq] of hmm) {
  let verdict: string;
  try {
    const d = number(seq).domains[0]!;
    verdict = `numbered as ${d.chainType} (score ${d.score}, V identity ${(d.vGene?.identity ?? 0).toFixed(2)})`;
  } catch (e) {
    verdict = `rejected (${(e as { reason?: string }).reason})`;
  }
  console.log(`ANARCI ${name} consensus: ${verdict}`);
}
