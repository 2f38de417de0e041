/**
 * Mixture-of-experts feed-forward (Mixtral): a router scores the experts, softmax over them, the
 * top-k are kept (exactly k: ties go to the lower expert index, ONNX TopK's rule and
 * `torch.topk`'s on CPU), their weights renormalised to sum to 1, and the output is the weighted
 * sum of those experts' SwiGLU outputs.
 *
 * Only the selected experts run: the tokens are flattened, each expert gathers the rows routed to
 * it (NonZero), runs on those and adds its weighted output back (ScatterND with reduction add).
 * At decode an expert that no token picked runs on zero rows. `compute: 'dense'` runs every
 * expert on every token instead (the old graph, kept to measure against and as a reference).
 *
 * `keep` lists the experts the model still has (expert drop is a config change): the router's
 * rows of the others are not read, the softmax is over the kept experts, top-k is min(k, kept),
 * and the weights of dropped experts are never asked for.
 */
import { GraphError, op, type Value } from '../onnx/index.js';
import type { LinearChoice } from './linear.js';
import { linear } from './linear.js';
import { mlp } from './mlp.js';
import { toFloat32 } from '../io/tensor.js';
import type { Weights } from './weights.js';

export interface MoeSpec {
  hidden: number;
  /** Each expert's SwiGLU width. */
  ffn: number;
  experts: number;
  /** Experts per token (Mixtral: 2). */
  topK: number;
  /** The experts kept, ascending (default all). Their weights keep their checkpoint index. */
  keep?: readonly number[];
  /**
   * `sparse` (default): each expert runs on the tokens routed to it; `dense`: every expert on every
   * token; `per-token`: each token gathers its k experts' weights and runs them itself (measured
   * against `sparse` in bench/moe.ts; it copies k experts' weights per token, so it suits decode
   * only, and it bypasses the experts' linear variants).
   */
  compute?: 'sparse' | 'dense' | 'per-token';
  linear?: LinearChoice;
}

/** The kept experts, checked. */
function keptExperts(s: MoeSpec): number[] {
  const keep = s.keep ? [...s.keep] : Array.from({ length: s.experts }, (_, e) => e);
  if (keep.length === 0) throw new GraphError('MoE keep: at least one expert must be kept');
  keep.forEach((e, i) => {
    if (!Number.isInteger(e) || e < 0 || e >= s.experts) throw new GraphError(`MoE keep: expert ${e} is not one of 0…${s.experts - 1}`);
    if (i > 0 && e <= keep[i - 1]) throw new GraphError(`MoE keep: experts must be listed once, ascending (got ${keep.join(', ')})`);
  });
  return keep;
}

/**
 * Weights under `w`: `router.weight` [experts, hidden] and, per expert e,
 * `experts.<e>.{gate_proj,up_proj,down_proj}.weight`. x [B, S, hidden] → [B, S, hidden].
 */
export function moe(x: Value, w: Weights, s: MoeSpec): Value {
  if (!(s.topK >= 1 && s.topK <= s.experts)) throw new GraphError(`MoE topK ${s.topK} must be 1…${s.experts}`);
  const keep = keptExperts(s);
  const k = Math.min(s.topK, keep.length);
  const g = x.graph;
  const xf = op.reshape(x, [-1, s.hidden]); // [N, D]
  let logits = linear(xf, w.scope('router'), { inFeatures: s.hidden, outFeatures: s.experts, bias: false }, s.linear); // [N, E]
  if (keep.length < s.experts) logits = op.gather(logits, keep, 1); // [N, kept]
  const probs = op.softmax(logits, -1);
  const [top, picked] = op.topK(probs, k, -1); // exactly k per token; ties: lower index
  const gates = op.div(top, op.reduceSum(top, [-1])); // [N, k]
  const expert = (j: number, rows: Value) => mlp(rows, w.scope(`experts.${keep[j]}`), { kind: 'swiglu', hidden: s.hidden, ffn: s.ffn, bias: false, ...(s.linear ? { linear: s.linear } : {}) });
  const zero = op.constant(g, 'float32', [0], []);
  /** Each token's weight for kept expert j: its gate where j was picked, else 0. [N] */
  const weightOf = (j: number) => op.reduceSum(op.where(op.equal(picked, op.constant(g, 'int64', [j], [])), gates, zero), [-1], false);

  let out: Value;
  if (s.compute === 'per-token') {
    out = perToken(xf, w, s, keep, picked, gates);
  } else if (s.compute === 'dense') {
    out = keep.map((_, j) => op.mul(expert(j, xf), op.unsqueeze(weightOf(j), [1]))).reduce((a, b) => op.add(a, b));
  } else {
    out = op.mul(xf, zero); // [N, D] zeros of x's shape
    for (let j = 0; j < keep.length; j++) {
      const wj = weightOf(j);
      const rows = op.transpose(op.nonZero(op.greater(wj, zero)), [1, 0]); // [n, 1]: tokens that picked j
      const y = expert(j, op.gatherND(xf, rows)); // [n, D]
      out = op.scatterND(out, rows, op.mul(y, op.unsqueeze(op.gatherND(wj, rows), [1])), { reduction: 'add' });
    }
  }
  return op.reshape(out, op.shape(x));
}

/** Each token runs its own k experts from the experts' weights stacked [kept, …] and gathered by `picked`. */
function perToken(xf: Value, w: Weights, s: MoeSpec, keep: readonly number[], picked: Value, gates: Value): Value {
  // One derived tensor per projection (Weights.derived, under the first kept expert's name); the other experts' reads are recorded too.
  const stacked = (proj: string, rows: number, cols: number) =>
    w.derived(
      `experts.${keep[0]}.${proj}.weight`,
      `stacked.${keep.join('-')}`,
      () => {
        const data = new Float32Array(keep.length * rows * cols);
        keep.forEach((e, j) => data.set(toFloat32(w.tensor(`experts.${e}.${proj}.weight`, [rows, cols])), j * rows * cols));
        return { dtype: 'float32', dims: [keep.length, rows, cols], data };
      },
      [rows, cols],
    );
  const x = op.unsqueeze(op.unsqueeze(xf, [1]), [3]); // [N, 1, D, 1]
  const gate = op.squeeze(op.matMul(op.gather(stacked('gate_proj', s.ffn, s.hidden), picked, 0), x), [3]); // [N, k, ffn]
  const up = op.squeeze(op.matMul(op.gather(stacked('up_proj', s.ffn, s.hidden), picked, 0), x), [3]);
  const act = op.unsqueeze(op.mul(op.mul(gate, op.sigmoid(gate)), up), [3]); // [N, k, ffn, 1]
  const y = op.squeeze(op.matMul(op.gather(stacked('down_proj', s.hidden, s.ffn), picked, 0), act), [3]); // [N, k, D]
  return op.reduceSum(op.mul(y, op.unsqueeze(gates, [2])), [1], false); // [N, D]
}
