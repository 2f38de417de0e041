/**
 * The OpenAI-compatible server over the llama2.c aidreams260K model, from a real HTTP client
 * (fetch) on 127.0.0.1: models, completions, chat (plain template), echo + logprobs and vLLM's
 * prompt_logprobs (equal to logprobs()), SSE streaming, OpenAI-shaped errors after which the
 * server keeps serving, and concurrent requests.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type CausalLM, type LlmServer, generate, generateTokens, loadModel, logprobs, plainChatPrompt, serve } from '../../src/llm/index.js';
import { AIDREAMS, TOK512, SHARED_LM } from './helpers.js';
import { requireGates } from '../shared-data.js';

interface Completion {
  choices: {
    text: string;
    finish_reason: string;
    logprobs: { tokens: string[]; token_logprobs: (number | null)[]; top_logprobs: (Record<string, number> | null)[]; text_offset: number[] } | null;
    prompt_logprobs?: (Record<string, { logprob: number; rank: number; decoded_token: string }> | null)[];
  }[];
  usage: { prompt_tokens: number; completion_tokens: number };
}

describe('balmkit llm serve (OpenAI-compatible)', () => {
  requireGates(SHARED_LM);
  let lm: CausalLM;
  let srv: LlmServer;
  const post = async (path: string, body: unknown) => {
    const r = await fetch(`${srv.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    return { status: r.status, json: (await r.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    if (!SHARED_LM.present()) return;
    lm = await loadModel(AIDREAMS, { tokenizer: TOK512, ep: 'cpu', threads: 2 });
    srv = await serve(lm, 0, { modelName: 'aidreams' });
  });
  afterAll(async () => {
    await srv?.close();
  });

  test('GET /v1/models', async () => {
    const r = await fetch(`${srv.url}/v1/models`);
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ object: 'list', data: [{ id: 'aidreams', object: 'model' }] });
  });

  test('completions: greedy text equals generate()', async () => {
    const { status, json } = await post('/v1/completions', { model: 'aidreams', prompt: 'Once upon a time', max_tokens: 20, temperature: 0 });
    expect(status).toBe(200);
    const [g] = await generate(lm, 'Once upon a time', { maxTokens: 20 });
    const c = json as unknown as Completion;
    expect(c.choices[0].text).toBe(g.text);
    expect(c.choices[0].finish_reason).toBe('length');
    expect(c.usage).toEqual({ prompt_tokens: g.promptTokens.length, completion_tokens: 20, total_tokens: g.promptTokens.length + 20 });
  });

  test('chat: the plain template, greedy, equals generate() on the same prompt', async () => {
    const messages = [{ role: 'user', content: 'Tell me a dream.' }];
    const { status, json } = await post('/v1/chat/completions', { messages, max_tokens: 12, temperature: 0 });
    expect(status).toBe(200);
    const [g] = await generate(lm, plainChatPrompt(messages), { maxTokens: 12 });
    expect(json).toMatchObject({ object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: g.text } }] });
  });

  test('echo + logprobs: the prompt scored as logprobs() scores it, then the completion', async () => {
    const text = 'The lights flicker in the server room';
    const { json } = await post('/v1/completions', { prompt: text, max_tokens: 3, temperature: 0, echo: true, logprobs: 2 });
    const lp = (json as unknown as Completion).choices[0].logprobs!;
    const ids = lm.requireTokenizer().encode(text);
    const ref = await logprobs(lm, ids, { top: 2 });
    expect(lp.tokens).toHaveLength(ids.length + 3);
    expect(lp.token_logprobs[0]).toBeNull();
    expect(lp.top_logprobs[0]).toBeNull();
    for (let i = 1; i < ids.length; i++) {
      expect(lp.token_logprobs[i]).toBeCloseTo(ref[i]!.logprob, 10);
      expect(Object.keys(lp.top_logprobs[i]!)).toHaveLength(2);
    }
    const [g] = await generateTokens(lm, [ids], { maxTokens: 3, logprobs: 0 });
    expect(lp.token_logprobs.slice(ids.length)).toEqual(g.logprobs!.map((x) => x.logprob));
    expect((json as unknown as Completion).choices[0].text).toBe(lm.requireTokenizer().decode(ids) + g.text);
  });

  test('vLLM prompt_logprobs: null first, then {token_id: {logprob, rank, decoded_token}} equal to logprobs()', async () => {
    const ids = lm.requireTokenizer().encode('naïve café dreams');
    const { status, json } = await post('/v1/completions', { prompt: ids, max_tokens: 1, temperature: 0, prompt_logprobs: 1 });
    expect(status).toBe(200);
    const plp = (json as unknown as Completion).choices[0].prompt_logprobs!;
    const ref = await logprobs(lm, ids, { top: 1 });
    expect(plp).toHaveLength(ids.length);
    expect(plp[0]).toBeNull();
    for (let i = 1; i < ids.length; i++) {
      const entry = plp[i]![String(ids[i])];
      expect(entry.logprob).toBe(ref[i]!.logprob);
      expect(entry.rank).toBe(ref[i]!.rank);
      expect(typeof entry.decoded_token).toBe('string');
      expect(Object.keys(plp[i]!).length).toBeLessThanOrEqual(2);
    }
  });

  test('streaming: SSE chunks join to the non-streamed text and end with [DONE]', async () => {
    const body = { prompt: 'The dream', max_tokens: 30, temperature: 0.8, seed: 5, stream: true };
    const r = await fetch(`${srv.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(r.headers.get('content-type')).toBe('text/event-stream');
    const events = (await r.text())
      .split('\n\n')
      .filter((e) => e.startsWith('data: '))
      .map((e) => e.slice(6));
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as { choices: { text: string; finish_reason: string | null }[] });
    expect(chunks.length).toBeGreaterThan(2);
    const streamed = chunks.map((c) => c.choices[0].text).join('');
    const { json } = await post('/v1/completions', { ...body, stream: false });
    expect(streamed).toBe((json as unknown as Completion).choices[0].text);
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('length');

    const rc = await fetch(`${srv.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 8, stream: true }),
    });
    const chat = (await rc.text())
      .split('\n\n')
      .filter((e) => e.startsWith('data: '))
      .map((e) => e.slice(6));
    expect(chat.at(-1)).toBe('[DONE]');
    expect(JSON.parse(chat[0])).toMatchObject({ object: 'chat.completion.chunk', choices: [{ delta: { role: 'assistant' } }] });
  });

  test('malformed bodies get 400 in OpenAI shape, and the server keeps serving', async () => {
    const bad = await post('/v1/completions', '{"prompt": "x", ');
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ error: { type: 'invalid_request_error', message: expect.stringContaining('not valid JSON') } });
    const wrong = await post('/v1/completions', { prompt: 'x', max_tokens: -3 });
    expect(wrong.status).toBe(400);
    expect(wrong.json).toMatchObject({ error: { type: 'invalid_request_error', param: 'max_tokens' } });
    const noMsgs = await post('/v1/chat/completions', { messages: 'hello' });
    expect(noMsgs.json).toMatchObject({ error: { param: 'messages' } });
    const model = await post('/v1/completions', { model: 'gpt-4', prompt: 'x' });
    expect(model.status).toBe(404);
    expect(model.json).toMatchObject({ error: { code: 'model_not_found' } });
    const streamEcho = await post('/v1/completions', { prompt: 'x', stream: true, echo: true });
    expect(streamEcho.status).toBe(400);
    expect(streamEcho.json).toMatchObject({ error: { param: 'echo' } });
    const route = await post('/v1/audio/speech', { input: 'x' });
    expect(route.status).toBe(404);
    expect(route.json).toMatchObject({ error: { code: 'not_found' } });
    const ok = await post('/v1/completions', { prompt: 'still here', max_tokens: 2 });
    expect(ok.status).toBe(200);
  });

  test('past the queue bound a request gets 429 in OpenAI shape; the running one completes', async () => {
    const tight = await serve(lm, 0, { concurrency: 1, queue: 0 });
    try {
      const send = () => fetch(`${tight.url}/v1/completions`, { method: 'POST', body: JSON.stringify({ prompt: 'Once upon a time', max_tokens: 100, temperature: 0 }) });
      const rs = await Promise.all([send(), send()]);
      const statuses = rs.map((r) => r.status).sort();
      expect(statuses).toEqual([200, 429]);
      const busy = rs.find((r) => r.status === 429)!;
      expect(await busy.json()).toMatchObject({ error: { type: 'rate_limit_error' } });
    } finally {
      await tight.close();
    }
  });

  test('two concurrent requests both complete', async () => {
    const [a, b] = await Promise.all([
      post('/v1/completions', { prompt: 'Once upon a time', max_tokens: 15, temperature: 0 }),
      post('/v1/chat/completions', { messages: [{ role: 'user', content: 'A dream?' }], max_tokens: 15, temperature: 0 }),
    ]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect((a.json as unknown as Completion).usage.completion_tokens).toBe(15);
  });
});
