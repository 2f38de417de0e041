/**
 * llama2.c's tokenizer (`tokenizer.bin` / `tok512.bin`): a sentencepiece BPE vocabulary exported as
 * (max_token_length int32) then, per token, (score float32, length int32, bytes). Encoding follows
 * `run.c`'s `encode` exactly: optional BOS (1), a dummy-prefix " " token for non-empty text, one
 * token per UTF-8 code point found in the vocabulary (else its bytes as `<0xXX>` tokens, id
 * byte + 3), then repeatedly merging the adjacent pair whose concatenation has the highest score
 * (leftmost on ties), optional EOS (2).
 *
 * run.c rescans the whole sequence for every merge (quadratic); here a heap ordered by (score,
 * position) gives the same merges in the same order in O(n log n), so long files stay fast.
 */
import { readFileSync } from 'node:fs';
import type { DecodeOptions, EncodeOptions, TextTokenizer } from './tokenizer.js';

const BOS = 1;
const EOS = 2;

/** Bytes as a string of char codes 0–255, so vocabulary lookups compare bytes, as run.c's strcmp does. */
function byteKey(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

export class Llama2cTokenizer implements TextTokenizer {
  readonly bos = BOS;
  readonly eos: readonly number[] = [EOS];
  readonly vocabSize: number;
  private readonly pieces: Uint8Array[];
  private readonly keys: string[];
  private readonly scores: Float32Array;
  private readonly ids = new Map<string, number>();

  constructor(pieces: Uint8Array[], scores: Float32Array) {
    this.pieces = pieces;
    this.scores = scores;
    this.vocabSize = pieces.length;
    this.keys = pieces.map(byteKey);
    // run.c binary-searches a sorted copy; with unique pieces any lookup finds the same id.
    this.keys.forEach((k, i) => {
      if (!this.ids.has(k)) this.ids.set(k, i);
    });
  }

  /**
   * Reads a llama2.c tokenizer file. `vocabSize` comes from the model header (the file does not
   * record it).
   * @throws naming the file and the token where it ends early.
   */
  static fromFile(path: string, vocabSize: number): Llama2cTokenizer {
    const buf = readFileSync(path);
    if (buf.length < 4) throw new Error(`${path}: too short for a llama2.c tokenizer`);
    let o = 4;
    const pieces: Uint8Array[] = [];
    const scores = new Float32Array(vocabSize);
    for (let i = 0; i < vocabSize; i++) {
      if (o + 8 > buf.length) throw new Error(`${path}: truncated at token ${i} of ${vocabSize} (the model's vocab size); is this the model's tokenizer?`);
      scores[i] = buf.readFloatLE(o);
      const len = buf.readInt32LE(o + 4);
      o += 8;
      if (len < 0 || o + len > buf.length) throw new Error(`${path}: truncated at token ${i} of ${vocabSize}: length ${len} runs past the end`);
      pieces.push(new Uint8Array(buf.subarray(o, o + len)));
      o += len;
    }
    return new Llama2cTokenizer(pieces, scores);
  }

  /** The raw bytes of a token. */
  piece(id: number): Uint8Array {
    const p = this.pieces[id];
    if (!p) throw new Error(`token id ${id} is outside the vocabulary (0…${this.vocabSize - 1})`);
    return p;
  }

  tokenString(id: number): string {
    return new TextDecoder().decode(this.piece(id));
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const bytes = new TextEncoder().encode(text);
    const tokens: number[] = [];
    if (options.bos ?? true) tokens.push(BOS);
    if (bytes.length > 0) {
      const prefix = this.ids.get(' ');
      if (prefix === undefined) throw new Error("the vocabulary has no ' ' token for sentencepiece's dummy prefix");
      tokens.push(prefix);
    }
    // One token per code point (at most 4 bytes gathered, as run.c does), else byte fallback.
    for (let i = 0; i < bytes.length;) {
      let j = i + 1;
      while (j < bytes.length && (bytes[j] & 0xc0) === 0x80 && j - i < 4) j++;
      const cp = bytes.subarray(i, j);
      const id = this.ids.get(byteKey(cp));
      if (id !== undefined) tokens.push(id);
      else for (const b of cp) tokens.push(b + 3);
      i = j;
    }
    // run.c merges over the whole array, BOS included.
    const out = this.merge(tokens);
    if (options.eos ?? false) out.push(EOS);
    return out;
  }

  /** Greedy BPE: highest-scoring adjacent pair first, leftmost on ties; scores ≤ −1e10 never merge (run.c's start value). */
  private merge(tokens: number[]): number[] {
    const n = tokens.length;
    if (n < 2) return tokens;
    const id = Int32Array.from(tokens);
    const next = Int32Array.from({ length: n }, (_, i) => (i + 1 < n ? i + 1 : -1));
    const prev = Int32Array.from({ length: n }, (_, i) => i - 1);
    const alive = new Uint8Array(n).fill(1);
    // Heap of candidate merges: [score, left index, merged id, left id, right id] (stale ones skipped).
    type Cand = [number, number, number, number, number];
    const heap: Cand[] = [];
    const better = (a: Cand, b: Cand) => a[0] > b[0] || (a[0] === b[0] && a[1] < b[1]);
    const push = (c: Cand) => {
      heap.push(c);
      let i = heap.length - 1;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!better(heap[i], heap[p])) break;
        [heap[i], heap[p]] = [heap[p], heap[i]];
        i = p;
      }
    };
    const pop = (): Cand => {
      const top = heap[0];
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          const r = l + 1;
          let m = i;
          if (l < heap.length && better(heap[l], heap[m])) m = l;
          if (r < heap.length && better(heap[r], heap[m])) m = r;
          if (m === i) break;
          [heap[i], heap[m]] = [heap[m], heap[i]];
          i = m;
        }
      }
      return top;
    };
    const consider = (i: number) => {
      const j = next[i];
      if (i < 0 || j < 0) return;
      const m = this.ids.get(this.keys[id[i]] + this.keys[id[j]]);
      if (m === undefined) return;
      const s = this.scores[m];
      if (s > -1e10) push([s, i, m, id[i], id[j]]);
    };
    for (let i = 0; i < n - 1; i++) consider(i);
    while (heap.length > 0) {
      const [, i, m, li, ri] = pop();
      const j = next[i];
      if (!alive[i] || j < 0 || id[i] !== li || id[j] !== ri) continue; // stale
      id[i] = m;
      alive[j] = 0;
      next[i] = next[j]!;
      if (next[j] >= 0) prev[next[j]] = i;
      consider(prev[i]);
      consider(i);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]!) out.push(id[i]);
    return out;
  }

  /**
   * The bytes run.c's `decode(prev, token)` gives: the piece, without its leading space right after
   * BOS, and `<0xXX>` pieces as the raw byte.
   */
  pieceBytes(prev: number, token: number): Uint8Array {
    let p = this.piece(token);
    if (prev === BOS && p[0] === 0x20) p = p.subarray(1);
    const m = /^<0x([0-9A-Fa-f]{1,2})>/.exec(byteKey(p));
    if (m) return Uint8Array.of(parseInt(m[1], 16));
    return p;
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const skip = options.skipSpecial ?? true;
    const parts: Uint8Array[] = [];
    let prev = options.previous ?? -1;
    for (const t of ids) {
      if (!(skip && (t === BOS || t === EOS || t === 0))) parts.push(this.pieceBytes(prev, t));
      prev = t;
    }
    const total = parts.reduce((n, p) => n + p.length, 0);
    const all = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      all.set(p, o);
      o += p.length;
    }
    return new TextDecoder().decode(all);
  }
}
