/**
 * Numbering throughput: chains per second over the unique chains of pdb-antibody-chains.fasta.gz
 * (3,754), each numbered from scratch (no caching across records), split over worker processes
 * (default: one per core). Profiles are loaded and the workers warmed up before the clock starts.
 * For comparison: ANARCI with HMMER measured 51 chains/s on this machine (2 CPUs, 1,000 unique
 * full-length chains of the same file); the target is ≥ 2,000 chains/s.
 *
 *   node --import tsx bench/number.ts [--workers N] [--data ../shared/data]
 *
 * Prints the wall-clock rate and, because a shared machine's other load slows the wall clock, the
 * CPU time each worker used (the rate the same cores give when nothing else runs), and the load
 * average before and after.
 */
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { decodeInput, number, parseFasta } from '../src/antibody/index.js';

interface Result {
  numbered: number;
  rejected: number;
  ms: number;
  cpuMs: number;
}

if (process.argv[2] === '--worker') {
  // Worker: receive sequences, warm up, say ready, wait for 'go', number them all, report.
  process.once('message', (msg: { sequences: string[] }) => {
    const { sequences } = msg;
    for (const s of sequences.slice(0, 50)) {
      try {
        number(s);
      } catch {
        /* rejections are results too */
      }
    }
    process.send!({ ready: true });
    process.once('message', () => {
      let numbered = 0;
      let rejected = 0;
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (const s of sequences) {
        try {
          number(s);
          numbered++;
        } catch {
          rejected++;
        }
      }
      const c = process.cpuUsage(c0);
      process.send!({ numbered, rejected, ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 } satisfies Result, () => process.exit(0));
    });
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
  const load0 = os.loadavg()[0];
  const self = fileURLToPath(import.meta.url);
  const workers = shares.map(() => fork(self, ['--worker'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const next = <T>(w: ReturnType<typeof fork>): Promise<T> =>
    new Promise((resolve, reject) => {
      w.once('message', (m) => resolve(m as T));
      w.once('error', reject);
    });
  const ready = workers.map((w) => next<{ ready: boolean }>(w));
  workers.forEach((w, i) => w.send({ sequences: shares[i] }));
  await Promise.all(ready);
  const done = workers.map((w) => next<Result>(w));
  const t0 = performance.now();
  for (const w of workers) w.send('go');
  const results = await Promise.all(done);
  const wall = (performance.now() - t0) / 1000;
  const numbered = results.reduce((n, r) => n + r.numbered, 0);
  const rejected = results.reduce((n, r) => n + r.rejected, 0);
  const rate = unique.length / wall;
  const cpuWall = Math.max(...results.map((r) => r.cpuMs)) / 1000;
  console.log(`balmkit number: ${unique.length} unique chains (${numbered} numbered, ${rejected} rejected) on ${nWorkers} worker process(es), ${os.availableParallelism()} CPUs`);
  console.log(`  wall clock: ${wall.toFixed(2)} s = ${rate.toFixed(0)} chains/s  (ANARCI+HMMER on this machine: 51 chains/s → ${(rate / 51).toFixed(1)}×; target 2,000)`);
  console.log(`  CPU time per worker: ${results.map((r) => `${(r.cpuMs / 1000).toFixed(2)} s`).join(', ')} → ${(unique.length / cpuWall).toFixed(0)} chains/s when the cores are not shared`);
  console.log(`  load average (1 min) before ${load0.toFixed(2)}, after ${os.loadavg()[0].toFixed(2)}`);
}
