/** Adapters (LoRA in the Hugging Face PEFT layout) read and applied to balmkit's models. */
export { type AdapterConfig, type LoraModule, type PeftAdapter, readPeftAdapter } from './peft.js';
export { type WeightedAdapter, adapterChoice } from './apply.js';
export { mergeAdapters } from './merge.js';
