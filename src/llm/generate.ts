/**
 * Generation: prompts (left-padded into one batch) prefilled in one run, then one token per row per
 * run through the attention variant's cache, sampled per row, until max tokens, an end-of-sequence
 * id, a stop string, or the model's context. Text is streamed to a callback as it becomes whole
 * UTF-8 and cannot be the start of a stop string.
 */
import { type CausalLM, logitsAt } from './model.js';
import { Sampler, type SamplingOptions } from './sampling.js';
import { type TokenLogprob, scoreRow } from './score.js';

export interface GenerateOptions extends SamplingOptions {
  /** Most tokens to generate per prompt (default 64). */
  maxTokens?: number;
  /** Generation ends where any of these strings appears; the text is cut before it. */
  stop?: readonly string[];
  /** Prepend BOS to text prompts (default: the tokenizer's own default; llama2.c: yes, HF: its post-processor). */
  bos?: boolean;
  /** Called with each new piece of text of row `row` (streaming). */
  onText?: (piece: string, row: number) => void;
  /** Called with each generated token id of row `row`. */
  onToken?: (token: number, row: number) => void;
  /**
   * Record each generated token's log-probability under the model (raw logits, before
   * temperature / top-k / top-p), with this many alternatives (0: the token only). Absent: none.
   */
  logprobs?: number;
}

export type FinishReason = 'stop' | 'length';

export interface Generation {
  /** Prompt token ids (after BOS). */
  promptTokens: number[];
  /** Generated ids (the end-of-sequence id, when it ended one, is not included). */
  tokens: number[];
  /** The generated text, cut before a stop string. */
  text: string;
  /** `stop`: EOS or a stop string; `length`: max tokens or the context is full. */
  finishReason: FinishReason;
  /** Per generated token, when `logprobs` was asked for. */
  logprobs?: TokenLogprob[];
}

/** Generates a continuation of each prompt (text, or token ids). */
export async function generate(lm: CausalLM, prompts: string | readonly (string | readonly number[])[], options: GenerateOptions = {}): Promise<Generation[]> {
  const list = typeof prompts === 'string' ? [prompts] : prompts;
  const ids = list.map((p) => (typeof p === 'string' ? encodePrompt(lm, p, options.bos) : [...p]));
  return generateTokens(lm, ids, options);
}

function encodePrompt(lm: CausalLM, text: string, bos: boolean | undefined): number[] {
  const tok = lm.requireTokenizer();
  return bos === undefined ? tok.encode(text) : tok.encode(text, { bos });
}

/** Generation from token ids (each prompt non-empty). */
export async function generateTokens(lm: CausalLM, prompts: readonly (readonly number[])[], options: GenerateOptions = {}): Promise<Generation[]> {
  const maxTokens = options.maxTokens ?? 64;
  if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new Error(`maxTokens must be a whole number ≥ 0, got ${maxTokens}`);
  if (prompts.length === 0) return [];
  prompts.forEach((p, i) => {
    if (p.length === 0) throw new Error(`prompt ${i} has no tokens (give BOS at least)`);
  });
  const B = prompts.length;
  const longest = Math.max(...prompts.map((p) => p.length));
  const stopIds = lm.stopIds;
  const stops = (options.stop ?? []).filter((s) => s.length > 0);
  const tok = lm.tokenizer;
  if (stops.length > 0 && !tok) throw new Error('stop strings need a tokenizer');
  const rows = prompts.map((p, b) => ({
    prompt: [...p],
    tokens: [] as number[],
    text: '',
    emitted: 0,
    done: maxTokens === 0 || p.length > lm.info.maxPositions,
    reason: 'length' as FinishReason, // eslint-disable-line @typescript-eslint/no-unnecessary-type-assertion -- widens the literal for later assignment
    sampler: new Sampler({ ...options, seed: (options.seed ?? 1) + b }),
    logprobs: [] as TokenLogprob[],
  }));
  if (rows.every((r) => r.done)) return rows.map(finish);

  const state = lm.newState(B);
  const padded = rows.map((r) => [...new Array<number>(longest - r.prompt.length).fill(0), ...r.prompt]);
  const valid = rows.map((r) => [...new Array<number>(longest - r.prompt.length).fill(0), ...new Array<number>(r.prompt.length).fill(1)]);
  let logits = await lm.forward(state, padded, valid, 1); // only the last position's logits are needed
  let step = 0;
  for (;;) {
    const next = rows.map((r, b) => {
      if (r.done) return r.tokens.at(-1) ?? r.prompt.at(-1)!;
      const row = logitsAt(logits, b, step);
      const t = r.sampler.sample(row);
      if (options.logprobs !== undefined && !stopIds.has(t)) r.logprobs.push(scoreRow(row, t, options.logprobs));
      accept(r, b, t);
      return t;
    });
    if (rows.every((r) => r.done)) break;
    logits = await lm.forward(
      state,
      next.map((t) => [t]),
    );
    step = 0;
  }
  return rows.map(finish);

  function accept(r: (typeof rows)[number], b: number, t: number): void {
    if (stopIds.has(t)) {
      r.done = true;
      r.reason = 'stop';
      flush(r, b, true);
      return;
    }
    r.tokens.push(t);
    options.onToken?.(t, b);
    if (tok) {
      r.text = tok.decode(r.tokens, { previous: r.prompt.at(-1)! });
      const at = firstStop(r.text);
      if (at >= 0) {
        r.text = r.text.slice(0, at);
        r.done = true;
        r.reason = 'stop';
        flush(r, b, true);
        return;
      }
    }
    // The last token is fed at position prompt + tokens − 1, which must be inside the context.
    if (r.tokens.length >= maxTokens || r.prompt.length + r.tokens.length > lm.info.maxPositions) {
      r.done = true;
      r.reason = 'length';
    }
    flush(r, b, r.done);
  }

  function firstStop(text: string): number {
    let best = -1;
    for (const s of stops) {
      const i = text.indexOf(s);
      if (i >= 0 && (best < 0 || i < best)) best = i;
    }
    return best;
  }

  /** Emits text that is whole UTF-8 and, unless final, cannot still become a stop string. */
  function flush(r: (typeof rows)[number], b: number, final: boolean): void {
    if (!options.onText || !tok) return;
    let end = r.text.length;
    if (!final) {
      if (r.text.endsWith('\uFFFD')) end = r.text.length - 1; // an incomplete UTF-8 sequence so far
      for (const s of stops) {
        for (let k = Math.min(s.length - 1, end); k > 0; k--) {
          if (r.text.slice(end - k, end) === s.slice(0, k)) {
            end = Math.min(end, r.text.length - k);
            break;
          }
        }
      }
    }
    if (end > r.emitted) {
      options.onText(r.text.slice(r.emitted, end), b);
      r.emitted = end;
    }
  }

  function finish(r: (typeof rows)[number]): Generation {
    const g: Generation = { promptTokens: r.prompt, tokens: r.tokens, text: r.text, finishReason: r.reason };
    if (options.logprobs !== undefined) g.logprobs = r.logprobs.slice(0, r.tokens.length);
    return g;
  }
}
