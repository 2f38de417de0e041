/**
 * Causal language models on the shared decoder blocks: Llama / Mistral / Qwen2 from Hugging Face
 * folders and llama2.c checkpoints, their tokenizers, generation, log-probabilities and perplexity.
 */
export { type Llama2cCheckpoint, type Llama2cHeader, looksLikeLlama2c, readLlama2cCheckpoint } from './llama2c.js';
export { Llama2cTokenizer } from './llama2c_tokenizer.js';
export { type DecodeOptions, type EncodeOptions, HfTokenizer, type TextTokenizer } from './tokenizer.js';
export {
  HF_ARCHS,
  type HfConfig,
  type HfModelConfig,
  decoderConfigFrom,
  expectedHfTensors,
  gpt2ConfigSchema,
  hfConfigSchema,
  hfModelConfig,
  mapHfTensors,
  parseHfConfig,
  ropeScalingFrom,
} from './hf.js';
export { CausalLM, DecoderState, type Logits, type ModelInfo, type ModelOptions, logitsAt } from './model.js';
export { type LoadModelOptions, loadModel } from './load.js';
export { type FinishReason, type GenerateOptions, type Generation, generate, generateTokens } from './generate.js';
export { Rng, Sampler, type SamplingOptions, argmax } from './sampling.js';
export { type LogprobOptions, type Perplexity, type PerplexityOptions, type TokenLogprob, type TopLogprob, logprobs, perplexity, scoreRow } from './score.js';
export { type ChatMessage, chatPromptTokens, chatTemplateOf, plainChatPrompt } from './chat.js';
export { ApiError, type LlmServer, type ServeOptions, chatBody, completionBody, serve } from './serve.js';
