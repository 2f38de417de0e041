/**
 * LoRA as a linear variant: applied unmerged (the low-rank path in the graph) it gives the logits
 * of the model whose weights were merged (W + s·B·A, computed by mergeLora and written as a new
 * checkpoint), on the Llama and Qwen2 (biases) fixtures; shapes that do not fit are refused with
 * both shapes.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import type { HostTensor } from '../../src/io/tensor.js';
import { expectedHfTensors, hfModelConfig } from '../../src/llm/hf.js';
import { loadModel } from '../../src/llm/index.js';
import { type LinearSite, type LoraUpdate, denseLinear, loraLinear, mergeLora } from '../../src/nn/index.js';
import { mulberry32 } from '../../src/util/random.js';
import { fixture } from '../llm/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'balmkit-lora-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function expected(folder: string) {
  const t = readSafetensors(join(folder, 'expected.safetensors')).tensors;
  const ids = t.get('input.input_ids')!;
  const mask = t.get('input.attention_mask')!;
  const [B, S] = ids.shape as [number, number];
  const rows = (x: BigInt64Array) => Array.from({ length: B }, (_, b) => Array.from(x.subarray(b * S, (b + 1) * S), Number));
  return { ids: rows(ids.data as BigInt64Array), mask: rows(mask.data as BigInt64Array), B, S };
}

/** Random LoRA updates (rank 4, scale alpha/r = 2) for q_proj, v_proj and down_proj of every layer, keyed by site path. */
function randomUpdates(folder: string): Map<string, { hf: string; update: LoraUpdate }> {
  const hf = hfModelConfig(JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')), folder);
  const rand = mulberry32(11);
  const mat = (rows: number, cols: number, s: number): HostTensor => ({ dtype: 'float32', shape: [rows, cols], data: Float32Array.from({ length: rows * cols }, () => (rand() * 2 - 1) * s) });
  const out = new Map<string, { hf: string; update: LoraUpdate }>();
  for (const e of expectedHfTensors(hf.decoder)) {
    if (!/\.(q_proj|v_proj|down_proj)\.weight$/.test(e.name)) continue;
    const [o, i] = e.shape as [number, number];
    out.set(e.name.replace(/\.weight$/, ''), { hf: e.hf, update: { a: mat(4, i, 0.3), b: mat(o, 4, 0.3), scale: 2, name: 'test' } });
  }
  return out;
}

describe('LoRA, unmerged vs merged', () => {
  test.each(['llama_rope_linear', 'qwen2_bias'])('%s: the low-rank path gives the merged model’s logits (≤ 1e-5)', async (name) => {
    const folder = join(fixture('hf'), name);
    const updates = randomUpdates(folder);
    const e = expected(folder);
    const unmerged = await loadModel(folder, {
      ep: 'cpu',
      threads: 2,
      stack: { linear: (site: LinearSite) => (updates.has(site.path) ? loraLinear([updates.get(site.path)!.update]) : denseLinear()) },
    });
    const a = await unmerged.forward(unmerged.newState(e.B), e.ids, e.mask);
    await unmerged.release();
    // The merged checkpoint: W + s·B·A in place of each targeted weight, every other tensor as stored.
    const merged = join(dir, name);
    cpSync(folder, merged, { recursive: true });
    const t = readSafetensors(join(merged, 'model.safetensors')).tensors;
    for (const { hf, update } of updates.values()) {
      const w = t.get(hf)!;
      t.set(hf, { dtype: 'float32', shape: [...w.shape], data: mergeLora(w, [update], hf) });
    }
    writeSafetensors(join(merged, 'model.safetensors'), t);
    const lm = await loadModel(merged, { ep: 'cpu', threads: 2 });
    const b = await lm.forward(lm.newState(e.B), e.ids, e.mask);
    await lm.release();
    const base = await loadModel(folder, { ep: 'cpu', threads: 2 });
    const c = await base.forward(base.newState(e.B), e.ids, e.mask);
    await base.release();
    let worst = 0;
    let moved = 0;
    for (let bb = 0; bb < e.B; bb++) {
      for (let s = 0; s < e.S; s++) {
        if (!e.mask[bb][s]) continue;
        for (let v = 0; v < a.vocab; v++) {
          const k = (bb * e.S + s) * a.vocab + v;
          worst = Math.max(worst, Math.abs(a.data[k] - b.data[k]));
          moved = Math.max(moved, Math.abs(a.data[k] - c.data[k]));
        }
      }
    }
    expect(worst).toBeLessThanOrEqual(1e-5);
    expect(moved).toBeGreaterThan(1e-2); // the adapter really changes the model
  });

  test('a shape that does not fit is refused, naming the layer and both shapes', async () => {
    const folder = join(fixture('hf'), 'llama_rope_linear');
    const bad: LoraUpdate = { a: { dtype: 'float32', shape: [4, 7], data: new Float32Array(28) }, b: { dtype: 'float32', shape: [32, 4], data: new Float32Array(128) }, scale: 1, name: 'bad' };
    await expect(loadModel(folder, { ep: 'cpu', stack: { linear: (site) => (site.path === 'layers.0.attn.q_proj' ? loraLinear([bad]) : denseLinear()) } })).rejects.toThrow(
      /layers\.0\.attn\.q_proj: adapter 'bad' has lora_A \[4, 7\] and lora_B \[32, 4\]; this layer needs \[r, 32\] and \[32, r\]/,
    );
  });
});
