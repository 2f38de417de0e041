/**
 * `Balm`: load a BALM checkpoint folder (official Hugging Face layout or balmkit's) and run it.
 * Numbering is the caller's (src/antibody turns sequences into IMGT positions); this class takes
 * numbered chains.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type * as ort from 'onnxruntime-node';
import { readWeights } from '../io/weights.js';
import type { StackOptions } from '../nn/index.js';
import { serializeModel } from '../onnx/index.js';
import { type Session, type SessionOptions, createSession } from '../runtime/index.js';
import { type EsmConfig, parseEsmConfig } from './config.js';
import { balmWeights, buildBalmGraph, checkBalmWeights } from './model.js';
import { type EncodedChain, padBatch } from './tokenizer.js';

export interface BalmLoadOptions extends SessionOptions, StackOptions {}

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
    if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`BALM model folder '${dir}' does not exist`);
    const configPath = join(dir, 'config.json');
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(configPath, 'utf8'));
    } catch (e) {
      throw new Error(`cannot read ${configPath}: ${(e as Error).message}`);
    }
    const config = parseEsmConfig(json, configPath);
    const weights = balmWeights(readWeights(dir));
    checkBalmWeights(weights, config);
    const bytes = serializeModel(buildBalmGraph(weights, config, { attention: opts.attention, linear: opts.linear }));
    return new Balm(config, await createSession(bytes, opts), dir);
  }

  get hiddenSize(): number {
    return this.config.hidden_size;
  }

  /** Run encoded chains in batches of `batchSize` (padded to each batch's longest). */
  async forward(chains: readonly EncodedChain[], batchSize = 32): Promise<BalmOutput[]> {
    const out: BalmOutput[] = [];
    for (let start = 0; start < chains.length; start += batchSize) {
      const part = chains.slice(start, start + batchSize);
      const b = padBatch(part);
      const dims = [b.batch, b.length];
      const r: Record<string, ort.Tensor> = await this.session.run({
        input_ids: { dtype: 'int64', dims, data: b.inputIds },
        position_ids: { dtype: 'int64', dims, data: b.positionIds },
        attention_mask: { dtype: 'int64', dims, data: b.attentionMask },
      });
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

  async release(): Promise<void> {
    await this.session.release();
  }
}
