/**
 * The feed-forward of a layer as a *variant*, like attention's and the linear layers': a typed
 * object chosen per layer. `standardFeedForward` builds what the checkpoint holds (an MLP, or a
 * mixture of experts with every expert kept); `moeFeedForward` keeps a subset of the experts
 * (expert drop is a config change) and picks how experts are computed. Expert merging (MEO) and
 * other expert surgery plug in here as further variants.
 */
import { GraphError, type Value } from '../onnx/index.js';
import type { LinearChoice } from './linear.js';
import { type MlpKind, mlp } from './mlp.js';
import { moe } from './moe.js';
import type { Weights } from './weights.js';

/** What the checkpoint's feed-forward is (from the model config). */
export interface FeedForwardSpec {
  hidden: number;
  ffn: number;
  bias: boolean;
  /** An MLP, or a mixture of experts (`experts`, `topK`). */
  kind: MlpKind | 'moe';
  experts?: number;
  topK?: number;
  linear?: LinearChoice;
}

export interface FeedForwardVariant {
  readonly kind: string;
  /** x [B, S, hidden] → [B, S, hidden], weights under `w` (the layer's `mlp` scope). */
  build(x: Value, w: Weights, spec: FeedForwardSpec, layer: number): Value;
  /** Weight names under `w` it leaves unread on purpose (a dropped expert's), so the builder does not call them unexpected. */
  unread?(w: Weights, spec: FeedForwardSpec, layer: number): RegExp[];
}

export interface MoeFeedForwardOptions {
  /** The experts kept, for every layer or per layer (default all). */
  keep?: readonly number[] | ((layer: number) => readonly number[]);
  /** `sparse` (default): each expert on the tokens routed to it; `dense`: every expert on every token; `per-token`: see {@link MoeSpec}. */
  compute?: 'sparse' | 'dense' | 'per-token';
}

/** A mixture of experts: the kept experts, computed as asked. */
export function moeFeedForward(o: MoeFeedForwardOptions = {}): FeedForwardVariant {
  const keepOf = (layer: number) => (typeof o.keep === 'function' ? o.keep(layer) : o.keep);
  const moeSpec = (s: FeedForwardSpec) => {
    if (s.kind !== 'moe' || s.experts === undefined || s.topK === undefined) throw new GraphError(`a mixture-of-experts feed-forward on a model whose feed-forward is '${s.kind}'`);
    return { experts: s.experts, topK: s.topK };
  };
  return {
    kind: 'moe',
    build(x, w, s, layer) {
      const keep = keepOf(layer);
      return moe(x, w, {
        hidden: s.hidden,
        ffn: s.ffn,
        ...moeSpec(s),
        ...(s.linear ? { linear: s.linear } : {}),
        ...(keep ? { keep } : {}),
        ...(o.compute ? { compute: o.compute } : {}),
      });
    },
    unread(w, s, layer) {
      const keep = keepOf(layer);
      if (!keep) return [];
      const escaped = w.fullName('experts.').replace(/\./g, '\\.');
      return Array.from({ length: moeSpec(s).experts }, (_, e) => e)
        .filter((e) => !keep.includes(e))
        .map((e) => new RegExp(`^${escaped}${e}\\.`));
    },
  };
}

/** What the checkpoint holds: its MLP, or its mixture of experts with every expert. */
export function standardFeedForward(): FeedForwardVariant {
  const experts = moeFeedForward();
  return {
    kind: 'standard',
    build(x, w, s, layer) {
      if (s.kind === 'moe') return experts.build(x, w, s, layer);
      return mlp(x, w, { kind: s.kind, hidden: s.hidden, ffn: s.ffn, bias: s.bias, ...(s.linear ? { linear: s.linear } : {}) });
    },
  };
}
