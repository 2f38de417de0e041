/**
 * The llama2.c checkpoint ../shared/data/lm/aidreams260K.bin (a real trained model) and its
 * tokenizer tok512.bin against karpathy/llama2.c run.c's own outputs (test/fixtures/llm/
 * llama2c_runc.*, made by models/reference/llm_runc_fixture.py): encodings of 20 texts,
 * teacher-forced logits along 5 texts (≤ 1e-4), greedy generation for 100 steps, and run.c's
 * sampler (temperature, top-p, seed) for 100 steps.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, test } from 'vitest';
import { readSafetensors } from '../../src/io/safetensors.js';
import { type CausalLM, Llama2cTokenizer, generate, loadModel, logitsAt } from '../../src/llm/index.js';
import { AIDREAMS, TOK512, fixture, maxAbsDiff, SHARED_LM } from './helpers.js';
import { requireGates } from '../shared-data.js';

interface RuncFixture {
  encode: { text: string; tokens: number[] }[];
  logits: { text: string; rows: number; tensor: string }[];
  greedy: { prompt: string; prompt_tokens: number[]; generated: number[]; text: string }[];
  sampled: { prompt: string; temperature: number; top_p: number; seed: number; prompt_tokens: number[]; generated: number[]; text: string }[];
}

const expected = JSON.parse(readFileSync(fixture('llama2c_runc.json'), 'utf8')) as RuncFixture & {
  tiny_unshared: { checkpoint: string; ids: number[]; tensor: string };
};

describe('a llama2.c checkpoint with a negative vocab size (own classifier) and grouped KV heads', () => {
  test("logits equal run.c's forward (≤ 1e-4), reading the classifier after the unused freq_cis tables", async () => {
    const t = expected.tiny_unshared;
    const lm = await loadModel(fixture(t.checkpoint), { tokenizer: false, ep: 'cpu', threads: 1 });
    expect(lm.info.decoder).toMatchObject({ vocab: 32, hidden: 16, heads: 4, kvHeads: 2, tiedEmbeddings: false });
    const want = readSafetensors(fixture('llama2c_runc_logits.safetensors')).tensors.get(t.tensor)!.data as Float32Array;
    const got = await lm.forward(lm.newState(1), [t.ids]);
    expect(maxAbsDiff(got.data, want)).toBeLessThanOrEqual(1e-4);
    await lm.release();
  });
});

describe('llama2.c aidreams260K against run.c', () => {
  requireGates(SHARED_LM);
  let lm: CausalLM;
  let tok: Llama2cTokenizer;
  beforeAll(async () => {
    if (!SHARED_LM.present()) return;
    lm = await loadModel(AIDREAMS, { tokenizer: TOK512, ep: 'cpu', threads: 2 });
    tok = lm.tokenizer as Llama2cTokenizer;
  });

  test('the header and tokenizer read as run.c reads them', () => {
    expect(lm.info.decoder).toMatchObject({ vocab: 512, hidden: 64, layers: 4, heads: 4, kvHeads: 4, ffn: 172, tiedEmbeddings: true });
    expect(lm.info.maxPositions).toBe(128);
    expect(tok.vocabSize).toBe(512);
  });

  test('encodings of 20 texts equal run.c encode(text, bos=1, eos=0)', () => {
    expect(expected.encode).toHaveLength(20);
    for (const { text, tokens } of expected.encode) expect(tok.encode(text), JSON.stringify(text)).toEqual(tokens);
  });

  test('teacher-forced logits along 5 texts match run.c forward() to 1e-4 (one prefill, and token by token)', async () => {
    const ref = readSafetensors(fixture('llama2c_runc_logits.safetensors')).tensors;
    expect(expected.logits).toHaveLength(5);
    for (const { text, rows, tensor } of expected.logits) {
      const ids = tok.encode(text);
      expect(ids).toHaveLength(rows);
      const want = ref.get(tensor)!.data as Float32Array;
      const whole = await lm.forward(lm.newState(1), [ids]);
      expect(maxAbsDiff(whole.data, want), text).toBeLessThanOrEqual(1e-4);
      const k = Math.min(3, ids.length);
      const tail = await lm.forward(lm.newState(1), [ids], undefined, k); // logits_to_keep: the last k rows only
      expect(tail.sequence).toBe(k);
      expect(maxAbsDiff(tail.data, want.subarray((ids.length - k) * 512)), text).toBeLessThanOrEqual(1e-4);
      const state = lm.newState(1);
      let worst = 0;
      for (let p = 0; p < ids.length; p++) {
        const step = await lm.forward(state, [[ids[p]]]);
        worst = Math.max(worst, maxAbsDiff(logitsAt(step, 0, 0), want.subarray(p * 512, (p + 1) * 512)));
      }
      expect(worst, text).toBeLessThanOrEqual(1e-4);
    }
  });

  test('greedy generation equals run.c for 100 steps (3 prompts, one batch with left padding)', async () => {
    const out = await generate(
      lm,
      expected.greedy.map((g) => g.prompt),
      { maxTokens: 100, temperature: 0 },
    );
    expected.greedy.forEach((g, i) => {
      expect(out[i].promptTokens).toEqual(g.prompt_tokens);
      expect(out[i].tokens).toEqual(g.generated);
      expect(out[i].tokens).toHaveLength(100);
      expect(out[i].text).toBe(g.text);
    });
  });

  test("run.c's sampler: same seed, temperature and top-p give the same 100 tokens", async () => {
    for (const s of expected.sampled) {
      const [out] = await generate(lm, s.prompt, { maxTokens: 100, temperature: s.temperature, topP: s.top_p, seed: s.seed });
      expect(out.tokens, `T=${s.temperature} p=${s.top_p} seed=${s.seed}`).toEqual(s.generated);
    }
  });
});
