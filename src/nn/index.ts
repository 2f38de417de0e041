/** Shared transformer blocks: every model in balmkit (BALM, BALMFold's trunk, LLMs) is built from these. */
export { Weights } from './weights.js';
export { embedding } from './embedding.js';
export {
  type LinearChoice,
  type LinearSite,
  type LinearSpec,
  type LinearVariant,
  type PatternScope,
  capturingLinear,
  checkChoiceUsed,
  denseLinear,
  linear,
  linearFor,
  linearPatterns,
  siteOf,
} from './linear.js';
export { layerNorm, norm, type NormKind, rmsNorm } from './norm.js';
export { gelu, geluTanh, mlp, type MlpKind, type MlpSpec, silu } from './mlp.js';
export { moe, type MoeSpec } from './moe.js';
export { applyRotary, inverseFrequencies, type RotaryConfig, type RotaryScaling, type RotaryTables, rotaryTables } from './rotary.js';
export {
  type AttendArgs,
  type AttendResult,
  type AttentionCall,
  type AttentionDims,
  type AttentionSpec,
  type AttentionVariant,
  type CacheSlot,
  type FullAttentionOptions,
  MASKED,
  MaskContext,
  appendKv,
  attention,
  attentionDims,
  fullAttention,
  headsFirst,
  kvCacheSlots,
  scaledDotProductAttention,
} from './attention.js';
export { type StackOptions, arange, dimOf, feedForwardFor, maskFromSlots, variantFor } from './stack.js';
export { type LoraUpdate, loraLinear, mergeLora } from './lora.js';
export { type FeedForwardSpec, type FeedForwardVariant, type MoeFeedForwardOptions, moeFeedForward, standardFeedForward } from './feed-forward.js';
export { type EncoderConfig, type EncoderContext, buildEncoderGraph, encoderContext, encoderLayer, encoderLayers } from './encoder.js';
export { type DecoderConfig, type DecoderGraphOptions, buildDecoderGraph, decoderCacheSlots } from './decoder.js';
export { DecoderCache } from './cache.js';
