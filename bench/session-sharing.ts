/**
 * Do two onnxruntime-node sessions of the same model share weight memory? (They don't: each
 * session owns its initializers, and the JS API exposes neither AddInitializer nor a prepacked-
 * weights container.) This is why balmkit decoders are one dynamic graph serving prefill (empty
 * past) and decode, rather than separate prefill and decode graphs.
 *
 *   node --expose-gc --import tsx bench/session-sharing.ts
 */
import * as ort from 'onnxruntime-node';
import type { HostTensor } from '../src/io/tensor.js';
import { type DecoderConfig, buildDecoderGraph } from '../src/nn/index.js';
import { serializeModel } from '../src/onnx/index.js';

const cfg: DecoderConfig = { vocab: 4096, hidden: 512, layers: 8, heads: 8, kvHeads: 4, ffn: 1536, eps: 1e-6, rotary: { convention: 'half', theta: 10000 } };
const tensors = new Map<string, HostTensor>();
const add = (name: string, shape: number[]) => {
  const n = shape.reduce((a, b) => a * b, 1);
  tensors.set(name, { dtype: 'float32', shape, data: Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.02) });
};
add('embed.weight', [cfg.vocab, cfg.hidden]);
add('lm_head.weight', [cfg.vocab, cfg.hidden]);
add('final_norm.weight', [cfg.hidden]);
for (let i = 0; i < cfg.layers; i++) {
  const p = `layers.${i}.`;
  add(`${p}attn_norm.weight`, [cfg.hidden]);
  add(`${p}mlp_norm.weight`, [cfg.hidden]);
  add(`${p}attn.q_proj.weight`, [512, 512]);
  add(`${p}attn.k_proj.weight`, [256, 512]);
  add(`${p}attn.v_proj.weight`, [256, 512]);
  add(`${p}attn.o_proj.weight`, [512, 512]);
  add(`${p}mlp.gate_proj.weight`, [1536, 512]);
  add(`${p}mlp.up_proj.weight`, [1536, 512]);
  add(`${p}mlp.down_proj.weight`, [512, 1536]);
}
const weightsMB = [...tensors.values()].reduce((a, t) => a + t.data.byteLength, 0) / 1e6;
const bytes = serializeModel(buildDecoderGraph(tensors, cfg));
tensors.clear();

const gc = (globalThis as { gc?: () => void }).gc;
const rss = () => {
  gc?.();
  return process.memoryUsage().rss / 1e6;
};
const sessions: ort.InferenceSession[] = [];
const before = rss();
const deltas: number[] = [];
let last = before;
for (let i = 0; i < 3; i++) {
  sessions.push(await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 }));
  const now = rss();
  deltas.push(now - last);
  last = now;
}
console.log(`decoder with ${weightsMB.toFixed(1)} MB of float32 weights (model bytes ${(bytes.length / 1e6).toFixed(1)} MB${gc ? '' : '; run with --expose-gc for steadier numbers'})`);
deltas.forEach((d, i) => console.log(`session ${i + 1}: RSS +${d.toFixed(1)} MB`));
console.log(deltas[2] > weightsMB * 0.3 ? 'each extra session holds its own copy of the weights: not shared' : 'extra sessions add little: weights look shared');
