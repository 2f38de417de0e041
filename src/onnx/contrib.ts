/**
 * Inference rules for the com.microsoft contrib ops that onnxruntime runs on both CPU and CUDA.
 * Shapes follow ORT's ContribOperators documentation; each rule checks what ORT would reject at
 * session creation or at run time, so the error arrives earlier and names the node.
 */
import { MS_DOMAIN, type Dim, type Shape, formatShape } from './graph.js';
import { type Ctx, type InferredOutput, broadcastShapes, registerOp } from './shapes.js';

function hidden(c: Ctx, shape: Shape | null, what: string): Dim {
  if (!shape) return null;
  if (shape.length !== 3) c.fail(`${what} must be [batch, sequence, hidden], got ${formatShape(shape)}`);
  return shape[2];
}

function divide(c: Ctx, d: Dim, n: number, what: string): Dim {
  if (typeof d !== 'number') return null;
  if (d % n !== 0) c.fail(`${what} ${d} is not divisible by ${n}`);
  return d / n;
}

function plus(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (a === 0) return b;
  if (b === 0) return a;
  return null;
}

registerOp(MS_DOMAIN, 'MultiHeadAttention', {
  minInputs: 1,
  maxInputs: 10,
  outputs: 1,
  maxOutputs: 3,
  rule: (c: Ctx) => {
    const q = c.in(0, 'query');
    c.float_(q, 'query');
    const h = c.int('num_heads');
    const k = c.opt(1);
    const v = c.opt(2);
    if ((k === null) !== (v === null)) c.fail('key and value must be given together');
    const [b, s, dq] = q.shape ?? [null, null, null];
    hidden(c, q.shape, 'query');
    const hd = divide(c, dq, h, `query hidden size`);
    let kvLen: Dim = s;
    let dv: Dim = dq;
    if (k && v) {
      c.same(q, k, 'query and key');
      c.same(q, v, 'query and value');
      if (k.shape && k.shape.length === 3) {
        c.match(k.shape[0], b, 'key batch');
        c.match(k.shape[2], dq, 'key hidden size vs query hidden size');
        kvLen = k.shape[1];
      } else if (k.shape && k.shape.length === 4) {
        c.match(k.shape[1], h, 'key heads');
        kvLen = k.shape[2];
      } else if (k.shape) c.fail(`key must be 3-D or 4-D, got ${formatShape(k.shape)}`);
      if (v.shape && v.shape.length === 3) dv = v.shape[2];
      else if (v.shape && v.shape.length === 4) dv = typeof v.shape[3] === 'number' ? v.shape[3] * h : null;
    }
    const mask = c.opt(4);
    if (mask) c.dtype(mask, ['int32'], 'key_padding_mask');
    const bias = c.opt(5);
    if (bias) {
      c.same(q, bias, 'query and attention_bias');
      c.rank(bias, 4, 'attention_bias');
    }
    const pk = c.opt(6);
    const pv = c.opt(7);
    let total = kvLen;
    if (pk) {
      c.rank(pk, 4, 'past_key');
      if (!pv) c.fail('past_key needs past_value');
      if (pk.shape) {
        c.match(pk.shape[1], h, 'past_key heads');
        c.match(pk.shape[3], hd, 'past_key head size');
        total = plus(pk.shape[2], kvLen);
      }
    }
    const out: InferredOutput = { dtype: q.dtype, shape: [b, s, dv] };
    const present: InferredOutput = { dtype: q.dtype, shape: [b, h, total, hd] };
    return [out, present, { ...present, shape: [b, h, total, divide(c, dv, h, 'value hidden size')] }];
  },
});

registerOp(MS_DOMAIN, 'GroupQueryAttention', {
  minInputs: 7,
  maxInputs: 12,
  outputs: 3,
  maxOutputs: 3,
  rule: (c: Ctx) => {
    const q = c.in(0, 'query');
    c.float_(q, 'query');
    const h = c.int('num_heads');
    const kvh = c.int('kv_num_heads');
    if (h % kvh !== 0) c.fail(`num_heads ${h} is not a multiple of kv_num_heads ${kvh}`);
    const [b, s, dq] = q.shape ?? [null, null, null];
    hidden(c, q.shape, 'query');
    const k = c.opt(1);
    const v = c.opt(2);
    let hd: Dim;
    if (k && v) {
      hd = divide(c, dq, h, 'query hidden size');
      for (const [x, what] of [
        [k, 'key'],
        [v, 'value'],
      ] as const) {
        c.same(q, x, `query and ${what}`);
        hidden(c, x.shape, what);
        if (x.shape) c.match(x.shape[2], typeof hd === 'number' ? hd * kvh : null, `${what} hidden size (kv_num_heads × head size)`);
      }
    } else {
      // packed QKV: hidden = (num_heads + 2 kv_num_heads) × head size
      hd = divide(c, dq, h + 2 * kvh, 'packed QKV hidden size');
    }
    const pk = c.in(3, 'past_key');
    const pv = c.in(4, 'past_value');
    for (const [x, what] of [
      [pk, 'past_key'],
      [pv, 'past_value'],
    ] as const) {
      c.same(q, x, `query and ${what}`);
      c.rank(x, 4, what);
      if (x.shape) {
        c.match(x.shape[1], kvh, `${what} heads`);
        c.match(x.shape[3], hd, `${what} head size`);
      }
    }
    const seqlens = c.in(5, 'seqlens_k');
    c.dtype(seqlens, ['int32'], 'seqlens_k');
    const total = c.in(6, 'total_sequence_length');
    c.dtype(total, ['int32'], 'total_sequence_length');
    if (c.int('do_rotary', 0)) {
      if (!c.opt(7) || !c.opt(8)) c.fail('do_rotary=1 needs cos_cache and sin_cache');
    }
    const presentLen: Dim = null; // max(past length, total length): known only at run time
    const present: InferredOutput = { dtype: q.dtype, shape: [b, kvh, pk.shape?.[2] ?? presentLen, hd] };
    return [{ dtype: q.dtype, shape: [b, s, typeof hd === 'number' ? hd * h : null] }, present, { ...present }];
  },
});

registerOp(MS_DOMAIN, 'RotaryEmbedding', {
  minInputs: 4,
  maxInputs: 4,
  rule: (c: Ctx) => {
    const x = c.in(0, 'input');
    const pos = c.in(1, 'position_ids');
    const cos = c.in(2, 'cos_cache');
    const sin = c.in(3, 'sin_cache');
    c.float_(x, 'input');
    c.dtype(pos, ['int64'], 'position_ids');
    c.same(x, cos, 'input and cos_cache');
    c.same(x, sin, 'input and sin_cache');
    c.rank(x, [3, 4], 'input');
    c.rank(cos, 2, 'cos_cache');
    if (cos.shape && sin.shape) cos.shape.forEach((d, i) => c.match(d, sin.shape![i], `cos_cache vs sin_cache dim ${i}`));
    const rot = c.int('rotary_embedding_dim', 0);
    if (rot && cos.shape) c.match(cos.shape[1], rot / 2, 'cos_cache width vs rotary_embedding_dim/2');
    if (x.shape && x.shape.length === 3 && !c.attr('num_heads') && rot) c.fail('3-D input with partial rotary needs num_heads');
    return [{ dtype: x.dtype, shape: x.shape && [...x.shape] }];
  },
});

registerOp(MS_DOMAIN, 'SkipLayerNormalization', {
  minInputs: 3,
  maxInputs: 5,
  outputs: 1,
  maxOutputs: 4,
  rule: (c: Ctx) => {
    const x = c.in(0, 'input');
    const skip = c.in(1, 'skip');
    const gamma = c.in(2, 'gamma');
    c.float_(x, 'input');
    for (const [v, what] of [
      [skip, 'skip'],
      [gamma, 'gamma'],
      [c.opt(3), 'beta'],
      [c.opt(4), 'bias'],
    ] as const) {
      if (v) c.same(x, v, `input and ${what}`);
    }
    const d = hidden(c, x.shape, 'input');
    broadcastShapes(c, [x.shape, skip.shape]);
    for (const [v, what] of [
      [gamma, 'gamma'],
      [c.opt(3), 'beta'],
      [c.opt(4), 'bias'],
    ] as const) {
      if (!v) continue;
      c.rank(v, 1, what);
      if (v.shape) c.match(v.shape[0], d, `${what} length vs hidden size`);
    }
    const stat: Shape | null = x.shape && [x.shape[0], x.shape[1], 1];
    return [
      { dtype: x.dtype, shape: x.shape && [...x.shape] },
      { dtype: 'float32', shape: stat },
      { dtype: 'float32', shape: stat },
      { dtype: x.dtype, shape: x.shape && [...x.shape] },
    ];
  },
});

registerOp(MS_DOMAIN, 'FastGelu', {
  minInputs: 1,
  maxInputs: 2,
  rule: (c: Ctx) => {
    const x = c.in(0);
    c.float_(x, 'input');
    const bias = c.opt(1);
    if (bias) {
      c.same(x, bias, 'input and bias');
      c.rank(bias, 1, 'bias');
      if (x.shape && bias.shape) c.match(bias.shape[0], x.shape[x.shape.length - 1], 'bias length vs last dim');
    }
    return [{ dtype: x.dtype, shape: x.shape && [...x.shape] }];
  },
});

registerOp(MS_DOMAIN, 'MatMulNBits', {
  minInputs: 3,
  maxInputs: 6,
  rule: (c: Ctx) => {
    const a = c.in(0, 'A');
    const b = c.in(1, 'B');
    const scales = c.in(2, 'scales');
    c.float_(a, 'A');
    c.dtype(b, ['uint8'], 'B');
    c.same(a, scales, 'A and scales');
    const K = c.int('K');
    const N = c.int('N');
    const bits = c.int('bits', 4);
    const block = c.int('block_size');
    if (block < 16 || (block & (block - 1)) !== 0) c.fail(`block_size ${block} must be a power of two ≥ 16`);
    if (bits < 2 || bits > 8) c.fail(`bits ${bits} must be in 2..8`);
    const blocks = Math.ceil(K / block);
    const blob = (block * bits) / 8;
    if (b.shape) {
      if (b.shape.length !== 3) c.fail(`B must be [N, blocks, blob] = [${N}, ${blocks}, ${blob}], got ${formatShape(b.shape)}`);
      [N, blocks, blob].forEach((d, i) => c.match(b.shape![i], d, `B dimension ${i}`));
    }
    if (scales.shape) {
      const n = scales.shape.reduce<Dim>((x, y) => (typeof x === 'number' && typeof y === 'number' ? x * y : null), 1);
      c.match(n, N * blocks, `scales element count (N × blocks)`);
    }
    if (!a.shape) return [{ dtype: a.dtype, shape: null }];
    c.match(a.shape[a.shape.length - 1], K, `last dimension of A vs K`);
    return [{ dtype: a.dtype, shape: [...a.shape.slice(0, -1), N] }];
  },
});
