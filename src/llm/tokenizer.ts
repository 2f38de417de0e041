/**
 * The tokenizer interface the LLM stack uses, and Hugging Face `tokenizer.json` tokenizers through
 * `@huggingface/tokenizers` (pure JavaScript, nothing downloaded).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer as HfTokenizerImpl } from '@huggingface/tokenizers';

export interface EncodeOptions {
  /** Prepend BOS: true / false force it; absent, the tokenizer's default (llama2.c: yes; HF: its post-processor). */
  bos?: boolean;
  /** Append EOS (default false). */
  eos?: boolean;
}

export interface DecodeOptions {
  /** Leave out special tokens (BOS, EOS, padding). Default true. */
  skipSpecial?: boolean;
  /** The token before `ids[0]` (llama2.c drops a piece's leading space right after BOS). */
  previous?: number;
}

/** Text ↔ token ids. */
export interface TextTokenizer {
  readonly vocabSize: number;
  /** Beginning-of-sequence id, or null when the model has none. */
  readonly bos: number | null;
  /** Ids that end generation. */
  readonly eos: readonly number[];
  encode(text: string, options?: EncodeOptions): number[];
  decode(ids: readonly number[], options?: DecodeOptions): string;
  /** The vocabulary entry of one id, as text (for logprob listings). */
  tokenString(id: number): string;
}

/** A `tokenizer.json` tokenizer (with `tokenizer_config.json` when the folder has one). */
export class HfTokenizer implements TextTokenizer {
  readonly bos: number | null;
  readonly eos: readonly number[];
  readonly vocabSize: number;
  /** `tokenizer_config.json`, when present (chat template, special tokens). */
  readonly config: Record<string, unknown>;
  private readonly impl: HfTokenizerImpl;
  private readonly addsBos: boolean;

  constructor(tokenizerJson: Record<string, unknown>, config: Record<string, unknown> = {}, eosIds: readonly number[] = []) {
    this.impl = new HfTokenizerImpl(tokenizerJson, config);
    this.config = config;
    this.vocabSize = this.impl.get_vocab(true).size;
    const special = (key: string): number | null => {
      const v = config[key];
      const name = typeof v === 'string' ? v : v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string' ? (v as { content: string }).content : null;
      return name === null ? null : (this.impl.token_to_id(name) ?? null);
    };
    this.bos = special('bos_token');
    const eos = special('eos_token');
    this.eos = [...new Set([...(eos === null ? [] : [eos]), ...eosIds])];
    const probe = this.impl.encode('a').ids;
    this.addsBos = this.bos !== null && probe[0] === this.bos;
  }

  /**
   * Reads `tokenizer.json` (and `tokenizer_config.json` if present) from a model folder or a file path.
   * @throws naming the file when it is missing or not JSON.
   */
  static fromPath(path: string, eosIds: readonly number[] = []): HfTokenizer {
    const file = path.endsWith('.json') ? path : join(path, 'tokenizer.json');
    if (!existsSync(file)) throw new Error(`${file}: not found (a Hugging Face tokenizer needs tokenizer.json; pass --tokenizer)`);
    const dir = path.endsWith('.json') ? join(path, '..') : path;
    const cfgFile = join(dir, 'tokenizer_config.json');
    const json = readJson(file);
    const cfg = existsSync(cfgFile) ? readJson(cfgFile) : {};
    return new HfTokenizer(json, cfg, eosIds);
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    let ids = this.impl.encode(text).ids;
    if (options.bos === false && this.addsBos && ids[0] === this.bos) ids = ids.slice(1);
    if (options.bos === true && this.bos !== null && ids[0] !== this.bos) ids = [this.bos, ...ids];
    if (options.eos && this.eos.length > 0) ids = [...ids, this.eos[0]];
    return ids;
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    return this.impl.decode([...ids], { skip_special_tokens: options.skipSpecial ?? true });
  }

  tokenString(id: number): string {
    return this.impl.id_to_token(id) ?? '';
  }
}

function readJson(path: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`, { cause: err });
  }
}
