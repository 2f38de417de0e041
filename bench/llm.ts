/**
 * LLM benchmark: prefill and decode tokens/s of a Llama-shaped decoder (random weights: 12 layers,
 * width 768, 12 heads, 4 KV heads, ffn 2048, vocab 32000) at context 512 and 4096 on the CPU,
 * balmkit (src/llm over src/nn, onnxruntime-node) vs the PyTorch reference (bench/llm_torch.py:
 * inference_mode, a preallocated KV cache, OpenBLAS checked, warm-up), same weights, same tokens,
 * interleaved, same thread count on both sides. Both sides must agree on the logits first.
 *
 *   node --import tsx bench/llm.ts [--threads 2] [--contexts 512,4096] [--steps 16] [--rounds 2] [--chunk 512]
 *   node --import tsx bench/llm.ts --model models/text-small,models/text-moe-small [--contexts 256,768]
 *
 * --model: Hugging Face folders (the text models trained here, dense and MoE) instead of the random
 * Llama shape, each loaded as a user loads it (balmkit's loadModel; bench/llm_torch.py --model on
 * the PyTorch side), one after the other in the same run.
 *
 * Prefill: the context's tokens in chunks of --chunk through the cache. Decode: after an untimed
 * prefill of the context, --steps single-token steps; the median step gives tokens/s.
 * Run it on a quiet machine: anything else on the cores makes both sides slower unevenly.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { readSafetensors } from '../src/io/safetensors.js';
import { CausalLM, type DecoderState, loadModel, logitsAt } from '../src/llm/index.js';
import type { DecoderConfig } from '../src/nn/index.js';
import { flagArgs, JsonLineProcess, median, quantile, runToEnd } from './lib.js';

const args = flagArgs();
const threads = Number(args.get('threads') ?? 2);
const models = args.get('model')?.split(',') ?? [];
const contexts = (args.get('contexts') ?? (models.length > 0 ? '256,768' : '512,4096')).split(',').map(Number);
const steps = Number(args.get('steps') ?? 16);
const rounds = Number(args.get('rounds') ?? 2);
const chunk = Number(args.get('chunk') ?? 512);
const python = args.get('python') ?? '/usr/bin/python3';
const root = fileURLToPath(new URL('..', import.meta.url));
const weightsPath = args.get('weights') ?? '/tmp/balmkit-bench-llm.safetensors';
const torchScript = `${root}bench/llm_torch.py`;
const maxSeq = Math.max(...contexts) + steps + 1;

const token = (i: number, vocab: number) => (i * 7919 + 13) % vocab;

async function prefill(lm: CausalLM, state: DecoderState, T: number): Promise<Float32Array> {
  let last: Float32Array = new Float32Array(0);
  for (let s = 0; s < T; s += chunk) {
    const ids = Array.from({ length: Math.min(T, s + chunk) - s }, (_, j) => token(s + j, lm.vocab));
    const l = await lm.forward(state, [ids]);
    last = logitsAt(l, 0, ids.length - 1);
  }
  return last;
}

function agree(name: string, ours: Float32Array, theirs: number[]): void {
  const worst = Math.max(...theirs.map((v, i) => Math.abs(v - ours[i])));
  console.error(`check ${name}: first 8 logits max |diff| ${worst.toExponential(2)}`);
  if (worst > 2e-3) throw new Error(`balmkit and PyTorch disagree on ${name}; timings would be meaningless`);
}

/** The random Llama-shaped bench model, made once by the PyTorch side. */
async function benchShape(): Promise<{ lm: CausalLM; label: string; torchArgs: string[] }> {
  if (!existsSync(weightsPath)) await runToEnd(python, [torchScript, '--make-weights', weightsPath]);
  const file = readSafetensors(weightsPath);
  const c = JSON.parse(file.metadata.config) as Record<string, number>;
  const decoder: DecoderConfig = {
    vocab: c.vocab,
    hidden: c.hidden,
    layers: c.layers,
    heads: c.heads,
    kvHeads: c.kv_heads,
    ffn: c.ffn,
    eps: c.eps,
    rotary: { convention: 'half', theta: c.theta },
  };
  const lm = await CausalLM.create(file.tensors, { arch: 'llama', decoder, maxPositions: maxSeq, source: weightsPath, eos: [] }, null, { ep: 'cpu', threads });
  const label = `Llama-shaped decoder ${decoder.layers}×${decoder.hidden}, ${decoder.heads} heads / ${decoder.kvHeads} KV heads, ffn ${decoder.ffn}, vocab ${decoder.vocab} (random weights)`;
  return { lm, label, torchArgs: [torchScript, '--weights', weightsPath, '--max-seq', String(maxSeq), '--threads', String(threads)] };
}

/** A Hugging Face folder, as `balmkit llm` loads it. */
async function benchFolder(folder: string): Promise<{ lm: CausalLM; label: string; torchArgs: string[] }> {
  const lm = await loadModel(folder, { ep: 'cpu', threads });
  const cfg = JSON.parse(readFileSync(`${folder}/config.json`, 'utf8')) as Record<string, unknown>;
  const experts = cfg.num_local_experts
    ? `, ${String(cfg.num_local_experts)} experts top-${String(cfg.num_experts_per_tok)} of width ${String(cfg.intermediate_size)}`
    : `, ffn ${String(cfg.intermediate_size)}`;
  const label = `${folder} (${String(cfg.model_type)}: ${String(cfg.num_hidden_layers)}×${String(cfg.hidden_size)}, ${String(cfg.num_attention_heads)} heads / ${String(cfg.num_key_value_heads)} KV heads${experts}, vocab ${String(cfg.vocab_size)})`;
  if (maxSeq > Number(cfg.max_position_embeddings)) throw new Error(`${folder}: contexts + steps (${maxSeq}) exceed its ${String(cfg.max_position_embeddings)} positions; lower --contexts`);
  return { lm, label, torchArgs: [torchScript, '--model', folder, '--max-seq', String(maxSeq), '--threads', String(threads)] };
}

async function benchOne(load: () => Promise<{ lm: CausalLM; label: string; torchArgs: string[] }>): Promise<string[]> {
  const t0 = performance.now();
  const { lm, label, torchArgs } = await load();
  console.error(`balmkit: ${label}: graph built and session created in ${(performance.now() - t0).toFixed(0)} ms`);
  const torch = new JsonLineProcess(python, torchArgs);
  const ready = await torch.read();
  console.error(`torch ${String(ready.torch)}, BLAS ${String(ready.blas)}, ${String(ready.threads)} threads; ORT ${ort.env.versions.common}, ${threads} threads`);

  // Warm-up, and the agreement check, on a short context.
  agree('prefill 64', await prefill(lm, lm.newState(1), 64), (await torch.send(`prefill 64 ${chunk}`)).last as number[]);

  const rows: string[] = [];
  for (const T of contexts) {
    const ours = { prefill: [] as number[], decode: [] as number[] };
    const theirs = { prefill: [] as number[], decode: [] as number[] };
    for (let r = 0; r < rounds; r++) {
      let a = performance.now();
      const last = await prefill(lm, lm.newState(1), T);
      ours.prefill.push(performance.now() - a);
      const tp = await torch.send(`prefill ${T} ${chunk}`);
      theirs.prefill.push(tp.ms as number);
      if (r === 0) agree(`prefill ${T}`, last, tp.last as number[]);

      const state = lm.newState(1);
      await prefill(lm, state, T);
      let logits: Float32Array = new Float32Array(0);
      for (let t = T; t < T + steps; t++) {
        a = performance.now();
        logits = logitsAt(await lm.forward(state, [[token(t, lm.vocab)]]), 0, 0);
        ours.decode.push(performance.now() - a);
      }
      const td = await torch.send(`decode ${T} ${steps}`);
      theirs.decode.push(...(td.ms as number[]));
      if (r === 0) agree(`decode at ${T}`, logits, td.last as number[]);
    }
    const tps = (tokens: number, ms: number) => (tokens / ms) * 1000;
    const iqr = (xs: number[]) => `IQR ${quantile(xs, 0.25).toFixed(1)}–${quantile(xs, 0.75).toFixed(1)} ms`;
    const line = (what: string, o: number[], p: number[], tokens: number) =>
      `${what.padEnd(22)} balmkit ${tps(tokens, median(o)).toFixed(1).padStart(8)} tok/s (${iqr(o)})   PyTorch ${tps(tokens, median(p)).toFixed(1).padStart(8)} tok/s (${iqr(p)})   speed-up ${(median(p) / median(o)).toFixed(2)}×`;
    rows.push(line(`prefill, context ${T}`, ours.prefill, theirs.prefill, T));
    rows.push(line(`decode, context ${T}`, ours.decode, theirs.decode, 1));
  }
  torch.quit();
  await lm.release();
  return [`${label}; batch 1; ${threads} threads each; medians of ${rounds} rounds (decode: ${steps} steps each)`, ...rows];
}

async function main(): Promise<void> {
  const out: string[][] = [];
  if (models.length === 0) out.push(await benchOne(benchShape));
  for (const m of models) out.push(await benchOne(() => benchFolder(m)));
  for (const block of out) for (const line of block) console.log(line);
}

main().catch((e: unknown) => {
  console.error(`bench failed: ${(e as Error).message}`);
  process.exit(1);
});
