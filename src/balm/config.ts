/** BALM's `config.json` (a Hugging Face `EsmConfig`), validated with zod. */
import { z } from 'zod';
import { ModelError } from '../runtime/errors.js';
import { describeZodError } from '../util/zod.js';

export const EsmConfigSchema = z
  .object({
    vocab_size: z.number().int().positive(),
    hidden_size: z.number().int().positive(),
    num_hidden_layers: z.number().int().positive(),
    num_attention_heads: z.number().int().positive(),
    intermediate_size: z.number().int().positive(),
    max_position_embeddings: z.number().int().min(141, 'BALM position ids reach 140: max_position_embeddings must be ≥ 141'),
    layer_norm_eps: z.number().positive().default(1e-5),
    position_embedding_type: z.enum(['rotary', 'absolute']).default('rotary'),
    token_dropout: z.boolean().default(true),
    emb_layer_norm_before: z.boolean().nullable().default(false),
    pad_token_id: z.number().int().default(1),
    mask_token_id: z.number().int().default(32),
    hidden_act: z.literal('gelu').default('gelu'),
    tie_word_embeddings: z.boolean().default(true),
  })
  .passthrough();

export type EsmConfig = z.infer<typeof EsmConfigSchema>;

/** Parse a config object, naming the file and the field on error. */
export function parseEsmConfig(json: unknown, source = 'config.json'): EsmConfig {
  const r = EsmConfigSchema.safeParse(json);
  if (!r.success) {
    throw new ModelError(`${source} is not a BALM/ESM config: ${describeZodError(r.error)}`);
  }
  if (r.data.hidden_size % r.data.num_attention_heads !== 0) {
    throw new ModelError(`${source}: hidden_size ${r.data.hidden_size} is not divisible by num_attention_heads ${r.data.num_attention_heads}`);
  }
  if (r.data.vocab_size !== 33) throw new ModelError(`${source}: vocab_size is ${r.data.vocab_size}; BALM uses ESM-2's 33 tokens`);
  return r.data;
}
