/**
 * Mixture-of-experts feed-forward (Mixtral): a router picks the top-k experts per token from
 * softmax(router x), their weights renormalized to sum to 1, and the output is the weighted sum of
 * those experts' SwiGLU outputs.
 *
 * Computed densely: every expert runs on every token and unselected experts get weight 0, so the
 * cost is `experts / topK` times a sparse implementation's (4× for Mixtral's 8 experts, top 2).
 * Sparse routing (gather tokens per expert) is later work; the weights and results are the same.
 */
import { op, type Value } from '../onnx/index.js';
import type { LinearVariant } from './linear.js';
import { linear } from './linear.js';
import { mlp } from './mlp.js';
import type { Weights } from './weights.js';

export interface MoeSpec {
  hidden: number;
  /** Each expert's SwiGLU width. */
  ffn: number;
  experts: number;
  /** Experts per token (Mixtral: 2). */
  topK: number;
  linear?: LinearVariant;
}

/**
 * Weights under `w`: `router.weight` [experts, hidden] and, per expert e,
 * `experts.<e>.{gate_proj,up_proj,down_proj}.weight`. x [B, S, hidden] → [B, S, hidden].
 */
export function moe(x: Value, w: Weights, s: MoeSpec): Value {
  if (!(s.topK >= 1 && s.topK <= s.experts)) throw new Error(`MoE topK ${s.topK} must be 1…${s.experts}`);
  const logits = linear(x, w.scope('router'), { inFeatures: s.hidden, outFeatures: s.experts, bias: false });
  const probs = op.softmax(logits, -1); // [B,S,E]
  // Keep the top-k probabilities (those ≥ the k-th largest) and renormalize them.
  const [top] = op.topK(probs, s.topK, -1);
  const kth = op.slice(top, [s.topK - 1], [s.topK], [2]); // [B,S,1]
  const kept = op.where(op.greaterOrEqual(probs, kth), probs, op.constant(x.graph, 'float32', [0], []));
  const gates = op.div(kept, op.reduceSum(kept, [-1])); // [B,S,E]
  const outs = Array.from({ length: s.experts }, (_, e) =>
    op.unsqueeze(mlp(x, w.scope(`experts.${e}`), { kind: 'swiglu', hidden: s.hidden, ffn: s.ffn, bias: false, ...(s.linear ? { linear: s.linear } : {}) }), [2]),
  );
  const all = op.concat(outs, 2); // [B,S,E,D]
  return op.reduceSum(op.mul(all, op.unsqueeze(gates, [3])), [2], false);
}
