/** What every stack shares: the per-layer attention variant choice and the masks built from slots. */
import { op, type Value } from '../onnx/index.js';
import { type AttentionVariant, fullAttention, MaskContext } from './attention.js';
import { type FeedForwardVariant, standardFeedForward } from './feed-forward.js';
import type { LinearChoice } from './linear.js';

export interface StackOptions {
  /** Attention variant for every layer, or per layer. Default: {@link fullAttention}. */
  attention?: AttentionVariant | ((layer: number) => AttentionVariant);
  /** Linear variant of each projection (one for all, a function of the site, or {@link linearPatterns}). Default dense. */
  linear?: LinearChoice;
  /** Feed-forward variant for every layer, or per layer (expert drop: {@link moeFeedForward}). Default: {@link standardFeedForward}. */
  feedForward?: FeedForwardVariant | ((layer: number) => FeedForwardVariant);
}

export function feedForwardFor(opts: StackOptions, layer: number): FeedForwardVariant {
  const f = opts.feedForward;
  if (f === undefined) return standardFeedForward();
  return typeof f === 'function' ? f(layer) : f;
}

export function variantFor(opts: StackOptions, layer: number): AttentionVariant {
  const a = opts.attention;
  if (a === undefined) return fullAttention();
  return typeof a === 'function' ? a(layer) : a;
}

/** Scalar int64 size of axis `axis` of x. */
export function dimOf(x: Value, axis: number): Value {
  return op.gatherScalar(op.shape(x), axis);
}

/** int64 [n] = 0 … n−1 for a scalar int64 n, or from `start`. */
export function arange(n: Value, start?: Value): Value {
  const g = n.graph;
  return op.range(start ?? op.constant(g, 'int64', [0], []), n, op.constant(g, 'int64', [1], []));
}

/**
 * Masks for `S` queries that are the last slots of `T` keys. `attentionMask` int64 [B, T]
 * (1 = token, 0 = padding) or null when nothing is padded; `window` limits how far back a query
 * sees (sliding-window attention), null for no limit.
 */
export function maskFromSlots(queryLength: Value, keyLength: Value, causal: boolean, attentionMask: Value | null, window: number | null = null): MaskContext {
  const querySlots = arange(keyLength, op.sub(keyLength, queryLength));
  const keySlots = arange(keyLength);
  const keyValid = attentionMask ? op.cast(attentionMask, 'bool') : null;
  return new MaskContext(querySlots, keySlots, causal, keyValid, window);
}
