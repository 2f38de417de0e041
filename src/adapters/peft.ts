/**
 * LoRA adapters in the Hugging Face PEFT layout: `adapter_config.json` and
 * `adapter_model.safetensors` with `base_model.model.<module>.lora_A.weight` [r, in] and
 * `lora_B.weight` [out, r]. Scaling as PEFT computes it (peft/tuners/lora/layer.py,
 * `update_layer`): lora_alpha / r, or lora_alpha / √r with `use_rslora`; `rank_pattern` and
 * `alpha_pattern` override r and alpha for modules whose name ends with the key.
 *
 * What balmkit does not support is refused with the field named: DoRA (`use_dora`), `bias` other
 * than "none", `modules_to_save`, other `peft_type`s.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

import { readSafetensors } from '../io/safetensors.js';
import type { HostTensor } from '../io/tensor.js';
import { ModelError } from '../runtime/errors.js';
import { describeZodError } from '../util/zod.js';

const adapterConfigSchema = z.looseObject({
  peft_type: z.string(),
  r: z.number().int().positive(),
  lora_alpha: z.number().positive(),
  target_modules: z.union([z.array(z.string()), z.string()]),
  use_rslora: z.boolean().optional(),
  use_dora: z.boolean().optional(),
  rank_pattern: z.record(z.string(), z.number().int().positive()).optional(),
  alpha_pattern: z.record(z.string(), z.number().positive()).optional(),
  bias: z.string().optional(),
  fan_in_fan_out: z.boolean().optional(),
  modules_to_save: z.array(z.string()).nullable().optional(),
  base_model_name_or_path: z.string().nullable().optional(),
});

export type AdapterConfig = z.output<typeof adapterConfigSchema>;

/** One module's low-rank update as the adapter stores it. */
export interface LoraModule {
  a: HostTensor;
  b: HostTensor;
  r: number;
  alpha: number;
  /** alpha / r, or alpha / √r with rsLoRA. */
  scale: number;
}

export interface PeftAdapter {
  /** The name requests use (vLLM's --lora-modules name=path): the folder name by default. */
  name: string;
  folder: string;
  config: AdapterConfig;
  /** Updates by the base model's module name (`model.layers.0.self_attn.q_proj`). */
  modules: Map<string, LoraModule>;
}

/** The value a PEFT pattern map gives `module` (a key matches a name that ends with `.<key>` or is it). */
function patternValue<T>(module: string, pattern: Readonly<Record<string, T>> | undefined, fallback: T): T {
  for (const [key, value] of Object.entries(pattern ?? {})) if (new RegExp(`^(.*\\.)?${key}$`).test(module)) return value;
  return fallback;
}

/**
 * Reads a PEFT LoRA adapter folder.
 * @throws ModelError naming the file and field when the adapter is malformed or uses what balmkit does not support.
 */
export function readPeftAdapter(folder: string, name = folder.replace(/\/+$/, '').split('/').pop() ?? 'adapter'): PeftAdapter {
  const cfgFile = join(folder, 'adapter_config.json');
  if (!existsSync(cfgFile)) throw new ModelError(`${folder}: no adapter_config.json (a PEFT adapter folder holds adapter_config.json and adapter_model.safetensors)`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(cfgFile, 'utf8'));
  } catch (e) {
    throw new ModelError(`${cfgFile}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  const parsed = adapterConfigSchema.safeParse(raw);
  if (!parsed.success) throw new ModelError(`${cfgFile}: ${describeZodError(parsed.error)}`);
  const config = parsed.data;
  const refuse = (field: string, why: string) => {
    throw new ModelError(`${cfgFile}: ${field} ${why}; balmkit reads plain LoRA adapters (peft_type LORA, bias "none")`);
  };
  if (config.peft_type !== 'LORA') refuse('peft_type', `is '${config.peft_type}'`);
  if (config.use_dora) refuse('use_dora', 'is true (DoRA is not supported)');
  if ((config.bias ?? 'none') !== 'none') refuse('bias', `is '${config.bias}'`);
  if (config.modules_to_save && config.modules_to_save.length > 0) refuse('modules_to_save', `lists ${config.modules_to_save.join(', ')} (full copies of modules are not supported)`);
  if (config.fan_in_fan_out) refuse('fan_in_fan_out', 'is true (Conv1D adapters, GPT-2, are not read yet)');

  const weightsFile = join(folder, 'adapter_model.safetensors');
  if (!existsSync(weightsFile)) throw new ModelError(`${folder}: no adapter_model.safetensors`);
  const tensors = readSafetensors(weightsFile).tensors;
  const modules = new Map<string, LoraModule>();
  for (const key of tensors.keys()) {
    const m = /^base_model\.model\.(.+)\.lora_A(?:\.[^.]+)?\.weight$/.exec(key);
    if (m === null) {
      if (!/\.lora_B(?:\.[^.]+)?\.weight$/.test(key)) throw new ModelError(`${weightsFile}: tensor '${key}' is not a LoRA A or B matrix (base_model.model.<module>.lora_A.weight / lora_B.weight)`);
      continue;
    }
    const module = m[1];
    const a = tensors.get(key)!;
    const b = tensors.get(key.replace('.lora_A', '.lora_B'));
    if (b === undefined) throw new ModelError(`${weightsFile}: '${key}' has no lora_B beside it`);
    const r = patternValue(module, config.rank_pattern, config.r);
    const alpha = patternValue(module, config.alpha_pattern, config.lora_alpha);
    if (a.shape[0] !== r || b.shape[1] !== r) throw new ModelError(`${weightsFile}: '${key}' has rank ${a.shape[0]} (lora_B: ${b.shape[1]}), adapter_config.json says r = ${r} for this module`);
    modules.set(module, { a, b, r, alpha, scale: config.use_rslora ? alpha / Math.sqrt(r) : alpha / r });
  }
  if (modules.size === 0) throw new ModelError(`${weightsFile}: no LoRA tensors`);
  return { name, folder, config, modules };
}
