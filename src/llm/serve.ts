/**
 * An OpenAI-compatible HTTP server for one loaded model, on 127.0.0.1:
 *
 * - `GET /v1/models`
 * - `POST /v1/completions`: `prompt` (text or token ids, one or a list), `max_tokens`,
 *   `temperature`, `top_p`, `top_k`, `seed`, `stop`, `stream`; OpenAI's `echo` + `logprobs`
 *   (`tokens`, `token_logprobs`, `top_logprobs`, `text_offset`, prompt tokens included when
 *   echoing) and vLLM's `prompt_logprobs` (per prompt token: `null` first, then
 *   `{token_id: {logprob, rank, decoded_token}}` for the token and the top alternatives).
 * - `POST /v1/chat/completions`: `messages`, with the model's chat template or the plain one
 *   (see chat.ts); `stream`.
 * - `POST /v1/embeddings`: `input` (text or token ids, one or a list), `encoding_format`
 *   (`float` or `base64`, little-endian float32 as OpenAI sends it); each embedding is the mean over
 *   the input's tokens of the model's last hidden state (after the final norm).
 *
 * A prompt plus `max_tokens` beyond the model's context is refused with 400, as vLLM does (not
 * cut short); `max_tokens` defaults to 16 for completions and to the rest of the context for chat.
 * A body over the limit gets 413 (from its Content-Length, before it is read).
 *
 * Bodies are validated with zod; any error is answered in OpenAI's shape
 * `{"error": {"message", "type", "param", "code"}}`. Requests run at most `concurrency` at a time;
 * up to `queue` more wait, beyond that the answer is 429.
 */
import { randomUUID } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { chatPromptTokens } from './chat.js';
import { generateTokens } from './generate.js';
import type { CausalLM } from './model.js';
import { type TokenLogprob, logprobs } from './score.js';
import { zodProblem } from '../util/zod.js';

export interface ServeOptions {
  /** The model id reported and accepted (default: the model's path). */
  modelName?: string;
  /** Requests computed at once (default 1: one session, the CPU is shared anyway). */
  concurrency?: number;
  /** Requests allowed to wait (default 32); more get 429. */
  queue?: number;
  /** Largest request body in bytes (default 1 MiB). */
  maxBodyBytes?: number;
}

/** An error answered in OpenAI's shape. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

const stop = z.union([z.string(), z.array(z.string()).max(8)]).nullish();
const common = {
  model: z.string().optional(),
  max_tokens: z.number().int().min(0).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  top_k: z.number().int().min(-1).nullish(),
  seed: z.number().int().nullish(),
  stop,
  stream: z.boolean().nullish(),
  n: z.literal(1, { error: 'only n = 1 is supported' }).nullish(),
  user: z.string().optional(),
};
const tokenList = z.array(z.number().int().min(0)).min(1);
export const completionBody = z.looseObject({
  ...common,
  prompt: z.union([z.string(), z.array(z.string()).min(1), tokenList, z.array(tokenList).min(1)]),
  echo: z.boolean().nullish(),
  logprobs: z.number().int().min(0).max(20).nullish(),
  prompt_logprobs: z.number().int().min(0).max(20).nullish(),
});
export const embeddingBody = z.looseObject({
  model: z.string().optional(),
  input: z.union([z.string(), z.array(z.string()).min(1), tokenList, z.array(tokenList).min(1)]),
  encoding_format: z.enum(['float', 'base64']).nullish(),
  dimensions: z.number().int().min(1).nullish(),
  user: z.string().optional(),
});
export const chatBody = z.looseObject({
  ...common,
  messages: z.array(z.looseObject({ role: z.string(), content: z.string() })).min(1),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
});

type CompletionBody = z.output<typeof completionBody>;
type ChatBody = z.output<typeof chatBody>;
type EmbeddingBody = z.output<typeof embeddingBody>;

function parse<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const p = zodProblem(r.error);
  const param = p.path || null;
  throw new ApiError(400, `${param ? `'${param}': ` : ''}${p.message}`, 'invalid_request_error', param);
}

/** Bounded concurrency with a bounded wait queue. */
class Gate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(
    private readonly limit: number,
    private readonly queue: number,
  ) {}

  async run<T>(f: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) {
      if (this.waiting.length >= this.queue) throw new ApiError(429, `the server is busy (${this.running} running, ${this.waiting.length} waiting); retry later`, 'rate_limit_error');
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.running++;
    try {
      return await f();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

/** A running server. */
export interface LlmServer {
  server: Server;
  /** The port it listens on. */
  port: number;
  url: string;
  close(): Promise<void>;
}

/** Starts the server on 127.0.0.1:`port` (0: any free port). */
export async function serve(lm: CausalLM, port: number, options: ServeOptions = {}): Promise<LlmServer> {
  const tok = lm.requireTokenizer();
  const name = options.modelName ?? lm.info.source;
  const gate = new Gate(options.concurrency ?? 1, options.queue ?? 32);
  const maxBody = options.maxBodyBytes ?? 1 << 20;
  const created = Math.floor(Date.now() / 1000);

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => sendError(res, err));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/v1/models') {
      if (req.method !== 'GET') throw new ApiError(405, `${req.method} ${path}: use GET`);
      return sendJson(res, 200, { object: 'list', data: [{ id: name, object: 'model', created, owned_by: 'balmkit' }] });
    }
    if (!ROUTES.includes(path)) throw new ApiError(404, `no route ${req.method} ${path} (try /v1/models, ${ROUTES.join(', ')})`, 'invalid_request_error', null, 'not_found');
    if (req.method !== 'POST') throw new ApiError(405, `${req.method} ${path}: use POST`);
    const raw = await readBody(req, maxBody);
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch (err) {
      throw new ApiError(400, `the body is not valid JSON: ${(err as Error).message}`);
    }
    if (path === '/v1/completions') {
      const b = parse(completionBody, body);
      checkModel(b.model);
      return gate.run(() => completions(b, res));
    }
    if (path === '/v1/embeddings') {
      const b = parse(embeddingBody, body);
      checkModel(b.model);
      return gate.run(() => embeddings(b, res));
    }
    const b = parse(chatBody, body);
    checkModel(b.model);
    return gate.run(() => chat(b, res));
  }

  function checkModel(m: string | undefined): void {
    if (m !== undefined && m !== name) throw new ApiError(404, `model '${m}' is not served here (this server has '${name}')`, 'invalid_request_error', 'model', 'model_not_found');
  }

  function sampling(b: CompletionBody | ChatBody, maxTokens: number) {
    return {
      maxTokens,
      temperature: b.temperature ?? 1,
      topP: b.top_p ?? 1,
      topK: b.top_k && b.top_k > 0 ? b.top_k : 0,
      ...(b.seed !== null && b.seed !== undefined ? { seed: b.seed } : {}),
      stop: b.stop === null || b.stop === undefined ? [] : typeof b.stop === 'string' ? [b.stop] : b.stop,
    };
  }

  function promptIds(p: CompletionBody['prompt']): number[][] {
    const enc = (s: string) => tok.encode(s); // the tokenizer's default special tokens, as vLLM does
    const check = (ids: number[]) => {
      const bad = ids.find((t) => t >= lm.vocab);
      if (bad !== undefined) throw new ApiError(400, `prompt token id ${bad} is outside the vocabulary (0…${lm.vocab - 1})`, 'invalid_request_error', 'prompt');
      return ids;
    };
    if (typeof p === 'string') return [enc(p)];
    if (p.length > 0 && typeof p[0] === 'number') return [check(p as number[])];
    return (p as (string | number[])[]).map((x) => (typeof x === 'string' ? enc(x) : check(x)));
  }

  /** vLLM's rule: prompt + max_tokens must fit the context, else 400 naming both (nothing is cut short). */
  function contextCheck(ids: number[], maxTokens: number, param: 'prompt' | 'messages' | 'input'): void {
    const ctx = lm.info.maxPositions;
    if (ids.length > ctx) {
      throw new ApiError(400, `This model's maximum context length is ${ctx} tokens; the ${param} has ${ids.length} tokens. Shorten it.`, 'invalid_request_error', param, 'context_length_exceeded');
    }
    if (ids.length + maxTokens > ctx) {
      throw new ApiError(
        400,
        `This model's maximum context length is ${ctx} tokens. However, you requested ${ids.length + maxTokens} tokens (${ids.length} in the ${param}, ${maxTokens} in the completion). Reduce max_tokens to at most ${ctx - ids.length}, or shorten the ${param}.`,
        'invalid_request_error',
        'max_tokens',
        'context_length_exceeded',
      );
    }
  }

  async function completions(b: CompletionBody, res: ServerResponse): Promise<void> {
    const prompts = promptIds(b.prompt);
    const s = sampling(b, b.max_tokens ?? 16);
    prompts.forEach((p) => contextCheck(p, s.maxTokens, 'prompt'));
    const id = `cmpl-${randomUUID()}`;
    const base = { id, object: 'text_completion', created: Math.floor(Date.now() / 1000), model: name };
    if (b.stream) {
      if (prompts.length > 1) throw new ApiError(400, 'stream with several prompts is not supported; send one prompt per request', 'invalid_request_error', 'prompt');
      for (const k of ['echo', 'logprobs', 'prompt_logprobs'] as const) {
        if (b[k] !== null && b[k] !== undefined && b[k] !== false) throw new ApiError(400, `'${k}' with stream is not supported; send the request without stream`, 'invalid_request_error', k);
      }
      startSse(res);
      const [g] = await generateTokens(lm, prompts, { ...s, onText: (piece) => sse(res, { ...base, choices: [{ index: 0, text: piece, logprobs: null, finish_reason: null }] }) });
      sse(res, { ...base, choices: [{ index: 0, text: '', logprobs: null, finish_reason: g.finishReason }] });
      return endSse(res);
    }
    const gens = await generateTokens(lm, prompts, { ...s, ...(b.logprobs !== null && b.logprobs !== undefined ? { logprobs: b.logprobs } : {}) });
    const choices = [];
    let promptTokens = 0;
    let completionTokens = 0;
    for (const [i, g] of gens.entries()) {
      promptTokens += g.promptTokens.length;
      completionTokens += g.tokens.length;
      const echo = b.echo ?? false;
      const needPrompt = (echo && b.logprobs !== null && b.logprobs !== undefined) || (b.prompt_logprobs !== null && b.prompt_logprobs !== undefined);
      const top = Math.max(b.logprobs ?? 0, b.prompt_logprobs ?? 0);
      const plp = needPrompt ? await logprobs(lm, g.promptTokens, { top }) : null;
      const promptText = tok.decode(g.promptTokens);
      const choice: Record<string, unknown> = { index: i, text: echo ? promptText + g.text : g.text, finish_reason: g.finishReason, logprobs: null };
      if (b.logprobs !== null && b.logprobs !== undefined) {
        const entries: { id: number; lp: TokenLogprob | null }[] = [];
        if (echo) g.promptTokens.forEach((t, k) => entries.push({ id: t, lp: plp![k]! }));
        g.tokens.forEach((t, k) => entries.push({ id: t, lp: g.logprobs![k] }));
        choice.logprobs = openAiLogprobs(entries, b.logprobs);
      }
      if (plp) choice.prompt_logprobs = plp.map((e) => (e === null ? null : vllmEntry(e, b.prompt_logprobs ?? 0)));
      choices.push(choice);
    }
    sendJson(res, 200, { ...base, choices, usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens } });
  }

  /** OpenAI's legacy completions logprobs: parallel lists; text_offset counts characters of the returned text. */
  function openAiLogprobs(entries: { id: number; lp: TokenLogprob | null }[], top: number) {
    const tokens: string[] = [];
    const tokenLogprobs: (number | null)[] = [];
    const topLogprobs: (Record<string, number> | null)[] = [];
    const offsets: number[] = [];
    let offset = 0;
    for (const { id, lp } of entries) {
      const text = tok.tokenString(id);
      tokens.push(text);
      offsets.push(offset);
      offset += text.length;
      tokenLogprobs.push(lp ? lp.logprob : null);
      if (!lp || top === 0) topLogprobs.push(lp ? {} : null);
      else topLogprobs.push(Object.fromEntries((lp.top ?? []).slice(0, top).map((t) => [tok.tokenString(t.token), t.logprob])));
    }
    return { tokens, token_logprobs: tokenLogprobs, top_logprobs: topLogprobs, text_offset: offsets };
  }

  /** vLLM's prompt_logprobs entry: the token itself and the top n, by id. */
  function vllmEntry(e: TokenLogprob, top: number): Record<string, { logprob: number; rank: number; decoded_token: string }> {
    const out: Record<string, { logprob: number; rank: number; decoded_token: string }> = {};
    out[String(e.token)] = { logprob: e.logprob, rank: e.rank, decoded_token: tok.decode([e.token], { skipSpecial: false }) };
    (e.top ?? []).slice(0, top).forEach((t, k) => {
      if (!(String(t.token) in out)) out[String(t.token)] = { logprob: t.logprob, rank: k + 1, decoded_token: tok.decode([t.token], { skipSpecial: false }) };
    });
    return out;
  }

  async function chat(b: ChatBody, res: ServerResponse): Promise<void> {
    const ids = chatPromptTokens(tok, b.messages);
    const s = sampling(b, b.max_tokens ?? Math.max(0, lm.info.maxPositions - ids.length));
    contextCheck(ids, s.maxTokens, 'messages');
    const id = `chatcmpl-${randomUUID()}`;
    const base = { id, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model: name };
    if (b.stream) {
      if (b.logprobs) throw new ApiError(400, "'logprobs' with stream is not supported; send the request without stream", 'invalid_request_error', 'logprobs');
      startSse(res);
      const chunk = { ...base, object: 'chat.completion.chunk' };
      sse(res, { ...chunk, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] });
      const [g] = await generateTokens(lm, [ids], { ...s, onText: (piece) => sse(res, { ...chunk, choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] }) });
      sse(res, { ...chunk, choices: [{ index: 0, delta: {}, finish_reason: g.finishReason }] });
      return endSse(res);
    }
    const wantLp = b.logprobs === true;
    const [g] = await generateTokens(lm, [ids], { ...s, ...(wantLp ? { logprobs: b.top_logprobs ?? 0 } : {}) });
    const choice: Record<string, unknown> = { index: 0, message: { role: 'assistant', content: g.text }, finish_reason: g.finishReason, logprobs: null };
    if (wantLp) {
      choice.logprobs = {
        content: g.tokens.map((t, k) => ({
          token: tok.tokenString(t),
          logprob: g.logprobs![k].logprob,
          top_logprobs: (g.logprobs![k].top ?? []).map((x) => ({ token: tok.tokenString(x.token), logprob: x.logprob })),
        })),
      };
    }
    sendJson(res, 200, { ...base, choices: [choice], usage: { prompt_tokens: ids.length, completion_tokens: g.tokens.length, total_tokens: ids.length + g.tokens.length } });
  }

  async function embeddings(b: EmbeddingBody, res: ServerResponse): Promise<void> {
    if (b.dimensions !== null && b.dimensions !== undefined && b.dimensions !== lm.info.decoder.hidden) {
      throw new ApiError(400, `'dimensions': this model's embeddings have ${lm.info.decoder.hidden} dimensions; other sizes are not supported`, 'invalid_request_error', 'dimensions');
    }
    const inputs = promptIds(b.input);
    inputs.forEach((ids) => contextCheck(ids, 0, 'input'));
    const data = [];
    let tokens = 0;
    for (const [index, ids] of inputs.entries()) {
      tokens += ids.length;
      const vector = await meanHidden(lm, ids);
      const embedding = b.encoding_format === 'base64' ? Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64') : Array.from(vector);
      data.push({ object: 'embedding', index, embedding });
    }
    sendJson(res, 200, { object: 'list', data, model: name, usage: { prompt_tokens: tokens, total_tokens: tokens } });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    server,
    port: actual,
    url: `http://127.0.0.1:${actual}`,
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}

const ROUTES = ['/v1/completions', '/v1/chat/completions', '/v1/embeddings'];

/** Mean over the tokens of the last hidden state (float32, little-endian in memory). */
async function meanHidden(lm: CausalLM, ids: readonly number[]): Promise<Float32Array> {
  const out = await lm.forward(lm.newState(1), [ids], undefined, 0);
  const h = out.outputs.hidden;
  const [, S, D] = h.dims as [number, number, number];
  const x = h.data as Float32Array;
  const mean = new Float64Array(D);
  for (let s = 0; s < S; s++) for (let d = 0; d < D; d++) mean[d] += x[s * D + d];
  return Float32Array.from(mean, (v) => v / S);
}

/**
 * The request body as text, at most `limit` bytes. A declared Content-Length over the limit is
 * refused before reading; a body that grows past it (chunked) is drained and then refused. Either
 * way the 413 reaches the client: the connection is not cut while it is still sending.
 */
function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const tooLarge = () => new ApiError(413, `the body is larger than the server's limit of ${limit} bytes`, 'invalid_request_error', null, 'request_too_large');
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume(); // read and drop what the client sends, so it gets to read the answer
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= limit) chunks.push(c);
    });
    req.on('end', () => (size > limit ? reject(tooLarge()) : resolve(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) };
  // After a refused body the connection is not reused (the client may still be sending).
  if (status === 413) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(text);
}

function sendError(res: ServerResponse, err: unknown): void {
  const e = err instanceof ApiError ? err : new ApiError(500, err instanceof Error ? err.message : String(err), 'server_error');
  const body = { error: { message: e.message, type: e.type, param: e.param, code: e.code } };
  if (res.headersSent) {
    // Mid-stream: the status is gone; say it as an SSE event and end.
    res.end(`data: ${JSON.stringify(body)}\n\n`);
    return;
  }
  sendJson(res, e.status, body);
}

function startSse(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
}

function sse(res: ServerResponse, data: unknown): void {
  res.write(`data: ${JSON.stringify(data)}\n\n`);
}

function endSse(res: ServerResponse): void {
  res.end('data: [DONE]\n\n');
}
