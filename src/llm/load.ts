/**
 * One entry point for causal LMs: a Hugging Face folder (Llama, Mistral, Qwen2, Mixtral, GPT-2;
 * config.json + safetensors / sharded
 * index / pytorch_model.bin, tokenizer.json) or a llama2.c checkpoint (+ its tokenizer file).
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { detectWeightFormat, readWeights, weightFiles } from '../io/weights.js';
import { type WeightedAdapter, adapterChoice, readPeftAdapter } from '../adapters/index.js';
import { expectedHfTensors, hfModelConfig, mapHfTensors } from './hf.js';
import { looksLikeLlama2c, readLlama2cCheckpoint } from './llama2c.js';
import { Llama2cTokenizer } from './llama2c_tokenizer.js';
import { CausalLM, type ModelOptions } from './model.js';
import { HfTokenizer, type TextTokenizer } from './tokenizer.js';
import { ModelError } from '../runtime/errors.js';

/** Options of {@link loadModel}. */
export interface LoadModelOptions extends ModelOptions {
  /**
   * Tokenizer: a llama2.c tokenizer file, a `tokenizer.json`, or a folder holding one. Default: the
   * model folder's tokenizer.json, or `tokenizer.bin` beside a llama2.c checkpoint. `false`: none.
   */
  tokenizer?: string | false;
  /**
   * LoRA adapters (Hugging Face PEFT folders, or read with `readPeftAdapter`) applied unmerged to a
   * Hugging Face model; several add their updates, each times its weight.
   */
  adapters?: readonly (string | WeightedAdapter)[];
}

/**
 * Loads a causal LM and its tokenizer.
 * @throws naming the file and what is wrong: unknown format, a missing or misshapen tensor, a truncated file.
 */
export async function loadModel(path: string, options: LoadModelOptions = {}): Promise<CausalLM> {
  const { tokenizer: tokPath, adapters, ...modelOptions } = options;
  if (!existsSync(path)) throw new ModelError(`${path}: no such file or folder (give a Hugging Face model folder or a llama2.c .bin)`);
  if (statSync(path).isDirectory()) {
    const cfgFile = join(path, 'config.json');
    if (!existsSync(cfgFile)) throw new ModelError(`${path}: folder has no config.json (a Hugging Face model folder needs one)`);
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(cfgFile, 'utf8'));
    } catch (err) {
      throw new ModelError(`${cfgFile}: not valid JSON (${(err as Error).message})`, { cause: err });
    }
    const hf = hfModelConfig(raw, path);
    const { decoder, eos } = hf;
    // Read only when the graph is built: a model from the disk cache needs no weights.
    const tensors = () => mapHfTensors(readWeights(path), decoder, path, hf.arch);
    let tokenizer: TextTokenizer | null = null;
    if (tokPath !== false) {
      const tp = tokPath ?? path;
      if (tokPath !== undefined || existsSync(join(path, 'tokenizer.json'))) tokenizer = HfTokenizer.fromPath(tp, eos);
    }
    let options = modelOptions;
    if (adapters && adapters.length > 0) {
      if (hf.arch === 'gpt2') throw new ModelError(`${path}: adapters on GPT-2 (Conv1D, fan_in_fan_out) are not supported yet`);
      const moduleToSite = new Map(
        expectedHfTensors(decoder)
          .filter((e) => e.shape.length === 2 && e.name.endsWith('.weight'))
          .map((e) => [e.hf.replace(/\.weight$/, ''), e.name.replace(/\.weight$/, '')]),
      );
      const list = adapters.map((a) => (typeof a === 'string' ? { adapter: readPeftAdapter(a) } : a));
      options = { ...modelOptions, stack: { ...modelOptions.stack, linear: adapterChoice(list, moduleToSite, path, modelOptions.stack?.linear) } };
    }
    return CausalLM.create(tensors, { arch: hf.arch, decoder, maxPositions: hf.maxPositions, source: path, eos }, tokenizer, options, [cfgFile, ...weightFiles(path)]);
  }
  const format = detectWeightFormat(path);
  if (format !== 'unknown' && !looksLikeLlama2c(readHead(path, 28))) {
    throw new ModelError(`${path}: is a ${format} weights file; give the Hugging Face model folder that holds it with its config.json`);
  }
  const ckpt = readLlama2cCheckpoint(path);
  let tokenizer: TextTokenizer | null = null;
  if (tokPath !== false) {
    const tp = tokPath ?? join(dirname(path), 'tokenizer.bin');
    if (tokPath !== undefined || existsSync(tp)) tokenizer = Llama2cTokenizer.fromFile(tp, ckpt.header.vocab);
  }
  // run.c's generate() stops when the next token is BOS (1): llama2.c's training data separates texts with it.
  return CausalLM.create(ckpt.tensors, { arch: 'llama2c', decoder: ckpt.config, maxPositions: ckpt.header.seqLen, source: path, eos: [1] }, tokenizer, modelOptions, [path]);
}

function readHead(path: string, n: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const buf = new Uint8Array(n);
    const got = readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}
