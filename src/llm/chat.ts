/**
 * Chat prompts: the model's own `chat_template` from tokenizer_config.json rendered with
 * `@huggingface/jinja` (as transformers' apply_chat_template does, with add_generation_prompt), or,
 * for models without one (llama2.c checkpoints), a plain documented template:
 *
 *     system: <content>\n
 *     user: <content>\n
 *     assistant: <content>\n
 *     assistant:
 *
 * The plain template is tokenized with the tokenizer's default special tokens (BOS for llama2.c);
 * a rendered template carries its own, so it is tokenized without adding any.
 */
import { Template } from '@huggingface/jinja';
import type { TextTokenizer } from './tokenizer.js';

export interface ChatMessage {
  role: string;
  content: string;
}

/** The plain template's text for `messages` (see the module comment). */
export function plainChatPrompt(messages: readonly ChatMessage[]): string {
  return `${messages.map((m) => `${m.role}: ${m.content}\n`).join('')}assistant:`;
}

/** A tokenizer's chat template, when its tokenizer_config.json has one (a string, or the "default" of a list). */
export function chatTemplateOf(tokenizer: TextTokenizer): string | null {
  const cfg = (tokenizer as { config?: Record<string, unknown> }).config;
  const t = cfg?.chat_template;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    const d = t.find((x: unknown) => (x as { name?: unknown })?.name === 'default') as { template?: unknown } | undefined;
    if (typeof d?.template === 'string') return d.template;
  }
  return null;
}

function specialText(cfg: Record<string, unknown> | undefined, key: string): string {
  const v = cfg?.[key];
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return '';
}

/** Prompt token ids for a conversation, ending where the assistant's reply begins. */
export function chatPromptTokens(tokenizer: TextTokenizer, messages: readonly ChatMessage[]): number[] {
  const template = chatTemplateOf(tokenizer);
  if (template === null) return tokenizer.encode(plainChatPrompt(messages));
  const cfg = (tokenizer as { config?: Record<string, unknown> }).config;
  const text = new Template(template).render({
    messages,
    add_generation_prompt: true,
    bos_token: specialText(cfg, 'bos_token'),
    eos_token: specialText(cfg, 'eos_token'),
  });
  return tokenizer.encode(text, { bos: false });
}
