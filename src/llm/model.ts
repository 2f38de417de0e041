/**
 * A causal LM as one onnxruntime session over the shared decoder graph (`buildDecoderGraph`), and
 * the host-side state of a batch of sequences: the attention variant's cache, the attention mask
 * (1 = token, 0 = left padding) and each row's next position.
 */
import { basename } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { NamedTensors } from '../io/tensor.js';
import { type DecoderConfig, DecoderCache, type StackOptions, buildDecoderGraph, decoderCacheSlots } from '../nn/index.js';
import { serializeModel } from '../onnx/index.js';
import { type CachedSessionOptions, type Session, cachedSession } from '../runtime/index.js';
import type { TextTokenizer } from './tokenizer.js';

/** What a loaded model is, beyond its decoder shape. */
export interface ModelInfo {
  /** `llama`, `mistral`, `qwen2` (from config.json's model_type) or `llama2c`. */
  arch: string;
  decoder: DecoderConfig;
  /** Longest sequence the model was trained on (positions beyond it are refused). */
  maxPositions: number;
  /** Where it was loaded from. */
  source: string;
  /** Ids that end generation besides the tokenizer's (config.json's eos_token_id). */
  eos: number[];
}

/**
 * Options of {@link CausalLM.create}: the session's, the disk cache (`cache: false` builds afresh;
 * a stack with variants is always built afresh, as variants are code, not data) and the stack.
 */
export interface ModelOptions extends CachedSessionOptions {
  /** Attention / linear variants for the stack (default: full attention, dense). */
  stack?: StackOptions;
}

/** The running state of a batch: cache, mask so far, next position per row. */
export class DecoderState {
  readonly cache: DecoderCache;
  /** Per row, one entry per key slot seen so far: 1 token, 0 padding. */
  readonly mask: number[][];
  /** Per row, the position the next real token gets (real tokens so far). */
  readonly positions: number[];

  constructor(
    lm: CausalLM,
    readonly batch: number,
  ) {
    this.cache = new DecoderCache(lm.slots, batch);
    this.mask = Array.from({ length: batch }, () => []);
    this.positions = new Array<number>(batch).fill(0);
  }

  /** Slots seen so far (past length). */
  get length(): number {
    return this.cache.length;
  }
}

/** Logits of one run: [batch, sequence, vocab], row-major. */
export interface Logits {
  data: Float32Array;
  batch: number;
  sequence: number;
  vocab: number;
  /** Every graph output of the run (extra outputs an attention variant adds are here too). */
  outputs: Record<string, ort.Tensor>;
}

/** The vocab-sized slice of logits for row `b`, step `s`. */
export function logitsAt(l: Logits, b: number, s: number): Float32Array {
  const o = (b * l.sequence + s) * l.vocab;
  return l.data.subarray(o, o + l.vocab);
}

export class CausalLM {
  private constructor(
    readonly session: Session,
    readonly info: ModelInfo,
    readonly tokenizer: TextTokenizer | null,
    readonly slots: ReturnType<typeof decoderCacheSlots>,
  ) {}

  /**
   * Builds the decoder graph from decoder-named tensors and opens a session on it.
   *
   * @param tensors - the tensors, or a function reading them (called only when the graph is built,
   *   not when it comes from the model cache).
   * @param files - the files the tensors come from, which key the model cache (none: no cache).
   */
  static async create(tensors: NamedTensors | (() => NamedTensors), info: ModelInfo, tokenizer: TextTokenizer | null, options: ModelOptions = {}, files: readonly string[] = []): Promise<CausalLM> {
    const { stack = {}, ...sessionOptions } = options;
    const variants = stack.attention !== undefined || stack.linear !== undefined || stack.feedForward !== undefined;
    const { session } = await cachedSession(
      {
        label: `${info.arch} ${basename(info.source)}`,
        files,
        params: { graph: 'decoder', arch: info.arch, decoder: info.decoder },
        build: () => serializeModel(buildDecoderGraph(typeof tensors === 'function' ? tensors() : tensors, info.decoder, stack, { logitsToKeep: true })),
      },
      variants || files.length === 0 ? { ...sessionOptions, cache: false } : sessionOptions,
    );
    return new CausalLM(session, info, tokenizer, decoderCacheSlots(info.decoder, stack));
  }

  get vocab(): number {
    return this.info.decoder.vocab;
  }

  /** The tokenizer, or an error saying how to give one. */
  requireTokenizer(): TextTokenizer {
    if (!this.tokenizer) throw new Error(`${this.info.source}: no tokenizer loaded (give one: --tokenizer PATH / { tokenizer })`);
    return this.tokenizer;
  }

  /** Ids that end generation: the tokenizer's EOS and config.json's. */
  get stopIds(): Set<number> {
    return new Set([...(this.tokenizer?.eos ?? []), ...this.info.eos]);
  }

  newState(batch = 1): DecoderState {
    return new DecoderState(this, batch);
  }

  /**
   * Runs `tokens` (one equal-length row per batch row) after what `state` has seen, and advances it.
   * `valid[b][s] = 0` marks left padding: it takes no position and no later token attends to it.
   * `keep` > 0 returns logits for the last `keep` steps only (generation needs 1 after a prefill).
   * @throws when a row would pass the model's context length.
   */
  async forward(state: DecoderState, tokens: readonly (readonly number[])[], valid?: readonly (readonly number[])[], keep = 0): Promise<Logits> {
    const B = state.batch;
    if (tokens.length !== B) throw new Error(`forward(): ${tokens.length} rows of tokens for a state of batch ${B}`);
    const S = tokens[0].length;
    if (S === 0 || tokens.some((r) => r.length !== S)) throw new Error('forward(): rows must be non-empty and of equal length (left-pad them)');
    const ids = new BigInt64Array(B * S);
    const pos = new BigInt64Array(B * S);
    const next = [...state.positions];
    for (let b = 0; b < B; b++) {
      for (let s = 0; s < S; s++) {
        const t = tokens[b][s];
        if (!Number.isInteger(t) || t < 0 || t >= this.vocab) throw new Error(`token id ${t} (row ${b}, step ${s}) is outside the vocabulary 0…${this.vocab - 1}`);
        const v = valid ? valid[b][s] : 1;
        ids[b * S + s] = BigInt(t);
        pos[b * S + s] = BigInt(v ? next[b] : 0);
        if (v) next[b] = next[b] + 1;
      }
      if (next[b] > this.info.maxPositions) {
        throw new Error(`row ${b}: ${next[b]} tokens exceed the model's context of ${this.info.maxPositions} (use perplexity's sliding window, or fewer tokens)`);
      }
    }
    // Only now that the run is valid does the state advance.
    for (let b = 0; b < B; b++) {
      state.positions[b] = next[b]!;
      for (let s = 0; s < S; s++) state.mask[b].push(valid ? valid[b][s] : 1);
    }
    const T = state.length + S;
    const am = new BigInt64Array(B * T);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) am[b * T + t] = BigInt(state.mask[b][t]);
    const out = await this.session.run({
      input_ids: new ort.Tensor('int64', ids, [B, S]),
      position_ids: new ort.Tensor('int64', pos, [B, S]),
      attention_mask: new ort.Tensor('int64', am, [B, T]),
      logits_to_keep: new ort.Tensor('int64', BigInt64Array.of(BigInt(Math.max(0, Math.min(keep, S)))), []),
      ...state.cache.feeds(),
    });
    state.cache.update(out, S);
    const logits = out.logits;
    return { data: logits.data as Float32Array, batch: B, sequence: logits.dims[1], vocab: this.vocab, outputs: out };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
