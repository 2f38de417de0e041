/**
 * Log-probabilities of given tokens and perplexity. The text goes through the model in chunks
 * through the cache, and each chunk's logits are reduced to the scored token's log-probability
 * (and rank, and the top alternatives when asked) before the next chunk runs, so memory holds one
 * chunk × vocab of logits however long the text is.
 */
import { logSumExp } from '../util/logits.js';
import type { CausalLM } from './model.js';

export interface TopLogprob {
  token: number;
  logprob: number;
}

/** The model's log-probability of `token` at its position, given everything before it. */
export interface TokenLogprob {
  token: number;
  logprob: number;
  /** 1 + the number of tokens with a larger logit. */
  rank: number;
  /** The `top` most likely tokens at this position, most likely first (when asked for). */
  top?: TopLogprob[];
}

export interface LogprobOptions {
  /** Tokens per run (default 256): bounds the logits held at once to chunk × vocab. */
  chunk?: number;
  /** Also list this many most likely tokens per position (default 0). */
  top?: number;
}

/** log-softmax(logits)[target], its rank, and the top n, in float64. */
export function scoreRow(row: Float32Array, target: number, top = 0): TokenLogprob {
  const lse = logSumExp(row);
  const x = row[target];
  let rank = 1;
  for (let i = 0; i < row.length; i++) if (row[i] > x) rank++;
  const out: TokenLogprob = { token: target, logprob: x - lse, rank };
  if (top > 0) {
    const idx = Array.from(row.keys());
    idx.sort((a, b) => row[b] - row[a] || a - b);
    out.top = idx.slice(0, top).map((t) => ({ token: t, logprob: row[t] - lse }));
  }
  return out;
}

/**
 * Log-probability of every token of `tokens` given the tokens before it; entry 0 is null (nothing
 * predicts the first token). One sequence, at most the model's context.
 */
export async function logprobs(lm: CausalLM, tokens: readonly number[], options: LogprobOptions = {}): Promise<(TokenLogprob | null)[]> {
  const chunk = options.chunk ?? 256;
  if (!Number.isInteger(chunk) || chunk < 1) throw new Error(`chunk must be a whole number ≥ 1, got ${chunk}`);
  if (tokens.length > lm.info.maxPositions) {
    throw new Error(`${tokens.length} tokens exceed the model's context of ${lm.info.maxPositions}; use perplexity() with its sliding window`);
  }
  const out: (TokenLogprob | null)[] = tokens.length > 0 ? [null] : [];
  const state = lm.newState(1);
  // The last token predicts nothing we score, so it need not run.
  for (let start = 0; start < tokens.length - 1; start += chunk) {
    const end = Math.min(start + chunk, tokens.length - 1);
    const l = await lm.forward(state, [tokens.slice(start, end)]);
    for (let s = 0; s < end - start; s++) {
      out.push(scoreRow(l.data.subarray(s * l.vocab, (s + 1) * l.vocab), tokens[start + s + 1], options.top ?? 0));
    }
  }
  return out;
}

export interface PerplexityOptions {
  /** Context per window (default: the model's). */
  window?: number;
  /** How far each window moves (default window / 2); every token is scored once, with the most context its window gives. */
  stride?: number;
  /** Tokens per run inside a window (default 256). */
  chunk?: number;
}

export interface Perplexity {
  /** exp(mean negative log-likelihood). */
  perplexity: number;
  /** Sum of −log p over the scored tokens (nats). */
  nll: number;
  /** Tokens scored (all but the first). */
  count: number;
}

/**
 * Perplexity of a token sequence (give it BOS first to score every text token). Sequences longer
 * than the window are scored with a sliding window: each window starts `stride` after the previous
 * one and scores only the tokens the previous windows did not, as in Hugging Face's strided
 * perplexity.
 */
export async function perplexity(lm: CausalLM, tokens: readonly number[], options: PerplexityOptions = {}): Promise<Perplexity> {
  const window = options.window ?? lm.info.maxPositions;
  const stride = options.stride ?? Math.max(1, Math.floor(window / 2));
  if (window < 2 || window > lm.info.maxPositions) throw new Error(`window must be 2…${lm.info.maxPositions} (the model's context), got ${window}`);
  if (stride < 1 || stride > window - 1) throw new Error(`stride must be 1…${window - 1}, got ${stride}`);
  if (tokens.length < 2) throw new Error('perplexity needs at least 2 tokens (BOS and one more)');
  let nll = 0;
  let count = 0;
  let scoredUpTo = 1; // index of the first token not yet scored
  for (let begin = 0; scoredUpTo < tokens.length; begin += stride) {
    const end = Math.min(begin + window, tokens.length);
    const lp = await logprobs(lm, tokens.slice(begin, end), options.chunk !== undefined ? { chunk: options.chunk } : {});
    for (let i = Math.max(scoredUpTo, begin + 1); i < end; i++) {
      nll -= lp[i - begin]!.logprob;
      count++;
    }
    scoredUpTo = end;
  }
  return { perplexity: Math.exp(nll / count), nll, count };
}
