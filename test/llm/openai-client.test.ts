/**
 * `balmkit llm serve` as the official `openai` npm client sees it, over real HTTP on 127.0.0.1:
 * a prompt plus max_tokens beyond the context is a 400 naming the limit (vLLM's rule, not a silent
 * cut), a body over the server's limit is a 413 the client receives, and /v1/embeddings answers
 * in OpenAI's shape (the client asks for base64 and decodes it). The model is the tiny Llama
 * fixture with its own tokenizer (test/fixtures/llm/hf/llama_tied, tied embeddings): the mean of
 * the last hidden state times the embedding matrix must equal the mean of the logits (the logits
 * are held to PyTorch's by test/llm/hf.test.ts), which checks the embedding independently.
 */
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readWeights } from '../../src/io/weights.js';
import { toFloat32 } from '../../src/io/tensor.js';
import { type CausalLM, type LlmServer, loadModel, serve } from '../../src/llm/index.js';
import { balmkit, ensureBuilt } from '../cli/helpers.js';
import { fixture } from './helpers.js';

const folder = join(fixture('hf'), 'llama_tied');

describe('the official openai client against balmkit llm serve', () => {
  let lm: CausalLM;
  let srv: LlmServer;
  let client: OpenAI;
  beforeAll(async () => {
    lm = await loadModel(folder, { ep: 'cpu', threads: 1 });
    srv = await serve(lm, 0, { modelName: 'tiny', maxBodyBytes: 4096 });
    client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'none', maxRetries: 0, timeout: 20_000 });
  });
  afterAll(async () => {
    await srv?.close();
    await lm?.release();
  });

  test('chat and completions answer (context 64 tokens)', async () => {
    const chat = await client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'hello world' }], max_tokens: 4, temperature: 0 });
    expect(chat.choices[0].message.role).toBe('assistant');
    expect(chat.usage!.completion_tokens).toBeLessThanOrEqual(4);
    const c = await client.completions.create({ model: 'tiny', prompt: 'hello world', max_tokens: 3, temperature: 0, logprobs: 2 });
    expect(c.choices[0].logprobs!.token_logprobs!.length).toBe(c.usage!.completion_tokens);
  });

  test('max_tokens beyond the context is a 400 that names the limit', async () => {
    const err = await client.completions.create({ model: 'tiny', prompt: 'hello world', max_tokens: 1000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const e = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/maximum context length is 64 tokens\. However, you requested 1004 tokens \(4 in the prompt, 1000 in the completion\)/);
    expect(e.param).toBe('max_tokens');
    expect(e.code).toBe('context_length_exceeded');
    const chat = await client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'hello' }], max_tokens: 64 }).catch((x: unknown) => x);
    expect((chat as { status?: number }).status).toBe(400);
  });

  test('a body over the limit is a 413 the client receives (not a hang or a reset)', async () => {
    const t0 = Date.now();
    const err = await client.completions.create({ model: 'tiny', prompt: 'hello '.repeat(2000), max_tokens: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(413);
    expect((err as Error).message).toMatch(/larger than the server's limit of 4096 bytes/);
    expect(Date.now() - t0).toBeLessThan(15_000);
    // The server still answers afterwards.
    expect((await client.models.list()).data[0].id).toBe('tiny');
  });

  test('/v1/embeddings: one vector per input, the mean last hidden state (checked against the logits)', async () => {
    const inputs = ['hello world', 'hello'];
    const r = await client.embeddings.create({ model: 'tiny', input: inputs });
    expect(r.object).toBe('list');
    expect(r.data.map((d) => d.index)).toEqual([0, 1]);
    const hidden = lm.info.decoder.hidden;
    for (const d of r.data) expect(d.embedding).toHaveLength(hidden);
    const tok = lm.requireTokenizer();
    const ids = inputs.map((s) => tok.encode(s));
    expect(r.usage.prompt_tokens).toBe(ids[0].length + ids[1].length);
    // Tied embeddings: logits = hidden · Eᵀ, so mean(logits) = mean(hidden) · Eᵀ.
    const E = toFloat32(readWeights(folder).get('model.embed_tokens.weight')!);
    for (const [k, seq] of ids.entries()) {
      const out = await lm.forward(lm.newState(1), [seq], undefined, 0);
      const logits = out.data;
      const vocab = lm.vocab;
      let worst = 0;
      for (let v = 0; v < vocab; v++) {
        let mean = 0;
        for (let s = 0; s < seq.length; s++) mean += logits[s * vocab + v] / seq.length;
        let dot = 0;
        for (let j = 0; j < hidden; j++) dot += r.data[k].embedding[j] * E[v * hidden + j];
        worst = Math.max(worst, Math.abs(dot - mean));
      }
      expect(worst).toBeLessThan(1e-4);
    }
    // float format gives the same numbers as base64 (what the client asked for).
    const f = await client.embeddings.create({ model: 'tiny', input: 'hello', encoding_format: 'float' });
    expect(f.data[0].embedding.map((x) => Math.fround(x))).toEqual(r.data[1].embedding.map((x) => Math.fround(x)));
    const long = await client.embeddings.create({ model: 'tiny', input: 'hello '.repeat(100) }).catch((e: unknown) => e);
    expect((long as { status?: number }).status).toBe(400);
  });
});

describe('balmkit llm serve --help', () => {
  beforeAll(() => ensureBuilt());
  test('gives the port default, lists the endpoints and has no --json', () => {
    const r = balmkit(['llm', 'serve', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--port <p> .*\[default: 8000\]/);
    expect(r.stdout).toContain('POST /v1/embeddings');
    expect(r.stdout).not.toMatch(/--json/);
  });
});
