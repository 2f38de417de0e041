/**
 * BALM throughput: chains per second over 1,000 unique PDB antibody chains (numbered by balmkit),
 * balmkit (ONNX, onnxruntime-node, CPU) vs the PyTorch reference of the official model
 * (bench/balm_torch.py) on the same weights, batches and inputs, interleaved in one run.
 *
 *   npm run bench:balm -- [--model DIR] [--chains 1000] [--batch 32] [--rounds 5] [--threads 2]
 *
 * Default model: the shipped models/balm-small when present, else a random model of its shape.
 * PyTorch: torch.inference_mode(), 2 threads, OpenBLAS confirmed, warm-up. Numbering time is not
 * counted on either side (both get the same numbered chains). Never run while a training job
 * holds the cores.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { number } from '../src/antibody/index.js';
import { parseFasta } from '../src/antibody/fasta.js';
import { Balm, type EncodedChain, encodeChain } from '../src/balm/index.js';
import { flagArgs, JsonLineProcess, median, runToEnd, timingRow } from './lib.js';

const args = flagArgs();
const count = Number(args.get('chains') ?? 1000);
const batch = Number(args.get('batch') ?? 32);
const rounds = Number(args.get('rounds') ?? 5);
const threads = Number(args.get('threads') ?? 2);
const python = args.get('python') ?? '/usr/bin/python3';
const root = fileURLToPath(new URL('..', import.meta.url));
const work = '/tmp/balmkit-bench-balm';
const torchScript = join(root, 'bench', 'balm_torch.py');

async function main(): Promise<void> {
  mkdirSync(work, { recursive: true });
  let model = args.get('model') ?? join(root, 'models', 'balm-small');
  if (!existsSync(join(model, 'config.json'))) {
    model = join(work, 'random-balm-small');
    if (!existsSync(join(model, 'model.safetensors'))) await runToEnd(python, [torchScript, '--make-model', model]);
    console.error(`no shipped balm-small: benchmarking a random model of its shape (${model})`);
  }

  const fasta = gunzipSync(readFileSync(join(root, '..', 'shared', 'data', 'antibody-sequences', 'pdb-antibody-chains.fasta.gz'))).toString('utf8');
  const seen = new Set<string>();
  const chains: EncodedChain[] = [];
  for (const r of parseFasta(fasta)) {
    if (chains.length === count) break;
    if (seen.has(r.sequence)) continue;
    seen.add(r.sequence);
    try {
      for (const d of number(r.sequence).domains)
        if (chains.length < count)
          chains.push(
            encodeChain(
              d.sequence,
              d.residues.map((x) => x.imgt),
            ),
          );
    } catch {
      /* not numberable: skipped on both sides */
    }
  }
  const chainsFile = join(work, 'chains.json');
  writeFileSync(chainsFile, JSON.stringify(chains.map((c) => ({ ids: c.inputIds, positions: c.positionIds }))));

  const balm = await Balm.load(model, { ep: 'cpu', threads });
  const torch = new JsonLineProcess(python, [torchScript, '--model', model, '--chains', chainsFile, '--batch', String(batch), '--threads', String(threads)]);
  const ready = await torch.read();
  console.error(`torch ${String(ready.torch)}, BLAS ${String(ready.blas)}, ${String(ready.threads)} threads`);

  const [first] = await balm.forward(chains.slice(0, 1));
  const check = await torch.send('check');
  const worst = Math.max(...(check.first as number[]).map((v, i) => Math.abs(v - first.logits[i])));
  let sum = 0;
  for (const x of first.logits) sum += x;
  const rel = Math.abs(sum - (check.checksum as number)) / Math.max(1, Math.abs(check.checksum as number));
  console.error(`check: logits max |diff| ${worst.toExponential(2)}, checksum rel diff ${rel.toExponential(2)}`);
  if (worst > 1e-3 || rel > 1e-4) throw new Error('balmkit and PyTorch disagree; timings would be meaningless');

  await balm.forward(chains, batch);
  await torch.send('run');
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    await balm.forward(chains, batch);
    ours.push(performance.now() - t);
    theirs.push((await torch.send('run')).ms as number);
  }
  torch.quit();
  await balm.release();
  const perSecond = (ms: number) => (chains.length / (ms / 1000)).toFixed(0);
  console.log(`BALM ${model}: ${chains.length} chains, batches of ${batch}, ${threads} threads, ${rounds} interleaved rounds after warm-up`);
  console.log(`${timingRow('balmkit (onnxruntime)', ours)}   → ${perSecond(median(ours))} chains/s`);
  console.log(`${timingRow(`PyTorch ${String(ready.torch)}`, theirs)}   → ${perSecond(median(theirs))} chains/s`);
  console.log(`speed-up (PyTorch median / balmkit median): ${(median(theirs) / median(ours)).toFixed(2)}×`);
}

main().catch((e: unknown) => {
  console.error(`bench failed: ${(e as Error).message}`);
  process.exit(1);
});
