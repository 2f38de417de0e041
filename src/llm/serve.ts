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
export const chatBody = z.looseObject({
  ...common,
  messages: z.array(z.looseObject({ role: z.string(), content: z.string() })).min(1),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
});

type CompletionBody = z.output<typeof completionBody>;
type ChatBody = z.output<typeof chatBody>;

function parse<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  const param = i.path.join('.') || null;
  throw new ApiError(400, `${param ? `'${param}': ` : ''}${i.message}`, 'invalid_request_error', param);
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
    if (path !== '/v1/completions' && path !== '/v1/chat/completions') throw new ApiError(404, `no route ${req.method} ${path} (try /v1/models, /v1/completions, /v1/chat/completions)`, 'invalid_request_error', null, 'not_found');
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
    const b = parse(chatBody, body);
    checkModel(b.model);
    return gate.run(() => chat(b, res));
  }

  function checkModel(m: string | undefined): void {
    if (m !== undefined && m !== name) throw new ApiError(404, `model '${m}' is not served here (this server has '${name}')`, 'invalid_request_error', 'model', 'model_not_found');
  }

  function sampling(b: CompletionBody | ChatBody) {
    return {
      maxTokens: b.max_tokens ?? 16,
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

  function contextCheck(ids: number[]): void {
    if (ids.length > lm.info.maxPositions) {
      throw new ApiError(400, `the prompt has ${ids.length} tokens; this model's context is ${lm.info.maxPositions}`, 'invalid_request_error', 'prompt', 'context_length_exceeded');
    }
  }

  async function completions(b: CompletionBody, res: ServerResponse): Promise<void> {
    const prompts = promptIds(b.prompt);
    const s = sampling(b);
    prompts.forEach((p) => contextCheck(p));
    const id = `cmpl-${randomUUID()}`;
    const base = { id, object: 'text_completion', created: Math.floor(Date.now() / 1000), model: name };
    if (b.stream) {
      if (prompts.length > 1) throw new ApiError(400, 'stream with several prompts is not supported; send one prompt per request', 'invalid_request_error', 'prompt');
      for (const k of ['echo', 'logprobs', 'prompt_logprobs'] as const) {
        if (b[k] !== null && b[k] !== undefined && b[k] !== false) throw new ApiError(400, `'${k}' with stream is not supported; send the request without stream`, 'invalid_request_error', k);
      }
      startSse(res);
      const [g] = await generateTokens(lm, prompts, { ...s, onText: (piece) => sse(res, { ...base, choices: [{ index: 0, text: piece, logprobs: null, finish_reason: null }] }) });
      sse(res, { ...base, choices: [{ index: 0, text: '', logprobs: null, finish_reason: g!.finishReason }] });
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
        g.tokens.forEach((t, k) => entries.push({ id: t, lp: g.logprobs![k]! }));
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
    const s = sampling(b);
    contextCheck(ids);
    const id = `chatcmpl-${randomUUID()}`;
    const base = { id, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model: name };
    if (b.stream) {
      if (b.logprobs) throw new ApiError(400, "'logprobs' with stream is not supported; send the request without stream", 'invalid_request_error', 'logprobs');
      startSse(res);
      const chunk = { ...base, object: 'chat.completion.chunk' };
      sse(res, { ...chunk, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] });
      const [g] = await generateTokens(lm, [ids], { ...s, onText: (piece) => sse(res, { ...chunk, choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] }) });
      sse(res, { ...chunk, choices: [{ index: 0, delta: {}, finish_reason: g!.finishReason }] });
      return endSse(res);
    }
    const wantLp = b.logprobs === true;
    const [g] = await generateTokens(lm, [ids], { ...s, ...(wantLp ? { logprobs: b.top_logprobs ?? 0 } : {}) });
    const choice: Record<string, unknown> = { index: 0, message: { role: 'assistant', content: g!.text }, finish_reason: g!.finishReason, logprobs: null };
    if (wantLp) {
      choice.logprobs = {
        content: g!.tokens.map((t, k) => ({
          token: tok.tokenString(t),
          logprob: g!.logprobs![k]!.logprob,
          top_logprobs: (g!.logprobs![k]!.top ?? []).map((x) => ({ token: tok.tokenString(x.token), logprob: x.logprob })),
        })),
      };
    }
    sendJson(res, 200, { ...base, choices: [choice], usage: { prompt_tokens: ids.length, completion_tokens: g!.tokens.length, total_tokens: ids.length + g!.tokens.length } });
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

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new ApiError(413, `the body is larger than ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
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
