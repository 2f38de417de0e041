/**
 * BALMFold as an ONNX graph: the forward pass of `models/train/balmfold.py` (class `BalmFold`) for
 * one Fv (no batch axis, `n` residues, dynamic), emitted op by op from the same named weights:
 *
 *   single s_i  = W·feat_i + E_aa[aa_i] + E_chain[c_i] + E_imgt[p_i] + w·err_i
 *   pair   z_ij = E_rel[rel(i, j)] + A·s_i + B·s_j + W_t·[RBF(|t_j − t_i|), R_iᵀ(t_j − t_i)/(|t_j − t_i| + 1)]
 *   trunk  4 blocks: gated pair-biased attention, transition; outer product, triangle
 *          multiplication outgoing and incoming (AF2 Alg. 11/12), transition
 *   structure module (Alg. 20, weights shared over `structure_layers` layers): IPA (Alg. 22),
 *          transition, quaternion backbone update (Alg. 23) composed onto the frames, which start at
 *          the template frames; angle resnet → 7 torsions (final layer only)
 *   atoms  frames + torsions → atom14 (Alg. 24, `emitAtomsFromFrames`)
 *   error  error_scale · softplus(MLP(LayerNorm(s))) + error_shift per residue (Å)
 *   recycling (a model trained with `recycles` > 0): trunk and structure module run 1 + recycles
 *          times with shared weights; each later pass adds LayerNorm(previous trunk s and z) and
 *          the template pair features of the previous final frames (AF2 Alg. 32). The graph is
 *          one pass, which {@link runBalmFold} runs once per pass feeding each pass's trunk
 *          outputs and frames to the next: onnxruntime's session set-up grows faster than
 *          linearly with the node count (measured: 1.8 k nodes 0.5 s, 7 k nodes 7–10 s), so an
 *          unrolled 4-pass graph spent seconds before the first prediction. The first pass has
 *          `recycle` = 0, which multiplies the recycling terms away exactly (x + 0 = x).
 *
 * Translations are in nm inside the structure module (AF2's scale, {@link NM} Å each) and in Å in
 * the inputs and outputs, as in PyTorch.
 *
 * Why this is written by hand: nothing in JavaScript turns a PyTorch module or its state dict into
 * an ONNX graph (there is no `torch.onnx` outside Python), and exporting from Python would make
 * Python a build step of the SDK and the shipped graph an opaque artifact. So the graph is emitted
 * here from `src/onnx` op helpers and `src/nn` blocks, line for line after `balmfold.py`, and
 * `test/fold/balmfold.test.ts` holds its coordinates to PyTorch's (≤ 1e-3 Å) on fixed inputs made by
 * `models/train/make-balmfold-parity.py`. Any change to `balmfold.py`'s math must be mirrored here.
 */
import { z } from 'zod';

import { type NamedTensors, toFloat32 } from '../io/tensor.js';
import { type LinearChoice, Weights, embedding, layerNorm, linear, linearFor, siteOf } from '../nn/index.js';
import { GraphBuilder, GraphError, op, type Value } from '../onnx/index.js';
import type * as ort from 'onnxruntime-node';
import type { Feeds, Session } from '../runtime/index.js';
import { emitAtomsFromFrames } from './atoms-graph.js';
import { NUM_TORSIONS } from './atoms.js';
import type { BalmFoldInputs } from './balmfold-input.js';
import { ATOMS_PER_RESIDUE, NUM_RESTYPES } from './residue-constants.js';

/** Å per internal length unit of the structure module. */
export const NM = 10;

const count = z.number().int().positive();

/**
 * `config.json` of a BALMFold model (the PyTorch model's `cfg`; keys and defaults as
 * `DEFAULT_CONFIG` in `models/train/balmfold.py`). Unknown keys are rejected, so a config written by
 * a newer recipe fails loudly here instead of building a different model.
 */
export const balmFoldConfigSchema = z.strictObject({
  feature_dim: count.default(192),
  single_dim: count.default(96),
  pair_dim: count.default(16),
  trunk_blocks: count.default(4),
  trunk_heads: count.default(4),
  triangle_dim: count.default(16),
  outer_dim: count.default(8),
  structure_layers: count.default(8),
  ipa_heads: count.default(4),
  ipa_scalar_dim: count.default(16),
  ipa_query_points: count.default(4),
  ipa_value_points: count.default(8),
  angle_dim: count.default(64),
  relpos_clip: count.default(32),
  imgt_positions: count.default(141),
  rbf_bins: z.number().int().min(2).default(16),
  rbf_min: z.number().default(2.0),
  rbf_max: z.number().default(30.0),
  recycles: z.number().int().min(0).default(0),
  /** The error head's affine calibration (fit on validation after training). */
  error_scale: z.number().positive().default(1),
  error_shift: z.number().default(0),
});

/** A BALMFold configuration (all fields filled in). */
export type BalmFoldConfig = z.output<typeof balmFoldConfigSchema>;

/** Graph input names, in order. */
export const BALMFOLD_INPUTS = ['features', 'aatype', 'chain', 'residue_index', 'imgt_position', 'template_frames', 'template_error'] as const;
/** The extra inputs of a recycling model's pass graph: the previous pass's trunk outputs and final frames, and 0 or 1. */
export const BALMFOLD_RECYCLE_INPUTS = ['prev_single', 'prev_pair', 'prev_frames', 'recycle'] as const;

/** Graph output names (a recycling model's graph also outputs `single` and `pair`, the trunk's). */
export const BALMFOLD_OUTPUTS = ['positions', 'atom_mask', 'frames', 'torsions', 'error'] as const;

// ---------------------------------------------------------------------------------------------
// blocks (names follow balmfold.py)

/**
 * `nn.Linear` (weights [out, in]). Inputs of rank > 2 (the pair track) are flattened to rows first,
 * so onnxruntime runs a Gemm with the bias fused instead of a batched MatMul and a separate Add.
 */
function dense(x: Value, w: Weights, inFeatures: number, outFeatures: number, bias = true): Value {
  const spec = { inFeatures, outFeatures, bias };
  if ((x.shape?.length ?? 2) <= 2) return linear(x, w, spec);
  const y = linear(op.reshape(x, [-1, inFeatures]), w, spec);
  return op.reshape(y, op.concat([op.shape(x, { end: -1 }), op.ints(x.graph, [outFeatures])], 0));
}
const norm = (x: Value, w: Weights, dim: number) => layerNorm(x, w, dim, 1e-5);
const softplus = (x: Value) => x.graph.node('Softplus', [x])[0];

/** `Transition`: LayerNorm → Linear(c, 2c) → ReLU → Linear(2c, c); the update. */
function transition(x: Value, w: Weights, c: number): Value {
  return dense(op.relu(dense(norm(x, w.scope('norm'), c), w.scope('fc1'), c, 2 * c)), w.scope('fc2'), 2 * c, c);
}

/** `PairBiasedAttention`: gated self-attention over residues with a per-head bias from the pair track. */
function pairBiasedAttention(s: Value, z: Value, w: Weights, cs: number, cz: number, heads: number): Value {
  const d = cs / heads;
  const x = norm(s, w.scope('norm'), cs);
  const split = (v: Value) => op.transpose(op.reshape(v, [0, heads, d]), [1, 0, 2]); // [H, N, d]
  const q = split(dense(x, w.scope('q'), cs, cs, false));
  const k = split(dense(x, w.scope('k'), cs, cs, false));
  const v = split(dense(x, w.scope('v'), cs, cs, false));
  const b = op.transpose(dense(norm(z, w.scope('pair_norm'), cz), w.scope('bias'), cz, heads, false), [2, 0, 1]); // [H, N, N]
  const a = op.softmax(op.add(op.div(op.matMul(q, op.transpose(k, [0, 2, 1])), Math.sqrt(d)), b), -1);
  const o = op.reshape(op.transpose(op.matMul(a, v), [1, 0, 2]), [0, cs]);
  return dense(op.mul(op.sigmoid(dense(x, w.scope('gate'), cs, cs)), o), w.scope('out'), cs, cs);
}

/**
 * `OuterProduct`: z_ij += W·(a_i ⊗ b_j) + bias. Computed without the [N, N, c²] tensor:
 * Y_j = b_j·W' ([c, c_z] per residue), then out_ij = Σ_p a_ip Y_jp — the same sum, reordered.
 */
function outerProduct(s: Value, w: Weights, cs: number, cz: number, c: number): Value {
  const x = norm(s, w.scope('norm'), cs);
  const a = dense(x, w.scope('a'), cs, c); // [N, c]
  const b = dense(x, w.scope('b'), cs, c);
  const outW = w.scope('out');
  // W'[q, p·cz + zc] = W[zc, p·c + q], made once (recycling passes reuse it).
  const wq = outW.derived(
    'weight',
    'outer',
    (wt) => {
      const W = toFloat32(wt);
      const Wq = new Float32Array(c * c * cz);
      for (let zc = 0; zc < cz; zc++) for (let p = 0; p < c; p++) for (let q = 0; q < c; q++) Wq[q * c * cz + p * cz + zc] = W[zc * c * c + p * c + q]!;
      return { dtype: 'float32', dims: [c, c * cz], data: Wq };
    },
    [cz, c * c],
  );
  const y = op.reshape(op.transpose(op.reshape(op.matMul(b, wq), [0, c, cz]), [1, 0, 2]), [c, -1]); // [c, N·cz]
  const out = op.reshape(op.matMul(a, y), [0, -1, cz]); // [N, N, cz]
  return op.add(out, outW.value('bias', { shape: [cz] }));
}

/**
 * `TriangleMultiplication`: Alg. 11 (outgoing, Σ_k a_ik b_jk) or Alg. 12 (incoming, Σ_k a_ki b_kj).
 * The projections a_gate, a, b_gate, b run on the channel-first pair (W [c, cz] · xᵀ [cz, N²], bias
 * fused), which gives a and b as [c, N, N] without transposing them: one transpose of x instead of
 * two of a and b.
 */
function triangleMultiplication(z: Value, w: Weights, cz: number, c: number, outgoing: boolean): Value {
  const g = z.graph;
  const x = norm(z, w.scope('norm'), cz);
  const xT = op.reshape(op.transpose(x, [2, 0, 1]), [cz, -1]); // [cz, N²]
  const square = op.concat([op.ints(g, [c]), op.shape(z, { end: 2 })], 0);
  const project = (name: string) => {
    const p = w.scope(name);
    // A variant other than dense computes on rows (x [N², cz]) and is turned channel-first after.
    if (linearFor(p.linear, siteOf(p)).kind !== 'dense') return op.transpose(linear(op.reshape(x, [-1, cz]), p, { inFeatures: cz, outFeatures: c, bias: true }), [1, 0]);
    const col = p.derived('bias', 'column', (t) => ({ dtype: 'float32', dims: [c, 1], data: Float32Array.from(toFloat32(t)) }), [c]);
    return g.scope(name, () => op.gemm(p.value('weight', { shape: [c, cz] }), xT, col)); // [c, N²]
  };
  const a = op.reshape(op.mul(op.sigmoid(project('a_gate')), project('a')), square); // a[c, i, k] = a_ik
  const b = op.reshape(op.mul(op.sigmoid(project('b_gate')), project('b')), square);
  // outgoing: t[c,i,j] = Σ_k a[c,i,k] b[c,j,k]; incoming: t[c,i,j] = Σ_k a[c,k,i] b[c,k,j]
  const t = outgoing ? op.matMul(a, op.transpose(b, [0, 2, 1])) : op.matMul(op.transpose(a, [0, 2, 1]), b);
  const o = dense(norm(op.transpose(t, [1, 2, 0]), w.scope('out_norm'), c), w.scope('out'), c, cz);
  return op.mul(op.sigmoid(dense(x, w.scope('gate'), cz, cz)), o);
}

/** `TrunkBlock`. */
function trunkBlock(s: Value, z: Value, w: Weights, cfg: BalmFoldConfig): [Value, Value] {
  const cs = cfg.single_dim;
  const cz = cfg.pair_dim;
  return s.graph.scope(w.prefix.replace(/\.$/, ''), () => {
    s = op.add(s, pairBiasedAttention(s, z, w.scope('attention'), cs, cz, cfg.trunk_heads));
    s = op.add(s, transition(s, w.scope('single_transition'), cs));
    z = op.add(z, outerProduct(s, w.scope('outer'), cs, cz, cfg.outer_dim));
    z = op.add(z, triangleMultiplication(z, w.scope('tri_out'), cz, cfg.triangle_dim, true));
    z = op.add(z, triangleMultiplication(z, w.scope('tri_in'), cz, cfg.triangle_dim, false));
    z = op.add(z, transition(z, w.scope('pair_transition'), cz));
    return [s, z];
  });
}

/** Frames: rotations [N, 3, 3] and translations [N, 3]. */
interface Frames {
  R: Value;
  t: Value;
}

/** `apply_frames`: p [N, M, 3] → R·p + t per residue (row-vector form p·Rᵀ + t). */
function applyFrames(f: Frames & { RT: Value }, p: Value): Value {
  return op.add(op.matMul(p, f.RT), op.unsqueeze(f.t, [1]));
}

/** What IPA reads that does not change from layer to layer. */
interface IpaShared {
  /** The normalised pair track [N, N, cz]. */
  z: Value;
  /** Its per-head bias [H, N, N]. */
  bias: Value;
  /** softplus(head_weights)·w_C/2 as [H, 1, 1]. */
  gamma: Value;
}

/** `InvariantPointAttention` (Alg. 22). */
function invariantPointAttention(s: Value, f: Frames & { RT: Value }, sh: IpaShared, w: Weights, cfg: BalmFoldConfig): Value {
  const cs = cfg.single_dim;
  const cz = cfg.pair_dim;
  const H = cfg.ipa_heads;
  const c = cfg.ipa_scalar_dim;
  const Pq = cfg.ipa_query_points;
  const Pv = cfg.ipa_value_points;
  const heads = (v: Value, d: number) => op.transpose(op.reshape(v, [0, H, d]), [1, 0, 2]); // [H, N, d]
  const q = heads(dense(s, w.scope('q'), cs, H * c), c);
  const k = heads(dense(s, w.scope('k'), cs, H * c), c);
  const v = heads(dense(s, w.scope('v'), cs, H * c), c);
  const points = (name: string, P: number) => heads(applyFrames(f, op.reshape(dense(s, w.scope(name), cs, H * P * 3), [0, H * P, 3])), P * 3); // [H, N, P·3], global
  const qp = points('q_points', Pq);
  const kp = points('k_points', Pq);
  const vp = points('v_points', Pv);
  const wL = Math.sqrt(1 / 3);
  // |qp_i − kp_j|² = |qp_i|² + |kp_j|² − 2 qp_i·kp_j
  const sq = op.sub(op.add(op.reduceSum(op.mul(qp, qp), [2], true), op.unsqueeze(op.reduceSum(op.mul(kp, kp), [2], false), [1])), op.mul(op.matMul(qp, op.transpose(kp, [0, 2, 1])), 2));
  const logits = op.sub(op.add(op.div(op.matMul(q, op.transpose(k, [0, 2, 1])), Math.sqrt(c)), sh.bias), op.mul(sh.gamma, sq));
  const a = op.softmax(op.mul(logits, wL), -1); // [H, N, N]
  const o = op.reshape(op.transpose(op.matMul(a, v), [1, 0, 2]), [0, H * c]);
  const oGlobal = op.reshape(op.transpose(op.matMul(a, vp), [1, 0, 2]), [0, H * Pv, 3]);
  const oLocal = op.matMul(op.sub(oGlobal, op.unsqueeze(f.t, [1])), f.R); // Rᵀ(x − t), row-vector form
  const oNorm = op.sqrt(op.add(op.reduceSum(op.mul(oLocal, oLocal), [2], false), 1e-8)); // [N, H·Pv]
  const oPair = op.reshape(op.matMul(op.transpose(a, [1, 0, 2]), sh.z), [0, H * cz]); // [N, H·cz]
  const cat = op.concat([o, op.reshape(oLocal, [0, H * Pv * 3]), oNorm, oPair], 1);
  return dense(cat, w.scope('out'), H * c + H * Pv * 4 + H * cz, cs);
}

/** `quaternion_update` (Alg. 23): u [N, 6] → rotation of (1, b, c, d)/‖·‖ [N, 3, 3] and translation [N, 3]. */
function quaternionUpdate(u: Value): Frames {
  const [b0, c0, d0, t] = op.split(u, 1, [1, 1, 1, 3]) as [Value, Value, Value, Value];
  const inv = op.div(1, op.sqrt(op.add(op.add(op.add(op.mul(b0, b0), 1), op.mul(c0, c0)), op.mul(d0, d0))));
  const a = inv;
  const b = op.mul(b0, inv);
  const c = op.mul(c0, inv);
  const d = op.mul(d0, inv);
  const m = op.mul;
  const aa = m(a, a),
    bb = m(b, b),
    cc = m(c, c),
    dd = m(d, d);
  const bc = m(b, c),
    ad = m(a, d),
    bd = m(b, d),
    ac = m(a, c),
    cd = m(c, d),
    ab = m(a, b);
  const two = (x: Value) => op.mul(x, 2);
  const R = op.reshape(
    op.concat(
      [
        op.sub(op.sub(op.add(aa, bb), cc), dd),
        two(op.sub(bc, ad)),
        two(op.add(bd, ac)),
        two(op.add(bc, ad)),
        op.sub(op.add(op.sub(aa, bb), cc), dd),
        two(op.sub(cd, ab)),
        two(op.sub(bd, ac)),
        two(op.add(cd, ab)),
        op.add(op.sub(op.sub(aa, bb), cc), dd),
      ],
      1,
    ),
    [-1, 3, 3],
  );
  return { R, t };
}

/** `AngleResnet` (Alg. 20 lines 11–14): 7 torsions as unnormalised (sin, cos) [N, 7, 2]. */
function angleResnet(s: Value, sInit: Value, w: Weights, cs: number, c: number): Value {
  let a = op.add(dense(op.relu(s), w.scope('input'), cs, c), dense(op.relu(sInit), w.scope('initial'), cs, c));
  for (let k = 0; k < 2; k++) {
    const blk = w.scope('blocks').scope(String(k));
    a = op.add(a, dense(op.relu(dense(op.relu(a), blk.scope('0'), c, c)), blk.scope('1'), c, c));
  }
  return op.reshape(dense(op.relu(a), w.scope('output'), c, 2 * NUM_TORSIONS), [-1, NUM_TORSIONS, 2]);
}

/** `StructureModule`: final frames (t in nm), final torsions, final single track. */
function structureModule(s: Value, z: Value, start: Frames, w: Weights, cfg: BalmFoldConfig): { frames: Frames; torsions: Value; s: Value } {
  const g = s.graph;
  return g.scope('structure', () => {
    const cs = cfg.single_dim;
    const cz = cfg.pair_dim;
    const H = cfg.ipa_heads;
    const sInit = norm(s, w.scope('single_norm'), cs);
    const zn = norm(z, w.scope('pair_norm'), cz);
    s = dense(sInit, w.scope('input'), cs, cs);
    const ipa = w.scope('ipa');
    // Per layer PyTorch recomputes bias(z) and softplus(head_weights); both are layer-invariant.
    const wC = Math.sqrt(2 / (9 * cfg.ipa_query_points));
    const shared: IpaShared = {
      z: zn,
      bias: op.transpose(dense(zn, ipa.scope('bias'), cz, H, false), [2, 0, 1]),
      gamma: op.reshape(op.mul(softplus(ipa.value('head_weights', { shape: [H] })), wC / 2), [H, 1, 1]),
    };
    let f = start;
    for (let layer = 0; layer < cfg.structure_layers; layer++) {
      g.scope(`layer${layer}`, () => {
        const withRT = { ...f, RT: op.transpose(f.R, [0, 2, 1]) };
        s = norm(op.add(s, invariantPointAttention(s, withRT, shared, ipa, cfg)), w.scope('ipa_norm'), cs);
        let x = op.relu(dense(s, w.scope('transition').scope('0'), cs, cs));
        x = op.relu(dense(x, w.scope('transition').scope('1'), cs, cs));
        s = norm(op.add(s, dense(x, w.scope('transition').scope('2'), cs, cs)), w.scope('transition_norm'), cs);
        const u = quaternionUpdate(dense(s, w.scope('backbone_update'), cs, 6));
        f = { t: op.add(op.squeeze(op.matMul(f.R, op.unsqueeze(u.t, [2])), [2]), f.t), R: op.matMul(f.R, u.R) };
      });
    }
    const torsions = g.scope('angles', () => angleResnet(s, sInit, w.scope('angles'), cs, cfg.angle_dim));
    return { frames: f, torsions, s };
  });
}

/**
 * The BALMFold graph for `weights` (the PyTorch state dict's names; fp16 or fp32, loaded as float32
 * initializers) and `config`. `source` names the weights in errors (the file).
 *
 * Inputs: `features` float32 [n, feature_dim], `aatype`, `chain`, `residue_index`, `imgt_position`
 * int64 [n], `template_frames` float32 [n, 12] ([R | t] row-major, Å), `template_error` float32 [n].
 * Outputs (final structure-module layer): `positions` [n, 14, 3] (Å), `atom_mask` [n, 14], `frames`
 * [n, 12] (Å), `torsions` [n, 7, 2] (raw, unnormalised), `error` [n] (Å).
 *
 * @throws GraphError naming `source` and the tensor when one is missing, has the wrong shape, or
 *   is not used by the graph.
 */
export function buildBalmFoldGraph(weights: NamedTensors, config: BalmFoldConfig, source = 'BALMFold weights', options: { linear?: LinearChoice } = {}): GraphBuilder {
  try {
    return build(weights, config, options.linear);
  } catch (e) {
    if (e instanceof GraphError) throw new GraphError(`${source}: ${e.message}`);
    throw e;
  }
}

function build(weights: NamedTensors, cfg: BalmFoldConfig, linearChoice: LinearChoice | undefined): GraphBuilder {
  const g = new GraphBuilder('balmfold');
  const w = new Weights(g, weights, '', linearChoice);
  const cs = cfg.single_dim;
  const cz = cfg.pair_dim;
  if (cs % cfg.trunk_heads !== 0) throw new GraphError(`config: single_dim ${cs} is not a multiple of trunk_heads ${cfg.trunk_heads}`);

  const features = g.input('features', 'float32', ['n', cfg.feature_dim]);
  const aatype = g.input('aatype', 'int64', ['n']);
  const chain = g.input('chain', 'int64', ['n']);
  const residueIndex = g.input('residue_index', 'int64', ['n']);
  const imgt = g.input('imgt_position', 'int64', ['n']);
  const templateFrames = g.input('template_frames', 'float32', ['n', 12]);
  const templateError = g.input('template_error', 'float32', ['n']);

  const [R0, t0col] = op.split(op.reshape(templateFrames, [-1, 3, 4]), 2, [3, 1]) as [Value, Value];
  const t0 = op.squeeze(t0col, [2]); // [n, 3] Å

  // single track
  const s0 = g.scope('single', () => {
    let x = dense(features, w.scope('feature_proj'), cfg.feature_dim, cs);
    x = op.add(x, embedding(aatype, w.scope('aatype_embed'), NUM_RESTYPES, cs));
    x = op.add(x, embedding(chain, w.scope('chain_embed'), 2, cs));
    x = op.add(x, embedding(imgt, w.scope('imgt_embed'), cfg.imgt_positions, cs));
    return op.add(x, dense(op.unsqueeze(templateError, [1]), w.scope('error_proj'), 1, cs));
  });

  /** `template_pair_features`: RBF of |t_j − t_i| and R_iᵀ(t_j − t_i)/(|t_j − t_i| + 1) (not a unit vector: as PyTorch); t in Å. */
  const templatePairFeatures = (R: Value, t: Value): Value => {
    const dvec = op.sub(op.unsqueeze(t, [0]), op.unsqueeze(t, [1])); // [i, j, 3] = t_j − t_i
    const dist = op.sqrt(op.add(op.reduceSum(op.mul(dvec, dvec), [2], false), 1e-8)); // [n, n]
    const bins = cfg.rbf_bins;
    const sigma = (cfg.rbf_max - cfg.rbf_min) / (bins - 1);
    const centres = g.has('rbf_centres') ? g.get('rbf_centres') : op.constant(g, 'float32', linspace(cfg.rbf_min, cfg.rbf_max, bins), [bins], 'rbf_centres');
    const r = op.div(op.sub(op.unsqueeze(dist, [2]), centres), sigma);
    const rbf = op.exp(op.neg(op.mul(r, r)));
    const local = op.matMul(dvec, R); // [i, j, 3] = R_iᵀ(t_j − t_i)
    const unit = op.div(local, op.add(op.unsqueeze(dist, [2]), 1));
    return op.concat([rbf, unit], 2);
  };

  // pair track
  const z0 = g.scope('pair', () => {
    // rel = clip(idx_i − idx_j, ±clip) + clip within a chain, 2·clip + 1 across chains
    const clip = cfg.relpos_clip;
    const rel = op.add(op.clip(op.sub(op.unsqueeze(residueIndex, [1]), op.unsqueeze(residueIndex, [0])), -clip, clip), clip);
    const sameChain = op.equal(op.unsqueeze(chain, [1]), op.unsqueeze(chain, [0]));
    const relIdx = op.where(sameChain, rel, 2 * clip + 1);
    let p = embedding(relIdx, w.scope('relpos_embed'), 2 * clip + 2, cz);
    p = op.add(p, op.unsqueeze(dense(s0, w.scope('left'), cs, cz), [1]));
    p = op.add(p, op.unsqueeze(dense(s0, w.scope('right'), cs, cz), [0]));
    return op.add(p, dense(templatePairFeatures(R0, t0), w.scope('template_pair'), cfg.rbf_bins + 3, cz));
  });

  // One pass of trunk and structure module; a recycling model's later passes see the previous
  // one (AF2 Alg. 2, 32) through the prev_* inputs, scaled by `recycle` (0 on the first pass).
  let s = s0;
  let z = z0;
  if (cfg.recycles > 0) {
    const prevS = g.input('prev_single', 'float32', ['n', cs]);
    const prevZ = g.input('prev_pair', 'float32', ['n', 'n', cz]);
    const prevFrames = g.input('prev_frames', 'float32', ['n', 12]);
    const on = g.input('recycle', 'float32', [1]);
    const [pR, ptCol] = op.split(op.reshape(prevFrames, [-1, 3, 4]), 2, [3, 1]) as [Value, Value];
    g.scope('recycle', () => {
      s = op.add(s, op.mul(norm(prevS, w.scope('recycle_single_norm'), cs), on));
      const pz = op.add(norm(prevZ, w.scope('recycle_pair_norm'), cz), dense(templatePairFeatures(pR, op.squeeze(ptCol, [2])), w.scope('recycle_pair'), cfg.rbf_bins + 3, cz));
      z = op.add(z, op.mul(pz, on));
    });
  }
  for (let b = 0; b < cfg.trunk_blocks; b++) [s, z] = trunkBlock(s, z, w.scope('trunk').scope(String(b)), cfg);
  const sm = structureModule(s, z, { R: R0, t: op.div(t0, NM) }, w.scope('structure'), cfg);
  const error = g.scope('error', () => {
    const h = op.relu(dense(norm(sm.s, w.scope('error_norm'), cs), w.scope('error_hidden'), cs, cs));
    const raw = op.squeeze(softplus(dense(h, w.scope('error_out'), cs, 1)), [1]);
    return cfg.error_scale === 1 && cfg.error_shift === 0 ? raw : op.add(op.mul(raw, cfg.error_scale), cfg.error_shift);
  });

  const R = sm.frames.R;
  const t = op.mul(sm.frames.t, NM); // Å
  const atoms = emitAtomsFromFrames(g, { aatype, rotations: R, translations: t, torsions: sm.torsions });
  g.output(atoms.positions, 'positions');
  g.output(atoms.mask, 'atom_mask');
  g.output(op.reshape(op.concat([R, op.unsqueeze(t, [2])], 2), [-1, 12]), 'frames');
  g.output(sm.torsions, 'torsions');
  g.output(error, 'error');
  if (cfg.recycles > 0) {
    g.output(s, 'single');
    g.output(z, 'pair');
  }

  w.checkAllUsed('BALMFold');
  return g;
}

/** torch.linspace(lo, hi, n) in float32 (same formula: from each end towards the middle). */
function linspace(lo: number, hi: number, n: number): Float32Array {
  const out = new Float32Array(n);
  const step = Math.fround((hi - lo) / (n - 1));
  const half = Math.floor(n / 2);
  for (let i = 0; i < n; i++) out[i] = i < half ? Math.fround(lo + step * i) : Math.fround(hi - step * (n - i - 1));
  return out;
}

// ---------------------------------------------------------------------------------------------
// running

/** The graph's outputs for one Fv of n residues. */
export interface BalmFoldOutputs {
  n: number;
  /** Heavy atoms [n, 14, 3] (Å), 0 in empty slots. */
  positions: Float32Array;
  /** 1 where the atom14 slot holds an atom [n, 14]. */
  atomMask: Float32Array;
  /** Final backbone frames [n, 12] ([R | t] row-major, Å). */
  frames: Float32Array;
  /** Final torsions [n, 7, 2] as unnormalised (sin, cos). */
  torsions: Float32Array;
  /** Predicted per-residue error (Å) [n]. */
  error: Float32Array;
}

/**
 * Runs a BALMFold session on the inputs of one Fv: one pass, then `recycles` more for a recycling
 * model, each fed the previous pass's trunk outputs and final frames.
 *
 * @param options.recycles - extra passes (default 0); more than 0 needs a model trained with recycling.
 * @param options.config - the model's config (the sizes of the recycled tensors).
 */
export async function runBalmFold(
  session: Session,
  x: Omit<BalmFoldInputs, 'template' | 'chainStarts'>,
  options: { recycles?: number; config: Pick<BalmFoldConfig, 'single_dim' | 'pair_dim'> },
): Promise<BalmFoldOutputs> {
  const n = x.n;
  const recycles = options.recycles ?? 0;
  if (x.features.length !== n * x.hidden) throw new RangeError(`BALMFold inputs: ${x.features.length} feature values for ${n} residues × ${x.hidden}`);
  const recycling = session.inputNames.includes('prev_single');
  if (recycles > 0 && !recycling) throw new Error(`recycles ${recycles}: this BALMFold graph was built for a model trained without recycling`);
  const feeds: Feeds = {
    features: { dtype: 'float32', dims: [n, x.hidden], data: x.features },
    aatype: { dtype: 'int64', dims: [n], data: x.aatype },
    chain: { dtype: 'int64', dims: [n], data: x.chain },
    residue_index: { dtype: 'int64', dims: [n], data: x.residueIndex },
    imgt_position: { dtype: 'int64', dims: [n], data: x.imgtPosition },
    template_frames: { dtype: 'float32', dims: [n, 12], data: x.templateFrames },
    template_error: { dtype: 'float32', dims: [n], data: x.templateError },
  };
  const { single_dim: cs, pair_dim: cz } = options.config;
  let r: Record<string, ort.Tensor> | undefined;
  for (let pass = 0; pass <= recycles; pass++) {
    if (recycling) {
      const data = (name: string, size: number) => (r === undefined ? new Float32Array(size) : (r[name].data as Float32Array));
      feeds.prev_single = { dtype: 'float32', dims: [n, cs], data: data('single', n * cs) };
      feeds.prev_pair = { dtype: 'float32', dims: [n, n, cz], data: data('pair', n * n * cz) };
      feeds.prev_frames = { dtype: 'float32', dims: [n, 12], data: data('frames', n * 12) };
      feeds.recycle = { dtype: 'float32', dims: [1], data: Float32Array.of(pass === 0 ? 0 : 1) };
    }
    r = await session.run(feeds);
  }
  const out = r!;
  const f = (name: string, size: number) => {
    const data = out[name].data as Float32Array;
    if (data.length !== size) throw new Error(`BALMFold output '${name}': ${data.length} values, ${size} expected`);
    return data;
  };
  return {
    n,
    positions: f('positions', n * ATOMS_PER_RESIDUE * 3),
    atomMask: f('atom_mask', n * ATOMS_PER_RESIDUE),
    frames: f('frames', n * 12),
    torsions: f('torsions', n * NUM_TORSIONS * 2),
    error: f('error', n),
  };
}
