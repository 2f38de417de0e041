/**
 * Encoder benchmark: balmkit (ONNX graph from src/nn, onnxruntime-node, CPU) vs the PyTorch
 * reference (models/reference/blocks.py via bench/encoder_torch.py) on the same weights and
 * inputs, in the same run, interleaved. 6 layers, hidden 320, 20 heads, ffn 1280, pre-LN with
 * rotary, batch 32 × length 160 with padding, 2 threads on each side.
 *
 *   npm run bench:encoder -- [--iters 15] [--warmup 3] [--batch 32] [--seq 160] [--threads 2]
 *
 * PyTorch side: torch.inference_mode(), torch.set_num_threads(2), OpenBLAS confirmed loaded
 * (the script refuses to run otherwise), warm-up runs. Never run this while a training job holds
 * the cores.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { readSafetensors } from '../src/io/safetensors.js';
import { buildEncoderGraph, fullAttention } from '../src/nn/index.js';
import { encoderConfig } from '../models/reference/configs.js';
import { serializeModel } from '../src/onnx/index.js';
import { flagArgs, JsonLineProcess, median, runToEnd, timingRow } from './lib.js';

const args = flagArgs();
const iters = Number(args.get('iters') ?? 15);
const warmup = Number(args.get('warmup') ?? 3);
const batch = Number(args.get('batch') ?? 32);
const seq = Number(args.get('seq') ?? 160);
const threads = Number(args.get('threads') ?? 2);
const fused = (args.get('fused') ?? 'true') !== 'false';
const python = args.get('python') ?? '/usr/bin/python3';

const root = fileURLToPath(new URL('..', import.meta.url));
const weightsPath = args.get('weights') ?? '/tmp/balmkit-bench-encoder.safetensors';
const torchScript = `${root}bench/encoder_torch.py`;

async function main(): Promise<void> {
  if (!existsSync(weightsPath)) await runToEnd(python, [torchScript, '--make-weights', weightsPath]);
  const file = readSafetensors(weightsPath);
  const cfg = encoderConfig(JSON.parse(file.metadata.config) as Record<string, unknown>);

  // Same deterministic inputs as bench/encoder_torch.py.
  const ids = new BigInt64Array(batch * seq);
  const mask = new BigInt64Array(batch * seq);
  for (let b = 0; b < batch; b++) {
    const pad = (b * 7) % 40;
    for (let s = 0; s < seq; s++) {
      ids[b * seq + s] = BigInt(4 + ((b * 131 + s * 17) % 20));
      mask[b * seq + s] = s < seq - pad ? 1n : 0n;
    }
  }
  const feeds = { input_ids: new ort.Tensor('int64', ids, [batch, seq]), attention_mask: new ort.Tensor('int64', mask, [batch, seq]) };

  const t0 = performance.now();
  const bytes = serializeModel(buildEncoderGraph(file.tensors, cfg, { attention: fullAttention({ fused }) }));
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  console.error(`balmkit: graph built and session created in ${(performance.now() - t0).toFixed(0)} ms (${(bytes.length / 1e6).toFixed(1)} MB)`);

  const torch = new JsonLineProcess(python, [torchScript, '--weights', weightsPath, '--batch', String(batch), '--seq', String(seq), '--threads', String(threads)]);
  const ready = await torch.read();
  console.error(`torch ${String(ready.torch)}, BLAS ${String(ready.blas)}, ${String(ready.threads)} threads`);

  // Both sides must compute the same thing before their times mean anything.
  const out = (await session.run(feeds)).hidden_states.data as Float32Array;
  let sum = 0;
  for (const x of out) sum += x;
  const check = await torch.send('check');
  const first = check.first as number[];
  const worst = Math.max(...first.map((v, i) => Math.abs(v - out[i])));
  const relSum = Math.abs(sum - (check.checksum as number)) / Math.max(1, Math.abs(check.checksum as number));
  console.error(`check: first 8 outputs max |diff| ${worst.toExponential(2)}, checksum rel diff ${relSum.toExponential(2)}`);
  if (worst > 1e-3 || relSum > 1e-4) throw new Error('balmkit and PyTorch disagree; timings would be meaningless');

  for (let i = 0; i < warmup; i++) {
    await session.run(feeds);
    await torch.send('run');
  }
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let i = 0; i < iters; i++) {
    const a = performance.now();
    await session.run(feeds);
    ours.push(performance.now() - a);
    theirs.push((await torch.send('run')).ms as number);
  }
  torch.quit();

  console.log(
    `encoder ${cfg.layers}×${cfg.hidden} (${cfg.heads} heads, ffn ${cfg.ffn}, ${cfg.norm}-LN, rotary), batch ${batch} × ${seq}, ${threads} threads, ${iters} interleaved runs after ${warmup} warm-up`,
  );
  console.log(timingRow(`balmkit (ORT ${ort.env.versions.common}${fused ? '' : ', unfused'})`, ours));
  console.log(timingRow(`PyTorch ${String(ready.torch)}`, theirs));
  console.log(`speed-up (PyTorch median / balmkit median): ${(median(theirs) / median(ours)).toFixed(2)}×`);
}

main().catch((e: unknown) => {
  console.error(`bench failed: ${(e as Error).message}`);
  process.exit(1);
});
