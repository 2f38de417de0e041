/**
 * `Balm`: load a BALM checkpoint folder (official Hugging Face layout or balmkit's) and run it.
 * Numbering is the caller's (src/antibody turns sequences into IMGT positions); this class takes
 * numbered chains.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type * as ort from 'onnxruntime-node';
import { readWeights, weightFiles } from '../io/weights.js';
import type { StackOptions } from '../nn/index.js';
import { serializeModel } from '../onnx/index.js';
import { logProbability } from '../util/logits.js';
import { type CachedSessionOptions, type Session, cachedSession } from '../runtime/index.js';
import { type EsmConfig, parseEsmConfig } from './config.js';
import { balmWeightName, balmWeights, buildBalmGraph, checkBalmWeights } from './model.js';
import { type WeightedAdapter, adapterChoice, readPeftAdapter } from '../adapters/index.js';
import { ESM_VOCAB, type EncodedBatch, type EncodedChain, type ImgtPosition, encodeChain, padBatch, residueToken } from './tokenizer.js';
import { ModelError } from '../runtime/errors.js';

/**
 * Session options, the disk cache (`cache: false` to build afresh; a model with attention or
 * linear variants is always built afresh, as they are code, not data) and the stack's variants.
 */
export interface BalmLoadOptions extends CachedSessionOptions, StackOptions {
  /** LoRA adapters (Hugging Face PEFT folders on the official ESM names) applied unmerged. */
  adapters?: readonly (string | WeightedAdapter)[];
}

/** A numbered chain: its residues and their IMGT positions (from `src/antibody`). */
export interface NumberedChain {
  sequence: string;
  numbering: readonly ImgtPosition[];
}

/** Per-residue embeddings [residues, hidden] (row-major) and two pooled vectors. */
export interface ChainEmbedding {
  residues: number;
  hidden: number;
  perResidue: Float32Array;
  /** Mean over the residue rows (not `<cls>`/`<eos>`). */
  mean: Float32Array;
  /** The `<cls>` row. */
  cls: Float32Array;
}

/** Pseudo-log-likelihood: each residue masked in turn, log p(true residue | rest). */
export interface ChainScore {
  /** Natural-log PLL per residue. */
  perResidue: Float32Array;
  /** Mean of `perResidue`. */
  meanPll: number;
  /** exp(−mean PLL). */
  pseudoPerplexity: number;
}

/** For each masked position: the amino acids by probability (renormalised over the 20 standard ones). */
export interface Infill {
  index: number;
  candidates: { aa: string; probability: number }[];
}

const STANDARD_AA = 'ACDEFGHIKLMNPQRSTVWY';
const STANDARD_IDS = [...STANDARD_AA].map(residueToken);

/** Per chain: logits [length, 33] and hidden states [length, hidden], rows in token order (`<cls>` first). */
export interface BalmOutput {
  length: number;
  logits: Float32Array;
  hidden: Float32Array;
}

export class Balm {
  private constructor(
    readonly config: EsmConfig,
    readonly session: Session,
    /** Where it was loaded from. */
    readonly source: string,
  ) {}

  /** Load `dir` (with `config.json` and `model.safetensors` or `pytorch_model.bin`). */
  static async load(dir: string, opts: BalmLoadOptions = {}): Promise<Balm> {
    if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new ModelError(`BALM model folder '${dir}' does not exist`);
    const configPath = join(dir, 'config.json');
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(configPath, 'utf8'));
    } catch (e) {
      throw new ModelError(`cannot read ${configPath}: ${(e as Error).message}`, { cause: e });
    }
    const config = parseEsmConfig(json, configPath);
    const { attention, linear, adapters, ...sessionOptions } = opts;
    const list = (adapters ?? []).map((a) => (typeof a === 'string' ? { adapter: readPeftAdapter(a) } : a));
    const variants = attention !== undefined || linear !== undefined || list.length > 0;
    const { session } = await cachedSession(
      {
        label: `BALM ${basename(dir)}`,
        files: [configPath, ...weightFiles(dir)],
        params: { graph: 'balm', config },
        build: () => {
          const raw = readWeights(dir);
          const weights = balmWeights(raw);
          checkBalmWeights(weights, config);
          // Adapter modules carry the official names; their sites are balmkit's.
          const sites = () => {
            const out = new Map<string, string>();
            for (const name of raw.keys()) {
              const renamed = name.endsWith('.weight') ? balmWeightName(name) : null;
              if (renamed) out.set(name.replace(/\.weight$/, ''), renamed.replace(/\.weight$/, ''));
            }
            return out;
          };
          const choice = list.length > 0 ? adapterChoice(list, sites(), dir, linear) : linear;
          return serializeModel(buildBalmGraph(weights, config, { ...(attention ? { attention } : {}), ...(choice ? { linear: choice } : {}) }));
        },
      },
      variants ? { ...sessionOptions, cache: false } : sessionOptions,
    );
    return new Balm(config, session, dir);
  }

  get hiddenSize(): number {
    return this.config.hidden_size;
  }

  /** Run one padded batch and return every graph output (logits, hidden states, and any extra outputs of the variant). */
  async run(chains: readonly EncodedChain[]): Promise<{ batch: EncodedBatch; outputs: Record<string, ort.Tensor> }> {
    const batch = padBatch(chains);
    const dims = [batch.batch, batch.length];
    const outputs = await this.session.run({
      input_ids: { dtype: 'int64', dims, data: batch.inputIds },
      position_ids: { dtype: 'int64', dims, data: batch.positionIds },
      attention_mask: { dtype: 'int64', dims, data: batch.attentionMask },
    });
    return { batch, outputs };
  }

  /** Run encoded chains in batches of `batchSize` (padded to each batch's longest). */
  async forward(chains: readonly EncodedChain[], batchSize = 32): Promise<BalmOutput[]> {
    const out: BalmOutput[] = [];
    for (let start = 0; start < chains.length; start += batchSize) {
      const part = chains.slice(start, start + batchSize);
      const { batch: b, outputs: r } = await this.run(part);
      const logits = r.logits.data as Float32Array;
      const hidden = r.hidden_states.data as Float32Array;
      const v = this.config.vocab_size;
      const d = this.config.hidden_size;
      part.forEach((c, i) => {
        const n = c.inputIds.length;
        out.push({
          length: n,
          logits: logits.slice(i * b.length * v, (i * b.length + n) * v),
          hidden: hidden.slice(i * b.length * d, (i * b.length + n) * d),
        });
      });
    }
    return out;
  }

  /** Per-residue and pooled embeddings (the last hidden state, after the final LayerNorm). */
  async embed(chains: readonly NumberedChain[], batchSize = 32): Promise<ChainEmbedding[]> {
    const outs = await this.forward(
      chains.map((c) => encodeChain(c.sequence, c.numbering)),
      batchSize,
    );
    const d = this.hiddenSize;
    return outs.map((o) => {
      const residues = o.length - 2;
      const perResidue = o.hidden.slice(d, (residues + 1) * d);
      const mean = new Float32Array(d);
      for (let r = 0; r < residues; r++) for (let j = 0; j < d; j++) mean[j] += perResidue[r * d + j] / residues;
      return { residues, hidden: d, perResidue, mean, cls: o.hidden.slice(0, d) };
    });
  }

  /**
   * Pseudo-log-likelihood of every residue: one forward pass per residue with that residue
   * masked (batched), as in ESM's PLL. Chains longer than 166 residues are scored on their first 166.
   */
  async score(chains: readonly NumberedChain[], batchSize = 64): Promise<ChainScore[]> {
    const scores: ChainScore[] = [];
    const v = this.config.vocab_size;
    for (const c of chains) {
      const n = Math.min(c.sequence.length, 166);
      const masked = Array.from({ length: n }, (_, i) => encodeChain(c.sequence, c.numbering, [i]));
      const outs = await this.forward(masked, batchSize);
      const perResidue = new Float32Array(n);
      outs.forEach((o, i) => (perResidue[i] = logProbability(o.logits.subarray((i + 1) * v, (i + 2) * v), residueToken(c.sequence[i]))));
      const meanPll = perResidue.reduce((a, b) => a + b, 0) / n;
      scores.push({ perResidue, meanPll, pseudoPerplexity: Math.exp(-meanPll) });
    }
    return scores;
  }

  /** The `topK` most likely amino acids at each of `masked` (residue indices), all masked at once. */
  async infill(chain: NumberedChain, masked: readonly number[], topK = 5): Promise<Infill[]> {
    const [o] = await this.forward([encodeChain(chain.sequence, chain.numbering, masked)]);
    const v = this.config.vocab_size;
    return masked.map((index) => {
      const row = o.logits.subarray((index + 1) * v, (index + 2) * v);
      const max = Math.max(...STANDARD_IDS.map((t) => row[t]));
      const exps = STANDARD_IDS.map((t) => Math.exp(row[t] - max));
      const z = exps.reduce((a, b) => a + b, 0);
      const candidates = STANDARD_IDS.map((t, k) => ({ aa: ESM_VOCAB[t], probability: exps[k] / z }))
        .sort((a, b) => b.probability - a.probability)
        .slice(0, topK);
      return { index, candidates };
    });
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
