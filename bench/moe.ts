/**
 * MoE compute benchmark: a Mixtral-architecture model (default models/text-moe-small: 8 experts,
 * top-2) built twice by balmkit, each expert run only on the tokens routed to it (`sparse`, the
 * default) and every expert on every token (`dense`, what balmkit did before), same weights,
 * same tokens, interleaved in one run; prefill and decode tokens/s, medians, spread and ratios.
 * Both must agree on the logits first. At decode the expected gain is about experts / top-k in
 * the feed-forward, less what attention and the head cost.
 *
 *   node --import tsx bench/moe.ts [--model models/text-moe-small] [--threads 2] [--context 512] [--steps 32] [--rounds 3]
 *   node --import tsx bench/moe.ts --shape 4,1024,2816     # a random Mixtral of 4 layers, hidden 1024, expert width 2816
 *
 * per-token prefills in chunks of --per-token-chunk tokens (default 8): its prefill figure is
 * that, not a whole-context pass.
 *
 * --shape: a random Mixtral-architecture folder (8 experts, top-2, 16 heads / 8 KV heads, vocab
 * 4096, fp16 weights, fixed seed) written to a temporary folder first: at a width where the
 * experts dominate a step, which the small text model is not.
 *
 * Run it on a quiet machine.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensors } from '../src/io/safetensors.js';
import { f32ToF16, type HostTensor } from '../src/io/tensor.js';
import { loadModel, logitsAt, type CausalLM } from '../src/llm/index.js';
import { moeFeedForward } from '../src/nn/index.js';
import { mulberry32 } from '../src/util/random.js';
import { flagArgs, median, quantile } from './lib.js';

const args = flagArgs();
const shape = args.get('shape')?.split(',').map(Number);
const folder = shape ? randomMixtral(shape as [number, number, number]) : (args.get('model') ?? 'models/text-moe-small');
const threads = Number(args.get('threads') ?? 2);
const context = Number(args.get('context') ?? 512);
const steps = Number(args.get('steps') ?? 32);
const rounds = Number(args.get('rounds') ?? 3);
const perTokenChunk = Number(args.get('per-token-chunk') ?? 8);
const token = (i: number, vocab: number) => (i * 7919 + 13) % vocab;

/** A random Mixtral folder (layers, hidden, expert width): 8 experts, top-2, fp16. */
function randomMixtral([layers, hidden, ffn]: [number, number, number]): string {
  const dir = mkdtempSync(join(tmpdir(), 'balmkit-moe-bench-'));
  const rand = mulberry32(7);
  const vocab = 4096;
  const heads = 16;
  const kv = 8;
  const hd = hidden / heads;
  const mat = (rows: number, cols: number): HostTensor => {
    const data = new Uint16Array(rows * cols);
    const scale = 1 / Math.sqrt(cols);
    for (let i = 0; i < data.length; i++) data[i] = f32ToF16((rand() * 2 - 1) * scale * Math.sqrt(3));
    return { dtype: 'float16', shape: [rows, cols], data };
  };
  const ones = (n: number): HostTensor => ({ dtype: 'float16', shape: [n], data: new Uint16Array(n).fill(f32ToF16(1)) });
  const t = new Map<string, HostTensor>([
    ['model.embed_tokens.weight', mat(vocab, hidden)],
    ['model.norm.weight', ones(hidden)],
  ]);
  for (let i = 0; i < layers; i++) {
    const p = `model.layers.${i}.`;
    t.set(`${p}input_layernorm.weight`, ones(hidden));
    t.set(`${p}post_attention_layernorm.weight`, ones(hidden));
    t.set(`${p}self_attn.q_proj.weight`, mat(heads * hd, hidden));
    t.set(`${p}self_attn.k_proj.weight`, mat(kv * hd, hidden));
    t.set(`${p}self_attn.v_proj.weight`, mat(kv * hd, hidden));
    t.set(`${p}self_attn.o_proj.weight`, mat(hidden, heads * hd));
    t.set(`${p}block_sparse_moe.gate.weight`, mat(8, hidden));
    for (let e = 0; e < 8; e++) {
      t.set(`${p}block_sparse_moe.experts.${e}.w1.weight`, mat(ffn, hidden));
      t.set(`${p}block_sparse_moe.experts.${e}.w3.weight`, mat(ffn, hidden));
      t.set(`${p}block_sparse_moe.experts.${e}.w2.weight`, mat(hidden, ffn));
    }
  }
  writeSafetensors(join(dir, 'model.safetensors'), t);
  const config = {
    model_type: 'mixtral',
    vocab_size: vocab,
    hidden_size: hidden,
    intermediate_size: ffn,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: kv,
    num_local_experts: 8,
    num_experts_per_tok: 2,
    max_position_embeddings: 4096,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    tie_word_embeddings: true,
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

/** The context through the cache in chunks of `chunk` tokens (the whole context by default); the last token's logits. */
async function prefill(lm: CausalLM, state: ReturnType<CausalLM['newState']>, chunk = context): Promise<Float32Array> {
  let last: Float32Array = new Float32Array(0);
  for (let s = 0; s < context; s += chunk) {
    const ids = Array.from({ length: Math.min(context, s + chunk) - s }, (_, j) => token(s + j, lm.vocab));
    last = logitsAt(await lm.forward(state, [ids]), 0, ids.length - 1);
  }
  return last;
}

const SIDES = ['sparse', 'per-token', 'dense'] as const;
type Side = (typeof SIDES)[number];

/** per-token copies k experts' weights per token: its prefill goes in small chunks (a whole context would not fit in memory at a large width). */
const chunkOf = (side: Side) => (side === 'per-token' ? perTokenChunk : context);

async function main(): Promise<void> {
  const sides = {} as Record<Side, CausalLM>;
  for (const side of SIDES) sides[side] = await loadModel(folder, { ep: 'cpu', threads, tokenizer: false, stack: { feedForward: moeFeedForward({ compute: side }) } });
  const ref = await prefill(sides.dense, sides.dense.newState(1));
  for (const side of ['sparse', 'per-token'] as const) {
    const got = await prefill(sides[side], sides[side].newState(1), chunkOf(side));
    const worst = got.reduce((m, v, i) => Math.max(m, Math.abs(v - ref[i])), 0);
    console.error(`check: last-token logits after a ${context}-token prefill, max |${side} − dense| ${worst.toExponential(2)}`);
    if (worst > 1e-4) throw new Error(`${side} and dense compute disagree; timings would be meaningless`);
  }

  const t = Object.fromEntries(SIDES.map((s) => [s, { prefill: [] as number[], decode: [] as number[] }])) as Record<Side, { prefill: number[]; decode: number[] }>;
  for (let r = 0; r < rounds; r++) {
    for (const side of SIDES) {
      const lm = sides[side];
      const state = lm.newState(1);
      let t0 = performance.now();
      await prefill(lm, state, chunkOf(side));
      t[side].prefill.push(performance.now() - t0);
      for (let s = 0; s < steps; s++) {
        t0 = performance.now();
        await lm.forward(state, [[token(context + s, lm.vocab)]]);
        t[side].decode.push(performance.now() - t0);
      }
    }
  }
  const tps = (tokens: number, ms: number) => (tokens / ms) * 1000;
  const iqr = (v: number[]) => `${quantile(v, 0.25).toFixed(1)}–${quantile(v, 0.75).toFixed(1)} ms`;
  const row = (what: string, tokens: number, key: 'prefill' | 'decode') => {
    const dense = median(t.dense[key]);
    const cells = SIDES.map((side) => `${side} ${tps(tokens, median(t[side][key])).toFixed(1).padStart(8)} tok/s (IQR ${iqr(t[side][key])}, ${(dense / median(t[side][key])).toFixed(2)}× dense)`);
    return `${what.padEnd(16)} ${cells.join('   ')}`;
  };
  console.log(
    `${folder}: balmkit MoE compute: sparse (each expert on its tokens), per-token (each token gathers its experts' weights), dense (every expert on every token); batch 1; ${threads} threads; ${rounds} rounds, interleaved`,
  );
  console.log(row(`prefill ${context}`, context, 'prefill'));
  console.log(row(`decode at ${context}`, 1, 'decode'));
  for (const side of SIDES) await sides[side].release();
}

main().catch((e: unknown) => {
  console.error(`bench failed: ${(e as Error).message}`);
  process.exit(1);
});
