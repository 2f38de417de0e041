/**
 * Hugging Face-format checkpoints against the PyTorch reference (models/reference/llm_reference.py,
 * written from transformers' modeling files; fixtures from make_llm_fixtures.py): one tiny random
 * model per feature, logits ≤ 1e-4 on every real (non-padding) position of a batch whose second
 * row is left-padded, both in one prefill and when the last 4 tokens go one at a time through the
 * cache. Broken checkpoints are refused naming the tensor.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { type LinearSite, denseLinear, moeFeedForward } from '../../src/nn/index.js';
import { HARMLESS_HF_TENSORS, hfModelConfig, mapHfTensors } from '../../src/llm/hf.js';
import { readWeights } from '../../src/io/weights.js';
import { ModelError } from '../../src/runtime/index.js';
import { buildDecoderGraph } from '../../src/nn/index.js';
import { type CausalLM, type Logits, type ModelOptions, loadModel } from '../../src/llm/index.js';
import { fixture, maxAbsDiff } from './helpers.js';

const CASES = ['llama_rope_llama3', 'llama_rope_linear', 'mistral_sliding', 'qwen2_bias', 'llama_tied', 'llama_sharded', 'llama_bin', 'mixtral_moe', 'gpt2', 'mixtral_tied'] as const;

function expected(name: string) {
  const t = readSafetensors(join(fixture('hf'), name, 'expected.safetensors')).tensors;
  const ids = t.get('input.input_ids')!;
  const mask = t.get('input.attention_mask')!;
  const [B, S] = ids.shape as [number, number];
  const rows = (x: BigInt64Array) => Array.from({ length: B }, (_, b) => Array.from(x.subarray(b * S, (b + 1) * S), Number));
  return { ids: rows(ids.data as BigInt64Array), mask: rows(mask.data as BigInt64Array), logits: t.get('output.logits')!.data as Float32Array, B, S };
}

/** Worst |diff| over real positions [from, to) of the sequence. */
function worstOnTokens(got: Logits, want: Float32Array, mask: number[][], S: number, from: number): number {
  let worst = 0;
  for (let b = 0; b < got.batch; b++) {
    for (let s = 0; s < got.sequence; s++) {
      if (!mask[b][from + s]) continue;
      const g = got.data.subarray((b * got.sequence + s) * got.vocab, (b * got.sequence + s + 1) * got.vocab);
      const w = want.subarray((b * S + from + s) * got.vocab, (b * S + from + s + 1) * got.vocab);
      worst = Math.max(worst, maxAbsDiff(g, w));
    }
  }
  return worst;
}

describe('HF checkpoints: parity with the PyTorch reference', () => {
  test.each(CASES)('%s', async (name) => {
    const lm: CausalLM = await loadModel(join(fixture('hf'), name), { ep: 'cpu', threads: 2 });
    const e = expected(name);
    const whole = await lm.forward(lm.newState(e.B), e.ids, e.mask);
    expect(whole.data.length).toBe(e.logits.length);
    expect(worstOnTokens(whole, e.logits, e.mask, e.S, 0)).toBeLessThanOrEqual(1e-4);

    const state = lm.newState(e.B);
    const prefill = e.S - 4;
    const first = await lm.forward(
      state,
      e.ids.map((r) => r.slice(0, prefill)),
      e.mask.map((r) => r.slice(0, prefill)),
    );
    let worst = worstOnTokens(first, e.logits, e.mask, e.S, 0);
    for (let t = prefill; t < e.S; t++) {
      const step = await lm.forward(
        state,
        e.ids.map((r) => [r[t]]),
      );
      worst = Math.max(worst, worstOnTokens(step, e.logits, e.mask, e.S, t));
    }
    expect(worst).toBeLessThanOrEqual(1e-4);
    await lm.release();
  });

  test('the features are really on: configs as the loader reads them', async () => {
    const info = async (n: string) => (await loadModel(join(fixture('hf'), n), { ep: 'cpu', threads: 1 })).info.decoder;
    expect((await info('mistral_sliding')).slidingWindow).toBe(4);
    expect(await info('qwen2_bias')).toMatchObject({ attentionBias: true, outputBias: false });
    expect((await info('llama_tied')).tiedEmbeddings).toBe(true);
    expect((await info('llama_rope_llama3')).rotary?.scaling).toBeTypeOf('function');
  });

  test('a tied head shares the embedding matrix: stored once in the graph', () => {
    const graphOf = (name: string) => {
      const folder = join(fixture('hf'), name);
      const hf = hfModelConfig(JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')), folder);
      return buildDecoderGraph(mapHfTensors(readWeights(folder), hf.decoder, folder, hf.arch), hf.decoder);
    };
    const tied = graphOf('llama_tied');
    expect([tied.has('embed.weight'), tied.has('embed.weight.T')]).toEqual([true, false]);
    const untied = graphOf('llama_rope_linear');
    expect([untied.has('embed.weight'), untied.has('lm_head.weight.T'), untied.has('lm_head.weight')]).toEqual([true, true, false]);
  });
});

describe('mixture of experts: exact top-k, selected experts only, expert drop', () => {
  const dir = mkdtempSync(join(tmpdir(), 'balmkit-moe-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const tied = join(fixture('hf'), 'mixtral_tied');
  const logitsOf = async (folder: string, stack: ModelOptions['stack'], file = 'expected.safetensors') => {
    const lm = await loadModel(folder, { ep: 'cpu', threads: 2, stack });
    const e = expected(folder.split('/').pop()!);
    const want = readSafetensors(join(tied, file)).tensors.get('output.logits')!.data as Float32Array;
    const got = await lm.forward(lm.newState(e.B), e.ids, e.mask);
    await lm.release();
    return { worst: worstOnTokens(got, want, e.mask, e.S, 0), got, e };
  };

  test('tied router probabilities: exactly k experts, the lower index first, as the reference (≤ 1e-5)', async () => {
    expect((await logitsOf(tied, {})).worst).toBeLessThanOrEqual(1e-5);
    // The same computed densely (every expert on every token) agrees: selection, not compute, decides.
    expect((await logitsOf(tied, { feedForward: moeFeedForward({ compute: 'dense' }) })).worst).toBeLessThanOrEqual(1e-5);
    expect((await logitsOf(tied, { feedForward: moeFeedForward({ compute: 'per-token' }) })).worst).toBeLessThanOrEqual(1e-5);
    // The fixture discriminates: keeping all three tied experts (what a "≥ the k-th probability"
    // rule keeps) gives other logits.
    const three = join(dir, 'mixtral_tied_top3');
    cpSync(tied, three, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(three, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(three, 'config.json'), JSON.stringify({ ...cfg, num_experts_per_tok: 3 }));
    const lm = await loadModel(three, { ep: 'cpu', threads: 2 });
    const e = expected('mixtral_tied');
    const top3 = await lm.forward(lm.newState(e.B), e.ids, e.mask);
    await lm.release();
    expect(worstOnTokens(top3, e.logits, e.mask, e.S, 0)).toBeGreaterThan(1e-2);
  });

  test('experts {0, 3} kept of 4 equal the reference with the others removed (router rows sliced, softmax over the kept)', async () => {
    const r = await logitsOf(tied, { feedForward: moeFeedForward({ keep: [0, 3] }) }, 'expected-keep-0-3.safetensors');
    expect(r.worst).toBeLessThanOrEqual(1e-5);
    expect((await logitsOf(tied, { feedForward: moeFeedForward({ keep: [0, 3], compute: 'per-token' }) }, 'expected-keep-0-3.safetensors')).worst).toBeLessThanOrEqual(1e-5);
    // Per layer too (the same list for both layers here), and bad lists are refused.
    expect((await logitsOf(tied, { feedForward: moeFeedForward({ keep: () => [0, 3] }) }, 'expected-keep-0-3.safetensors')).worst).toBeLessThanOrEqual(1e-5);
    await expect(loadModel(tied, { ep: 'cpu', stack: { feedForward: moeFeedForward({ keep: [3, 0] }) } })).rejects.toThrow(/listed once, ascending/);
    await expect(loadModel(tied, { ep: 'cpu', stack: { feedForward: moeFeedForward({ keep: [4] }) } })).rejects.toThrow(/expert 4 is not one of 0…3/);
  });

  test('the router and the experts are linear sites', async () => {
    const seen: string[] = [];
    const spy = (site: LinearSite) => (seen.push(site.path), denseLinear());
    await (await loadModel(tied, { ep: 'cpu', stack: { linear: spy } })).release();
    expect(seen).toContain('layers.1.mlp.router');
    expect(seen).toContain('layers.0.mlp.experts.3.down_proj');
  });
});

describe('broken checkpoints are refused, naming the tensor', () => {
  const dir = mkdtempSync(join(tmpdir(), 'balmkit-llm-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const src = join(fixture('hf'), 'llama_rope_linear');
  const copy = (name: string) => {
    const d = join(dir, name);
    cpSync(src, d, { recursive: true });
    return d;
  };

  test('a missing tensor', async () => {
    const d = copy('missing');
    const t = readSafetensors(join(d, 'model.safetensors')).tensors;
    t.delete('model.layers.1.mlp.up_proj.weight');
    writeSafetensors(join(d, 'model.safetensors'), t);
    await expect(loadModel(d, { ep: 'cpu' })).rejects.toThrow(/'model\.layers\.1\.mlp\.up_proj\.weight' is missing/);
  });

  test('a missing lm_head says how tied heads are declared', async () => {
    const d = copy('nohead');
    const t = readSafetensors(join(d, 'model.safetensors')).tensors;
    t.delete('lm_head.weight');
    writeSafetensors(join(d, 'model.safetensors'), t);
    await expect(loadModel(d, { ep: 'cpu' })).rejects.toThrow(/'lm_head\.weight' is missing.*tie_word_embeddings/);
  });

  test('an unexpected tensor is refused, naming it; the known harmless ones are skipped', async () => {
    const d = copy('extra');
    const t = readSafetensors(join(d, 'model.safetensors')).tensors;
    const q = t.get('model.layers.0.self_attn.q_proj.weight')!;
    t.set('model.layers.0.self_attn.q_proj.lora_A.weight', { ...q, shape: [4, q.shape[1]], data: (q.data as Float32Array).slice(0, 4 * q.shape[1]) });
    writeSafetensors(join(d, 'model.safetensors'), t);
    await expect(loadModel(d, { ep: 'cpu' })).rejects.toThrow(/tensor 'model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight' is not part of the model config\.json describes \(LoRA tensors: merge/);
    t.delete('model.layers.0.self_attn.q_proj.lora_A.weight');
    t.set('model.layers.0.mlp.up_proj.bias', { dtype: 'float32', shape: [48], data: new Float32Array(48) });
    writeSafetensors(join(d, 'model.safetensors'), t);
    await expect(loadModel(d, { ep: 'cpu' })).rejects.toThrow(/'model\.layers\.0\.mlp\.up_proj\.bias' is not part of the model .*a bias or layer the config does not declare/);
    // The skip list: an old checkpoint's rotary buffer loads (and is documented in HARMLESS_HF_TENSORS).
    t.delete('model.layers.0.mlp.up_proj.bias');
    t.set('model.layers.1.self_attn.rotary_emb.inv_freq', { dtype: 'float32', shape: [4], data: new Float32Array(4) });
    writeSafetensors(join(d, 'model.safetensors'), t);
    await (await loadModel(d, { ep: 'cpu' })).release();
    expect(HARMLESS_HF_TENSORS.map((h) => h.why).join('; ')).toMatch(/rotary.*GPT-2/);
  });

  test('a wrong shape names both shapes', async () => {
    const d = copy('shape');
    const cfg = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(d, 'config.json'), JSON.stringify({ ...cfg, intermediate_size: 40 }));
    await expect(loadModel(d, { ep: 'cpu' })).rejects.toThrow(/'model\.layers\.0\.mlp\.gate_proj\.weight' has shape \[48, 32\], config\.json implies \[40, 32\]/);
    await expect(loadModel(d, { ep: 'cpu' })).rejects.toBeInstanceOf(ModelError); // balmkit's loader error type
  });

  test('a truncated safetensors file names the first tensor it cuts', async () => {
    const d = copy('truncated');
    const f = join(d, 'model.safetensors');
    truncateSync(f, Math.floor(readFileSync(f).length * 0.8));
    await expect(loadModel(d, { ep: 'cpu' })).rejects.toThrow(/model\.safetensors: tensor 'model\.layers\.\d\.[a-z_.]+'.*run past the end/);
  });

  test('a truncated pytorch_model.bin is refused (its zip directory is gone, so no tensor can be named)', async () => {
    const d = join(dir, 'truncated_bin');
    cpSync(join(fixture('hf'), 'llama_bin'), d, { recursive: true });
    const f = join(d, 'pytorch_model.bin');
    truncateSync(f, Math.floor(readFileSync(f).length * 0.8));
    await expect(loadModel(d, { ep: 'cpu' })).rejects.toThrow(/pytorch_model\.bin: not a zip archive/);
  });

  test('a weights file given without its folder is refused with what to give instead', async () => {
    await expect(loadModel(join(src, 'model.safetensors'), { ep: 'cpu' })).rejects.toThrow(/is a safetensors weights file; give the Hugging Face model folder/);
  });

  test('a truncated llama2.c checkpoint names the tensor it cuts', async () => {
    const d = join(dir, 'tiny.bin');
    // dim 8, hidden 16, 1 layer, 2 heads, 2 kv heads, vocab 10, seq 4: all floats, then cut.
    const header = Int32Array.of(8, 16, 1, 2, 2, 10, 4);
    const floats = 10 * 8 + 8 + 4 * 64 + 8 + 3 * 128 + 8 + 2 * 4 * 2;
    const full = new Uint8Array(28 + floats * 4);
    full.set(new Uint8Array(header.buffer), 0);
    writeFileSync(d, full);
    await expect(loadModel(d, { ep: 'cpu', tokenizer: false })).resolves.toBeTruthy();
    truncateSync(d, 28 + (10 * 8 + 8 + 64 + 10) * 4);
    await expect(loadModel(d, { ep: 'cpu', tokenizer: false })).rejects.toThrow(/truncated: tensor 'layers\.0\.attn\.k_proj\.weight'/);
  });
});
