/**
 * Numbering throughput: chains per second over the unique chains of pdb-antibody-chains.fasta.gz
 * (3,754), each numbered from scratch (no caching across records), on worker threads (default:
 * one per core). Profiles are loaded and the workers warmed up before the clock starts.
 * For comparison: ANARCI with HMMER measured 51 chains/s on this machine (2 CPUs, 1,000 unique
 * full-length chains of the same file); the target is ≥ 2,000 chains/s.
 *
 *   node --import tsx bench/number.ts [--workers N] [--data ../shared/data]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

import { decodeInput, number, parseFasta } from '../src/antibody/index.js';

interface Job {
  sequences: string[];
}

if (!isMainThread) {
  const { sequences } = workerData as Job;
  // Warm up (load profiles, JIT) on a few chains, then wait for the start signal.
  for (const s of sequences.slice(0, 20)) {
    try {
      number(s);
    } catch {
      /* rejections are results too */
    }
  }
  parentPort!.postMessage({ ready: true });
  parentPort!.once('message', () => {
    let numbered = 0;
    let rejected = 0;
    const t0 = performance.now();
    for (const s of sequences) {
      try {
        number(s);
        numbered++;
      } catch {
        rejected++;
      }
    }
    parentPort!.postMessage({ numbered, rejected, ms: performance.now() - t0 });
  });
} else {
  const args = process.argv.slice(2);
  const opt = (n: string): string | undefined => (args.indexOf(n) >= 0 ? args[args.indexOf(n) + 1] : undefined);
  const data = path.resolve(opt('--data') ?? path.join('..', 'shared', 'data'));
  const nWorkers = Number(opt('--workers') ?? os.availableParallelism());
  const file = path.join(data, 'antibody-sequences', 'pdb-antibody-chains.fasta.gz');
  const unique = [...new Set(parseFasta(decodeInput(fs.readFileSync(file))).map((r) => r.sequence.toUpperCase()))];
  // Interleaved shares, so long and short chains spread evenly.
  const shares = Array.from({ length: nWorkers }, (_, w) => unique.filter((_, i) => i % nWorkers === w));
  // Workers load this same TypeScript file through tsx's loader (execArgv --import does not reach workers on Node 20).
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); })`;
  const workers = shares.map((sequences) => new Worker(boot, { eval: true, workerData: { sequences } satisfies Job }));
  const once = (w: Worker): Promise<{ numbered: number; rejected: number; ms: number; ready?: boolean }> =>
    new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
  await Promise.all(workers.map(once));
  const t0 = performance.now();
  const done = workers.map(once);
  for (const w of workers) w.postMessage('go');
  const results = await Promise.all(done);
  const wall = (performance.now() - t0) / 1000;
  for (const w of workers) await w.terminate();
  const numbered = results.reduce((n, r) => n + r.numbered, 0);
  const rejected = results.reduce((n, r) => n + r.rejected, 0);
  const rate = unique.length / wall;
  console.log(`balmkit number: ${unique.length} unique chains (${numbered} numbered, ${rejected} rejected) in ${wall.toFixed(2)} s on ${nWorkers} worker thread(s)`);
  console.log(`  ${rate.toFixed(0)} chains/s  (ANARCI+HMMER on this machine: 51 chains/s → ${(rate / 51).toFixed(1)}×; target 2,000)`);
  console.log(`  per worker: ${results.map((r) => `${(r.numbered + r.rejected)} chains in ${(r.ms / 1000).toFixed(2)} s`).join('; ')}`);
}
