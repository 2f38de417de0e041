/**
 * Hugging Face tokenizers through @huggingface/tokenizers and chat templates through
 * @huggingface/jinja, on the hand-made Llama-style tokenizer of test/fixtures/llm/hf/llama_tied
 * (made by models/reference/make_llm_fixtures.py). Expected ids are worked out by hand from its
 * merges (ranks 1–9: ▁+h, e+l, ▁h+el, l+o, ▁+w, o+r, ▁w+or, l+d, ▁wor+ld):
 *   "hello world" → "▁hello▁world" → ▁ h e l l o ▁ w o r l d
 *   → ▁h e l l o … (1) → ▁h el l o (2) → ▁hel l o (3) → ▁hel lo (4)
 *   → ▁w (5) → or (6) → ▁wor (7) → ld (8) → ▁world (9)
 *   = <s> ▁hel lo ▁world = [1, 14, 13, 19]
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type CausalLM, HfTokenizer, type LlmServer, chatPromptTokens, generateTokens, loadModel, serve } from '../../src/llm/index.js';
import { fixture } from './helpers.js';

const folder = join(fixture('hf'), 'llama_tied');

describe('HF tokenizer.json and chat template', () => {
  const tok = HfTokenizer.fromPath(folder);

  test('encodes as worked out by hand, BOS from the post-processor', () => {
    expect(tok.encode('hello world')).toEqual([1, 14, 13, 19]);
    expect(tok.encode('hello world', { bos: false })).toEqual([14, 13, 19]);
    expect(tok.encode('hello world', { eos: true })).toEqual([1, 14, 13, 19, 2]);
    // "z" has no merges; the double space keeps a bare "▁"
    expect(tok.encode('hello  wd z')).toEqual([1, 14, 13, 3, 15, 10, 3, 40]);
    expect(tok.bos).toBe(1);
    expect(tok.eos).toEqual([2]);
  });

  test('decodes with the Llama decoder (▁ → space, leading space stripped, specials skipped)', () => {
    expect(tok.decode([1, 14, 13, 19])).toBe('hello world');
    // as Llama-2's own tokenizer decodes [<s>, ▁Hello] to "<s> Hello": specials are decoded apart from the text
    expect(tok.decode([1, 14, 13, 19], { skipSpecial: false })).toBe('<s> hello world');
  });

  test("the chat template renders through jinja: '<s><|user|>hello world</s><|assistant|>'", () => {
    expect(chatPromptTokens(tok, [{ role: 'user', content: 'hello world' }])).toEqual([1, 20, 14, 13, 19, 2, 21]);
  });
});

describe('an HF model folder with its tokenizer, served', () => {
  let lm: CausalLM;
  let srv: LlmServer;
  beforeAll(async () => {
    lm = await loadModel(folder, { ep: 'cpu', threads: 1 });
    srv = await serve(lm, 0);
  });
  afterAll(async () => {
    await srv.close();
  });

  test('chat uses the template; the reply equals generation from the templated tokens', async () => {
    expect(lm.tokenizer).toBeInstanceOf(HfTokenizer);
    const messages = [{ role: 'user', content: 'hello world' }];
    const r = await fetch(`${srv.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ messages, max_tokens: 6, temperature: 0 }) });
    const j = (await r.json()) as { choices: { message: { content: string }; finish_reason: string }[]; usage: { prompt_tokens: number; completion_tokens: number } };
    expect(r.status).toBe(200);
    expect(j.usage.prompt_tokens).toBe(7);
    const [g] = await generateTokens(lm, [[1, 20, 14, 13, 19, 2, 21]], { maxTokens: 6 });
    expect(j.choices[0].message.content).toBe(g.text);
    expect(j.usage.completion_tokens).toBe(g.tokens.length);
    expect(j.choices[0].finish_reason).toBe(g.finishReason);
  });
});
