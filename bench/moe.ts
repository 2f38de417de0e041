/**
 * MoE compute benchmark: a Mixtral-architecture model (default models/text-moe-small: 8 experts,
 * top-2) built twice by balmkit, each expert run only on the tokens routed to it (`sparse`, the
 * default) and every expert on every token (`dense`, what balmkit did before), same weights,
 * same tokens, interleaved in one run; prefill and decode tokens/s, medians, spread and ratios.
 * Both must agree on the logits first. At decode the expected gain is about experts / top-k in
 * the feed-forward, less what attention and the head cost.
 *
 *   node --import tsx bench/moe.ts [--model models/text-moe-small] [--threads 2] [--context 512] [--steps 32] [--rounds 3]
 *
 * Run it on a quiet machine.
 */
import { loadModel, logitsAt, type CausalLM } from '../src/llm/index.js';
import { flagArgs, median, quantile } from './lib.js';

const args = flagArgs();
const folder = args.get('model') ?? 'models/text-moe-small';
const threads = Number(args.get('threads') ?? 2);
const context = Number(args.get('context') ?? 512);
const steps = Number(args.get('steps') ?? 32);
const rounds = Number(args.get('rounds') ?? 3);
const token = (i: number, vocab: number) => (i * 7919 + 13) % vocab;

async function prefill(lm: CausalLM, state: ReturnType<CausalLM['newState']>): Promise<Float32Array> {
  const ids = Array.from({ length: context }, (_, j) => token(j, lm.vocab));
  return logitsAt(await lm.forward(state, [ids]), 0, context - 1);
}

async function main(): Promise<void> {
  const sides = {
    sparse: await loadModel(folder, { ep: 'cpu', threads, tokenizer: false, stack: { moe: { compute: 'sparse' } } }),
    dense: await loadModel(folder, { ep: 'cpu', threads, tokenizer: false, stack: { moe: { compute: 'dense' } } }),
  };
  const a = await prefill(sides.sparse, sides.sparse.newState(1));
  const b = await prefill(sides.dense, sides.dense.newState(1));
  const worst = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
  console.error(`check: last-token logits after a ${context}-token prefill, max |sparse − dense| ${worst.toExponential(2)}`);
  if (worst > 1e-4) throw new Error('sparse and dense compute disagree; timings would be meaningless');

  const t = { sparse: { prefill: [] as number[], decode: [] as number[] }, dense: { prefill: [] as number[], decode: [] as number[] } };
  for (let r = 0; r < rounds; r++) {
    for (const side of ['sparse', 'dense'] as const) {
      const lm = sides[side];
      const state = lm.newState(1);
      let t0 = performance.now();
      await prefill(lm, state);
      t[side].prefill.push(performance.now() - t0);
      for (let s = 0; s < steps; s++) {
        t0 = performance.now();
        await lm.forward(state, [[token(context + s, lm.vocab)]]);
        t[side].decode.push(performance.now() - t0);
      }
    }
  }
  const tps = (tokens: number, ms: number) => (tokens / ms) * 1000;
  const row = (what: string, tokens: number, xs: { sparse: number[]; dense: number[] }) => {
    const [s, d] = [median(xs.sparse), median(xs.dense)];
    const iqr = (v: number[]) => `${quantile(v, 0.25).toFixed(1)}–${quantile(v, 0.75).toFixed(1)} ms`;
    return `${what.padEnd(20)} sparse ${tps(tokens, s).toFixed(1).padStart(8)} tok/s (IQR ${iqr(xs.sparse)})   dense ${tps(tokens, d).toFixed(1).padStart(8)} tok/s (IQR ${iqr(xs.dense)})   sparse/dense ${(d / s).toFixed(2)}×`;
  };
  console.log(`${folder}: balmkit MoE compute, sparse (selected experts) vs dense (every expert); batch 1; ${threads} threads; ${rounds} rounds, interleaved`);
  console.log(row(`prefill ${context}`, context, { sparse: t.sparse.prefill, dense: t.dense.prefill }));
  console.log(row(`decode at ${context}`, 1, { sparse: t.sparse.decode, dense: t.dense.decode }));
  await sides.sparse.release();
  await sides.dense.release();
}

main().catch((e: unknown) => {
  console.error(`bench failed: ${(e as Error).message}`);
  process.exit(1);
});
