/**
 * The text models trained here (models/text-small; models/text-moe-small once it ships) as a
 * user loads them: logits equal the PyTorch reference (models/reference/llm_reference.py) on
 * held-out text within 1e-4, in one prefill with a left-padded row, through the cache, and at the
 * end of a full 1,024-token context; the tokenizer.json gives SentencePiece's own ids on held-out
 * text and decodes back to it; `balmkit llm serve` answers the official openai client (chat, and
 * completions with logprobs). Fixtures: models/train/make-text-parity.py (pinned to the weights).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readSafetensors } from '../../src/io/safetensors.js';
import { type CausalLM, type LlmServer, loadModel, serve } from '../../src/llm/index.js';
import { ROOT } from '../cli/helpers.js';
import { fixture, maxAbsDiff } from './helpers.js';

const MODELS = ['text-small', 'text-moe-small'].filter((m) => existsSync(join(ROOT, 'models', m, 'model.safetensors')));
const REMAKE = (m: string) => `/usr/bin/python3 models/train/make-text-parity.py --model models/${m} --corpus /tmp/text-corpus`;

function rows(t: { data: unknown; shape: readonly number[] }): number[][] {
  const [B, S] = t.shape as [number, number];
  const d = t.data as BigInt64Array;
  return Array.from({ length: B }, (_, b) => Array.from(d.subarray(b * S, (b + 1) * S), Number));
}

describe.each(MODELS)('%s', (name) => {
  const folder = join(ROOT, 'models', name);
  const file = fixture(`${name}-parity.safetensors`);
  let lm: CausalLM;
  let f: Map<string, { data: unknown; shape: readonly number[] }>;
  beforeAll(async () => {
    lm = await loadModel(folder, { ep: 'cpu', threads: 2 });
    f = readSafetensors(file).tensors;
  });
  afterAll(async () => {
    await lm?.release();
  });

  test('the parity fixture is made from these weights', () => {
    const meta = readSafetensors(file).metadata ?? {};
    const sha = createHash('sha256')
      .update(readFileSync(join(folder, 'model.safetensors')))
      .digest('hex');
    expect(meta.weights_sha256, `the weights changed since the fixture was made: ${REMAKE(name)}`).toBe(sha);
  });

  test('logits equal the PyTorch reference (≤ 1e-4): prefill with a left-padded row, then the cache, then a full context', async () => {
    const ids = rows(f.get('short.input_ids')!);
    const mask = rows(f.get('short.attention_mask')!);
    const want = f.get('short.logits')!.data as Float32Array;
    const [B, S] = [ids.length, ids[0].length];
    const V = lm.vocab;
    const worstOver = (got: Float32Array, steps: number, from: number) => {
      let w = 0;
      for (let b = 0; b < B; b++) {
        for (let s = 0; s < steps; s++) {
          if (!mask[b][from + s]) continue;
          w = Math.max(w, maxAbsDiff(got.subarray((b * steps + s) * V, (b * steps + s + 1) * V), want.subarray((b * S + from + s) * V, (b * S + from + s + 1) * V)));
        }
      }
      return w;
    };
    const whole = await lm.forward(lm.newState(B), ids, mask);
    const prefillWorst = worstOver(whole.data, S, 0);
    const state = lm.newState(B);
    const cut = S - 6;
    let cachedWorst = worstOver(
      (
        await lm.forward(
          state,
          ids.map((r) => r.slice(0, cut)),
          mask.map((r) => r.slice(0, cut)),
        )
      ).data,
      cut,
      0,
    );
    for (let t = cut; t < S; t++)
      cachedWorst = Math.max(
        cachedWorst,
        worstOver(
          (
            await lm.forward(
              state,
              ids.map((r) => [r[t]]),
            )
          ).data,
          1,
          t,
        ),
      );
    const longIds = rows(f.get('long.input_ids')!);
    const longWant = f.get('long.logits')!.data as Float32Array;
    const long = await lm.forward(lm.newState(1), longIds, undefined, 4);
    const longWorst = maxAbsDiff(long.data, longWant);
    console.info(`${name} parity: max |Δlogit| prefill ${prefillWorst.toExponential(2)}, cached ${cachedWorst.toExponential(2)}, last 4 of ${longIds[0].length} ${longWorst.toExponential(2)}`);
    expect(prefillWorst).toBeLessThanOrEqual(1e-4);
    expect(cachedWorst).toBeLessThanOrEqual(1e-4);
    expect(longWorst).toBeLessThanOrEqual(1e-4);
    expect(lm.info.maxPositions).toBeGreaterThanOrEqual(1024);
  });

  test("tokenizer.json gives SentencePiece's ids on held-out text, and decodes back to it", () => {
    const text = Buffer.from(f.get('tokenizer.text')!.data as Uint8Array);
    const to = Array.from(f.get('tokenizer.text_offsets')!.data as BigInt64Array, Number);
    const ids = Array.from(f.get('tokenizer.ids')!.data as BigInt64Array, Number);
    const io = Array.from(f.get('tokenizer.id_offsets')!.data as BigInt64Array, Number);
    const tok = lm.requireTokenizer();
    for (let d = 0; d + 1 < to.length; d++) {
      const doc = text.subarray(to[d], to[d + 1]).toString('utf8');
      const got = tok.encode(doc, { bos: false });
      expect(got, `held-out document ${d}`).toEqual(ids.slice(io[d], io[d + 1]));
      expect(tok.decode(got)).toBe(doc);
    }
  });
});

describe.runIf(MODELS.includes('text-small'))('balmkit llm serve --model models/text-small, with the official openai client', () => {
  let lm: CausalLM;
  let srv: LlmServer;
  let client: OpenAI;
  beforeAll(async () => {
    lm = await loadModel(join(ROOT, 'models', 'text-small'), { ep: 'cpu', threads: 2 });
    srv = await serve(lm, 0, { modelName: 'text-small' });
    client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'none', maxRetries: 0 });
  });
  afterAll(async () => {
    await srv?.close();
    await lm?.release();
  });

  test('chat and completions with logprobs', async () => {
    const chat = await client.chat.completions.create({ model: 'text-small', messages: [{ role: 'user', content: 'What does the json module do?' }], max_tokens: 12, temperature: 0 });
    expect(chat.choices[0].message.content!.length).toBeGreaterThan(0);
    const c = await client.completions.create({ model: 'text-small', prompt: 'The json module', max_tokens: 8, temperature: 0, logprobs: 3, echo: true });
    const lp = c.choices[0].logprobs!;
    expect(lp.token_logprobs![0]).toBeNull(); // the first prompt token has no context
    expect(lp.token_logprobs!.slice(1).every((x) => x !== null && x <= 0)).toBe(true);
    expect(c.choices[0].text.startsWith('The json module')).toBe(true);
  });
});
