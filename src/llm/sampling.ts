/**
 * Choosing the next token from logits: greedy, or temperature sampling with optional top-k and
 * top-p (nucleus), from a seeded generator. The random stream and the nucleus procedure are
 * llama2.c run.c's (xorshift64*, one float32 coin per token, probabilities in float32), so a
 * seed gives the same tokens as `run -t T -p P -s SEED` on the same logits.
 */

const MASK64 = (1n << 64n) - 1n;

/** xorshift64* as in run.c's `random_u32` / `random_f32`. */
export class Rng {
  private state: bigint;

  constructor(seed: number | bigint) {
    // xorshift never leaves 0, so seed 0 takes a fixed non-zero state instead.
    this.state = BigInt.asUintN(64, BigInt(seed)) || 0x9e3779b97f4a7c15n;
  }

  u32(): number {
    let s = this.state;
    s ^= s >> 12n;
    s ^= (s << 25n) & MASK64;
    s ^= s >> 27n;
    this.state = s;
    return Number(((s * 0x2545f4914f6cdd1dn) & MASK64) >> 32n);
  }

  /** A float32 in [0, 1). */
  f32(): number {
    return (this.u32() >>> 8) / 16777216;
  }
}

export interface SamplingOptions {
  /** 0 (default): greedy argmax. */
  temperature?: number;
  /** Keep only the k most likely tokens (0 or absent: all). */
  topK?: number;
  /** Nucleus: the smallest set whose probability exceeds p (absent, ≤ 0 or ≥ 1: all). */
  topP?: number;
  /** Seed of the random stream (default 1). */
  seed?: number;
}

/** Index of the largest value (first on ties), as run.c's `sample_argmax`. */
export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** Draws tokens from logits under one set of options, with its own random stream. */
export class Sampler {
  private readonly rng: Rng;
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;

  constructor(options: SamplingOptions = {}) {
    this.temperature = options.temperature ?? 0;
    this.topK = options.topK ?? 0;
    this.topP = options.topP ?? 1;
    if (!(this.temperature >= 0)) throw new Error(`temperature must be ≥ 0, got ${this.temperature}`);
    if (!Number.isInteger(this.topK) || this.topK < 0) throw new Error(`topK must be a whole number ≥ 0, got ${this.topK}`);
    this.rng = new Rng(options.seed ?? 1);
  }

  sample(logits: Float32Array): number {
    if (this.temperature === 0) return argmax(logits);
    const n = logits.length;
    const p = new Float32Array(n);
    const t = Math.fround(this.temperature); // run.c divides by a float
    for (let i = 0; i < n; i++) p[i] = logits[i] / t;
    if (this.topK > 0 && this.topK < n) {
      const kth = [...p].sort((a, b) => b - a)[this.topK - 1];
      for (let i = 0; i < n; i++) if (p[i] < kth) p[i] = -Infinity;
    }
    softmaxF32(p);
    const coin = this.rng.f32();
    if (this.topP <= 0 || this.topP >= 1) return sampleMult(p, coin);
    return sampleTopP(p, this.topP, coin);
  }
}

/** In-place softmax accumulated in float32, as run.c does. */
function softmaxF32(x: Float32Array): void {
  let max = x[0];
  for (let i = 1; i < x.length; i++) if (x[i] > max) max = x[i]!;
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    x[i] = Math.exp(x[i] - max);
    sum = Math.fround(sum + x[i]);
  }
  for (let i = 0; i < x.length; i++) x[i] = x[i] / sum;
}

function sampleMult(p: Float32Array, coin: number): number {
  let cdf = 0;
  for (let i = 0; i < p.length; i++) {
    cdf = Math.fround(cdf + p[i]);
    if (coin < cdf) return i;
  }
  return p.length - 1;
}

function sampleTopP(p: Float32Array, topP: number, coin: number): number {
  const n = p.length;
  const cutoff = Math.fround((1 - topP) / (n - 1));
  const cand: number[] = [];
  for (let i = 0; i < n; i++) if (p[i] >= cutoff) cand.push(i);
  cand.sort((a, b) => p[b] - p[a] || a - b);
  let cum = 0;
  let last = cand.length - 1;
  for (let i = 0; i < cand.length; i++) {
    cum = Math.fround(cum + p[cand[i]]);
    if (cum > topP) {
      last = i;
      break;
    }
  }
  const r = Math.fround(coin * cum);
  let cdf = 0;
  for (let i = 0; i <= last; i++) {
    cdf = Math.fround(cdf + p[cand[i]]);
    if (r < cdf) return cand[i];
  }
  return cand[last];
}
