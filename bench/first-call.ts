/**
 * What a user waits for: the wall time of one `balmkit predict-structure` of trastuzumab's Fv in
 * a fresh process (process start, model load, prediction, relaxation, PDB written), with the
 * model cache warm (filled by an earlier process) and cold (an empty cache folder), interleaved
 * run by run; with `--baseline DIR`, the same command of another balmkit checkout (e.g. the
 * commit before the cache, built with `npx tsc -p tsconfig.build.json`) in the same rounds.
 *
 *   node --import tsx bench/first-call.ts [--runs 7] [--model balmfold-small] [--baseline /tmp/old-balmkit]
 *
 * Runs `node dist/cli/main.js` (build first: `node cli/build.mjs`), so npx's own start-up (about
 * 0.3 s) is not counted. Never run while a training job holds the cores.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { flagArgs, median, timingRow } from './lib.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HEAVY = 'EVQLVESGGGLVQPGGSLRLSCAASGFNIKDTYIHWVRQAPGKGLEWVARIYPTNGYTRYADSVKGRFTISADTSKNTAYLQMNSLRAEDTAVYYCSRWGGDGFYAMDYWGQGTLVTVSS';
const LIGHT = 'DIQMTQSPSSLSASVGDRVTITCRASQDVNTAVAWYQQKPGKAPKLLIYSASFLYSGVPSRFSGSRSGTDFTLTISSLQPEDFATYYCQQHYTTPPTFGQGTKVEIK';

const flags = flagArgs();
const runs = Number(flags.get('runs') ?? 7);
const model = flags.get('model') ?? 'balmfold-small';
const baseline = flags.get('baseline');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'balmkit-first-call-'));

function predict(main: string, cacheDir: string | null, out: string): number {
  const env: NodeJS.ProcessEnv = { ...process.env, BALMKIT_EP: 'cpu' };
  if (cacheDir === null) delete env.BALMKIT_CACHE_DIR;
  else env.BALMKIT_CACHE_DIR = cacheDir;
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [main, 'predict-structure', '--heavy', HEAVY, '--light', LIGHT, '--model', model, '-o', out], { env, encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${main} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const ours = path.join(ROOT, 'dist', 'cli', 'main.js');
if (!fs.existsSync(ours)) throw new Error(`${ours} is missing: run node cli/build.mjs`);
const theirs = baseline === undefined ? null : path.join(path.resolve(baseline), 'dist', 'cli', 'main.js');
if (theirs !== null && !fs.existsSync(theirs)) throw new Error(`${theirs} is missing: build the baseline checkout (npx tsc -p tsconfig.build.json)`);

const warmDir = path.join(work, 'warm-cache');
process.stderr.write(`filling the warm cache (${warmDir}) …\n`);
predict(ours, warmDir, path.join(work, 'fill.pdb'));

const times: Record<string, number[]> = { warm: [], cold: [], ...(theirs ? { baseline: [] } : {}) };
for (let i = 0; i < runs; i++) {
  times.warm.push(predict(ours, warmDir, path.join(work, `warm${i}.pdb`)));
  times.cold.push(predict(ours, path.join(work, `cold-cache-${i}`), path.join(work, `cold${i}.pdb`)));
  if (theirs) times.baseline.push(predict(theirs, path.join(work, 'baseline-unused-cache'), path.join(work, `base${i}.pdb`)));
  process.stderr.write(
    `round ${i + 1}/${runs}: ${Object.entries(times)
      .map(([k, v]) => `${k} ${v.at(-1)!.toFixed(0)} ms`)
      .join(', ')}\n`,
  );
}
const same = fs.readFileSync(path.join(work, 'warm0.pdb'), 'utf8') === fs.readFileSync(path.join(work, 'cold0.pdb'), 'utf8');

console.log(`\nbalmkit predict-structure, one Fv (trastuzumab), ${model}, a fresh process each, CPU, ${os.cpus().length} cores, ${runs} rounds interleaved`);
console.log(timingRow('warm cache', times.warm));
console.log(timingRow('cold cache (empty folder)', times.cold));
if (theirs) console.log(timingRow(`baseline (${path.basename(path.resolve(baseline!))})`, times.baseline));
console.log(
  `cold / warm ${(median(times.cold) / median(times.warm)).toFixed(2)}×` +
    (theirs ? `; baseline / warm ${(median(times.baseline) / median(times.warm)).toFixed(2)}×; baseline / cold ${(median(times.baseline) / median(times.cold)).toFixed(2)}×` : ''),
);
console.log(`warm and cold predictions byte-identical: ${same ? 'yes' : 'NO'}`);
fs.rmSync(work, { recursive: true, force: true });
