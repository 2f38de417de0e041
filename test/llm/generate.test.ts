/**
 * Generation options, log-probabilities and perplexity on the llama2.c aidreams260K model:
 * stop strings (text cut before them, never streamed), EOS, max tokens, top-k / top-p with seeds,
 * streamed text equal to the final text; logprobs() against run.c's logits (independent), the
 * same whatever the chunk size; perplexity's sliding window against windows scored by hand.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, test } from 'vitest';
import { readSafetensors } from '../../src/io/safetensors.js';
import { type CausalLM, generate, generateTokens, loadModel, logprobs, perplexity } from '../../src/llm/index.js';
import { AIDREAMS, TOK512, fixture, SHARED_LM } from './helpers.js';
import { requireGates } from '../shared-data.js';

describe('generation, logprobs and perplexity (aidreams260K)', () => {
  requireGates(SHARED_LM);
  let lm: CausalLM;
  beforeAll(async () => {
    if (!SHARED_LM.present()) return;
    lm = await loadModel(AIDREAMS, { tokenizer: TOK512, ep: 'cpu', threads: 2 });
  });

  test('a stop string cuts the text before it, ends with "stop", and is never streamed', async () => {
    const [full] = await generate(lm, 'Once upon a time', { maxTokens: 60 });
    const stop = full.text.slice(20, 26);
    const at = full.text.indexOf(stop);
    let streamed = '';
    const [g] = await generate(lm, 'Once upon a time', { maxTokens: 60, stop: [stop, 'never appears'], onText: (p) => (streamed += p) });
    expect(g.text).toBe(full.text.slice(0, at));
    expect(g.finishReason).toBe('stop');
    expect(streamed).toBe(g.text);
    expect(g.tokens.length).toBeLessThan(60);
  });

  test('max tokens ends with "length"; streamed pieces join to the text', async () => {
    let streamed = '';
    const tokens: number[] = [];
    const [g] = await generate(lm, 'The dream', { maxTokens: 15, temperature: 0.7, topK: 20, seed: 9, onText: (p) => (streamed += p), onToken: (t) => tokens.push(t) });
    expect(g.tokens).toHaveLength(15);
    expect(tokens).toEqual(g.tokens);
    expect(g.finishReason).toBe('length');
    expect(streamed).toBe(g.text);
  });

  test('an end-of-sequence id ends generation with "stop" and is not returned', async () => {
    const [free] = await generate(lm, 'Once upon a time', { maxTokens: 30 });
    const eosLike = free.tokens[10]; // make the 11th greedy token count as EOS
    const stopIds = new Set([...lm.stopIds]);
    lm.info.eos.push(eosLike);
    try {
      const [g] = await generate(lm, 'Once upon a time', { maxTokens: 30 });
      expect(g.tokens).toEqual(free.tokens.slice(0, free.tokens.indexOf(eosLike)));
      expect(g.finishReason).toBe('stop');
    } finally {
      lm.info.eos.pop();
    }
    expect(lm.stopIds).toEqual(stopIds);
  });

  test('sampling: same seed same tokens, another seed other tokens, top-k 1 is greedy', async () => {
    const opts = { maxTokens: 30, temperature: 1, topP: 0.95 };
    const [a] = await generate(lm, 'The dream', { ...opts, seed: 11 });
    const [b] = await generate(lm, 'The dream', { ...opts, seed: 11 });
    const [c] = await generate(lm, 'The dream', { ...opts, seed: 12 });
    expect(a.tokens).toEqual(b.tokens);
    expect(a.tokens).not.toEqual(c.tokens);
    const [greedy] = await generate(lm, 'The dream', { maxTokens: 30 });
    const [k1] = await generate(lm, 'The dream', { maxTokens: 30, temperature: 1.5, topK: 1, seed: 3 });
    expect(k1.tokens).toEqual(greedy.tokens);
  });

  test("logprobs() equals log-softmax of run.c's logits, whatever the chunk size", async () => {
    const runc = JSON.parse(readFileSync(fixture('llama2c_runc.json'), 'utf8')) as { logits: { text: string; tensor: string }[] };
    const item = runc.logits[1];
    const ref = readSafetensors(fixture('llama2c_runc_logits.safetensors')).tensors.get(item.tensor)!.data as Float32Array;
    const ids = lm.requireTokenizer().encode(item.text);
    const a = await logprobs(lm, ids, { top: 3 });
    const b = await logprobs(lm, ids, { chunk: 5 });
    expect(a[0]).toBeNull();
    let worst = 0;
    for (let p = 1; p < ids.length; p++) {
      const row = Array.from(ref.subarray((p - 1) * 512, p * 512));
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
      worst = Math.max(worst, Math.abs(a[p]!.logprob - (row[ids[p]] - lse)));
      expect(a[p]!.rank).toBe(1 + row.filter((x) => x > row[ids[p]]).length);
      expect(a[p]!.top!.map((t) => t.token)[0]).toBe(row.indexOf(max));
      expect(Math.abs(b[p]!.logprob - a[p]!.logprob)).toBeLessThan(1e-5);
    }
    expect(worst).toBeLessThanOrEqual(1e-4);
  });

  test('generation logprobs equal logprobs() over prompt + generated tokens', async () => {
    const prompt = lm.requireTokenizer().encode('The dream');
    const [g] = await generateTokens(lm, [prompt], { maxTokens: 10, temperature: 0.9, seed: 4, logprobs: 2 });
    const all = await logprobs(lm, [...prompt, ...g.tokens]);
    g.logprobs!.forEach((lp, i) => {
      expect(Math.abs(lp.logprob - all[prompt.length + i]!.logprob)).toBeLessThan(1e-4);
      expect(lp.top).toHaveLength(2);
    });
  });

  test('perplexity with a sliding window scores each token once, with the context its window gives', async () => {
    const tok = lm.requireTokenizer();
    const ids = tok.encode('The lights flicker in the server room while the network hums softly. '.repeat(3));
    expect(ids.length).toBeGreaterThan(60);
    const window = 24;
    const stride = 10;
    const r = await perplexity(lm, ids, { window, stride });
    // by hand: window k covers [10k, 10k + 24) and scores the tokens after the previous window's end
    let nll = 0;
    let count = 0;
    let done = 1;
    for (let begin = 0; done < ids.length; begin += stride) {
      const end = Math.min(begin + window, ids.length);
      const lp = await logprobs(lm, ids.slice(begin, end));
      for (let i = Math.max(done, begin + 1); i < end; i++) {
        nll -= lp[i - begin]!.logprob;
        count++;
      }
      done = end;
    }
    expect(r.count).toBe(ids.length - 1);
    expect(count).toBe(ids.length - 1);
    expect(Math.abs(r.nll - nll)).toBeLessThan(1e-9);
    const whole = await perplexity(lm, ids.slice(0, 100));
    const direct = (await logprobs(lm, ids.slice(0, 100))).slice(1).reduce((s, x) => s - x!.logprob, 0);
    expect(Math.abs(whole.nll - direct)).toBeLessThan(1e-9);
    expect(r.perplexity).not.toBe(whole.perplexity);
  });
});
