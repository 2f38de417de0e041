/**
 * The shared blocks against the PyTorch reference (models/reference/blocks.py), from the committed
 * fixtures made by models/reference/make_nn_fixtures.py: 2-layer encoders (pre-LN with rotary,
 * post-LN; padding) and 2-layer GQA decoders (rotary half / interleaved) agree to ≤ 1e-4, and
 * decoding 16 steps through the cache equals re-running the whole prefix.
 *
 * A second attention variant, `diagonal` (each query sees only the key at its own slot), is
 * defined here, outside src/, and plugged into the same stacks without touching any caller.
 */
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { describe, expect, test } from 'vitest';
import { readSafetensors } from '../../src/io/safetensors.js';
import { type HostTensor, type NamedTensors } from '../../src/io/tensor.js';
import {
  type AttentionVariant,
  DecoderCache,
  MASKED,
  appendKv,
  buildDecoderGraph,
  buildEncoderGraph,
  decoderCacheSlots,
  fullAttention,
  headsFirst,
  scaledDotProductAttention,
} from '../../src/nn/index.js';
import { op, serializeModel, type GraphBuilder } from '../../src/onnx/index.js';
import { decoderConfig, encoderConfig } from '../../models/reference/configs.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/nn/', import.meta.url));

interface Fixture {
  /** The model's weights (a builder refuses any tensor it does not read). */
  tensors: NamedTensors;
  /** The fixture's `input.*` and `output.*` tensors. */
  io: NamedTensors;
  config: Record<string, unknown>;
}

function load(name: string): Fixture {
  const f = readSafetensors(`${FIXTURES}${name}.safetensors`);
  const isIo = (k: string) => /^(input|output)\./.test(k);
  return { tensors: new Map([...f.tensors].filter(([k]) => !isIo(k))), io: new Map([...f.tensors].filter(([k]) => isIo(k))), config: JSON.parse(f.metadata.config) };
}

/** The trivial test variant: attention restricted to the key at the query's own slot. */
const diagonal: AttentionVariant = {
  name: 'diagonal',
  cacheSlots: (dims, batch) => fullAttention().cacheSlots(dims, batch),
  attend({ q, k, v, past, dims, mask }) {
    const g = q.graph;
    const [kAll, vAll] = appendKv(past, k, v);
    const same = op.equal(op.unsqueeze(mask.querySlots, [1]), op.unsqueeze(mask.keySlots, [0])); // [S, T]
    const bias = op.unsqueeze(op.where(same, op.constant(g, 'float32', [0], []), MASKED), [0, 1]);
    return { out: scaledDotProductAttention(headsFirst(q), kAll, vAll, bias, dims), present: past ? [kAll, vAll] : [] };
  },
};

function i64(t: HostTensor): ort.Tensor {
  return new ort.Tensor('int64', t.data as BigInt64Array, t.shape);
}

async function session(g: GraphBuilder): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(serializeModel(g), { intraOpNumThreads: 2, logSeverityLevel: 3 });
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Rows [from, to) of the sequence axis of a [B, S, V] array. */
function positions(x: Float32Array, dims: readonly number[], from: number, to: number): Float32Array {
  const [b, s, v] = dims as [number, number, number];
  const out = new Float32Array(b * (to - from) * v);
  for (let i = 0; i < b; i++) out.set(x.subarray((i * s + from) * v, (i * s + to) * v), i * (to - from) * v);
  return out;
}

describe('encoder parity with PyTorch', () => {
  const cases: [string, string, AttentionVariant][] = [
    ['encoder_pre_rotary', 'full', fullAttention()],
    ['encoder_pre_rotary', 'full', fullAttention({ fused: false })],
    ['encoder_pre_rotary', 'diagonal', diagonal],
    ['encoder_post', 'full', fullAttention()],
    ['encoder_post', 'full', fullAttention({ fused: false })],
    ['encoder_post', 'diagonal', diagonal],
  ];
  test.each(cases)('%s, variant %s (%#)', async (file, expected, variant) => {
    const f = load(file);
    const g = buildEncoderGraph(f.tensors, encoderConfig(f.config), { attention: variant });
    const s = await session(g);
    const out = await s.run({ input_ids: i64(f.io.get('input.input_ids')!), attention_mask: i64(f.io.get('input.attention_mask')!) });
    const ref = f.io.get(`output.${expected}`)!;
    expect(out.hidden_states.dims).toEqual(ref.shape);
    expect(maxAbsDiff(out.hidden_states.data as Float32Array, ref.data as Float32Array)).toBeLessThanOrEqual(1e-4);
  });
});

describe('decoder parity with PyTorch, and decoding through the cache', () => {
  const cases: [string, string, AttentionVariant][] = [
    ['decoder_gqa_half', 'full', fullAttention()],
    ['decoder_gqa_half', 'diagonal', diagonal],
    ['decoder_gqa_interleaved', 'full', fullAttention()],
  ];

  test.each(cases)('%s, variant %s: whole sequence', async (file, expected, variant) => {
    const f = load(file);
    const s = await session(buildDecoderGraph(f.tensors, decoderConfig(f.config), { attention: variant }, { cache: false }));
    const ids = f.io.get('input.input_ids')!;
    const mask = new ort.Tensor('int64', new BigInt64Array(ids.data.length).fill(1n), ids.shape);
    const out = await s.run({ input_ids: i64(ids), position_ids: i64(f.io.get('input.positions')!), attention_mask: mask });
    const ref = f.io.get(`output.${expected}`)!;
    expect(out.logits.dims).toEqual(ref.shape);
    expect(maxAbsDiff(out.logits.data as Float32Array, ref.data as Float32Array)).toBeLessThanOrEqual(1e-4);
  });

  test.each(cases)('%s, variant %s: prefill 8 + 16 cached steps = re-running each prefix', async (file, expected, variant) => {
    const f = load(file);
    const cfg = decoderConfig(f.config);
    const opts = { attention: variant };
    const cached = await session(buildDecoderGraph(f.tensors, cfg, opts));
    const whole = await session(buildDecoderGraph(f.tensors, cfg, opts, { cache: false }));
    const ids = f.io.get('input.input_ids')!;
    const [batch, seq] = ids.shape;
    const tokens = ids.data as BigInt64Array;
    const take = (from: number, to: number) => {
      const d = new BigInt64Array(batch * (to - from));
      for (let b = 0; b < batch; b++) for (let t = from; t < to; t++) d[b * (to - from) + t - from] = tokens[b * seq + t];
      return new ort.Tensor('int64', d, [batch, to - from]);
    };
    const pos = (from: number, to: number) =>
      new ort.Tensor(
        'int64',
        BigInt64Array.from({ length: batch * (to - from) }, (_, i) => BigInt(from + (i % (to - from)))),
        [batch, to - from],
      );
    const ones = (n: number) => new ort.Tensor('int64', new BigInt64Array(batch * n).fill(1n), [batch, n]);

    const cache = new DecoderCache(decoderCacheSlots(cfg, opts), batch);
    const prefill = 8;
    const first = await cached.run({ input_ids: take(0, prefill), position_ids: pos(0, prefill), attention_mask: ones(prefill), ...cache.feeds() });
    cache.update(first, prefill);
    const ref = f.io.get(`output.${expected}`)!;
    expect(maxAbsDiff(first.logits.data as Float32Array, positions(ref.data as Float32Array, ref.shape, 0, prefill))).toBeLessThanOrEqual(1e-4);

    let worstVsPrefix = 0;
    for (let t = prefill; t < seq; t++) {
      const step = await cached.run({ input_ids: take(t, t + 1), position_ids: pos(t, t + 1), attention_mask: ones(t + 1), ...cache.feeds() });
      cache.update(step, 1);
      expect(step['present.0.key'].dims).toEqual([batch, cfg.kvHeads, t + 1, cfg.hidden / cfg.heads]);
      const rerun = await whole.run({ input_ids: take(0, t + 1), position_ids: pos(0, t + 1), attention_mask: ones(t + 1) });
      const last = positions(rerun.logits.data as Float32Array, rerun.logits.dims, t, t + 1);
      worstVsPrefix = Math.max(worstVsPrefix, maxAbsDiff(step.logits.data as Float32Array, last));
      expect(maxAbsDiff(step.logits.data as Float32Array, positions(ref.data as Float32Array, ref.shape, t, t + 1))).toBeLessThanOrEqual(1e-4);
    }
    expect(cache.length).toBe(seq);
    expect(seq - prefill).toBe(16);
    expect(worstVsPrefix).toBeLessThanOrEqual(1e-5);
  });
});
