/**
 * LoRA adapters in the Hugging Face PEFT layout, written by models/reference/make_lora_fixtures.py
 * with the logits of PEFT's unmerged forward (llm_reference.py): balmkit loads them onto the base
 * fixture and gives the reference's logits (≤ 1e-4), rsLoRA, regex target_modules, rank_pattern and
 * alpha_pattern included; what balmkit does not support, and adapters for another model, are refused.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readPeftAdapter } from '../../src/adapters/index.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { loadModel } from '../../src/llm/index.js';
import { type HostTensor, tensorBytes } from '../../src/io/tensor.js';
import { mulberry32 } from '../../src/util/random.js';
import { balmkit, ensureBuilt } from '../cli/helpers.js';
import { fixture, maxAbsDiff } from '../llm/helpers.js';

const LORA = fixture('lora');
const BASE: Record<string, string> = { llama_qv: 'llama_rope_linear', qwen2_rslora: 'qwen2_bias' };
const dir = mkdtempSync(join(tmpdir(), 'balmkit-peft-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function inputs(base: string) {
  const t = readSafetensors(join(fixture('hf'), base, 'expected.safetensors')).tensors;
  const ids = t.get('input.input_ids')!;
  const [B, S] = ids.shape as [number, number];
  const rows = (x: BigInt64Array) => Array.from({ length: B }, (_, b) => Array.from(x.subarray(b * S, (b + 1) * S), Number));
  return { ids: rows(ids.data as BigInt64Array), mask: rows(t.get('input.attention_mask')!.data as BigInt64Array), B, S };
}

describe('PEFT LoRA adapters', () => {
  test.each(Object.keys(BASE))('%s: the reference’s logits (≤ 1e-4)', async (name) => {
    const e = inputs(BASE[name]);
    const want = readSafetensors(join(LORA, name, 'expected.safetensors')).tensors.get('output.logits')!.data as Float32Array;
    const lm = await loadModel(join(fixture('hf'), BASE[name]), { ep: 'cpu', threads: 2, adapters: [join(LORA, name)] });
    const got = await lm.forward(lm.newState(e.B), e.ids, e.mask);
    await lm.release();
    let worst = 0;
    for (let b = 0; b < e.B; b++) {
      for (let s = 0; s < e.S; s++) {
        if (!e.mask[b][s]) continue;
        const k = (b * e.S + s) * got.vocab;
        worst = Math.max(worst, maxAbsDiff(got.data.subarray(k, k + got.vocab), want.subarray(k, k + got.vocab)));
      }
    }
    expect(worst).toBeLessThanOrEqual(1e-4);
  });

  test('scales as PEFT: alpha / r, alpha / √r with rsLoRA, rank_pattern and alpha_pattern per module', () => {
    const a = readPeftAdapter(join(LORA, 'llama_qv'));
    expect([...a.modules.values()].map((m) => m.scale)).toEqual([2, 2, 2, 2]); // 8 / 4
    const q = readPeftAdapter(join(LORA, 'qwen2_rslora'));
    const up1 = q.modules.get('model.layers.1.mlp.up_proj')!;
    const o0 = q.modules.get('model.layers.0.self_attn.o_proj')!;
    expect([up1.r, up1.scale]).toEqual([2, 6 / Math.sqrt(2)]);
    expect([o0.r, o0.alpha, o0.scale]).toEqual([4, 3, 3 / 2]);
  });

  test('refuses what it does not support, and adapters made for another model', async () => {
    const copy = (name: string, edit: (cfg: Record<string, unknown>) => Record<string, unknown>) => {
      const d = join(dir, name);
      cpSync(join(LORA, 'llama_qv'), d, { recursive: true });
      const cfg = JSON.parse(readFileSync(join(d, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(d, 'adapter_config.json'), JSON.stringify(edit(cfg)));
      return d;
    };
    expect(() => readPeftAdapter(copy('dora', (c) => ({ ...c, use_dora: true })))).toThrow(/use_dora is true \(DoRA is not supported\)/);
    expect(() => readPeftAdapter(copy('bias', (c) => ({ ...c, bias: 'all' })))).toThrow(/bias is 'all'/);
    // Another model: its modules are named as this one's are not.
    const other = copy('other', (c) => c);
    const t = readSafetensors(join(other, 'adapter_model.safetensors')).tensors;
    const renamed = new Map([...t].map(([k, v]) => [k.replace('self_attn.q_proj', 'attention.query'), v]));
    writeSafetensors(join(other, 'adapter_model.safetensors'), renamed);
    await expect(loadModel(join(fixture('hf'), 'llama_rope_linear'), { ep: 'cpu', adapters: [other] })).rejects.toThrow(
      /module 'model\.layers\.\d\.attention\.query' \(target_modules q_proj, v_proj\) is not a linear layer of .*; nearest: /,
    );
    // A matrix of another width is refused naming the layer and both shapes.
    const wide = copy('wide', (c) => c);
    const w = readSafetensors(join(wide, 'adapter_model.safetensors')).tensors;
    const key = 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight';
    const a = w.get(key)!;
    w.set(key, { dtype: 'float32', shape: [a.shape[0], 40], data: new Float32Array(a.shape[0] * 40) });
    writeSafetensors(join(wide, 'adapter_model.safetensors'), w);
    await expect(loadModel(join(fixture('hf'), 'llama_rope_linear'), { ep: 'cpu', adapters: [wide] })).rejects.toThrow(
      /layers\.0\.attn\.q_proj: adapter 'wide' has lora_A \[4, 40\] and lora_B \[32, 4\]; this layer needs \[r, 32\] and \[32, r\]/,
    );
  });
});

describe('balmkit adapters', () => {
  beforeAll(() => ensureBuilt(), 120_000);

  test('merge-lora writes the merged model: the reference’s logits, every other tensor and file byte-identical', async () => {
    const out = join(dir, 'merged');
    const base = join(fixture('hf'), 'qwen2_bias');
    const r = balmkit(['adapters', 'merge-lora', '--model', base, '--adapter', join(LORA, 'qwen2_rslora'), '-o', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { merged: string[] };
    expect(report.merged).toHaveLength(6);
    const before = readSafetensors(join(base, 'model.safetensors')).tensors;
    const after = readSafetensors(join(out, 'model.safetensors')).tensors;
    expect([...after.keys()]).toEqual([...before.keys()]);
    for (const [k, t] of before) {
      const same = Buffer.compare(Buffer.from(tensorBytes(t)), Buffer.from(tensorBytes(after.get(k)!))) === 0;
      expect(same, k).toBe(!report.merged.includes(k));
    }
    expect(readFileSync(join(out, 'config.json'), 'utf8')).toBe(readFileSync(join(base, 'config.json'), 'utf8'));
    const e = inputs('qwen2_bias');
    const want = readSafetensors(join(LORA, 'qwen2_rslora', 'expected.safetensors')).tensors.get('output.logits')!.data as Float32Array;
    const lm = await loadModel(out, { ep: 'cpu', threads: 2 });
    const got = await lm.forward(lm.newState(e.B), e.ids, e.mask);
    await lm.release();
    let worst = 0;
    for (let b = 0; b < e.B; b++)
      for (let s = 0; s < e.S; s++)
        if (e.mask[b][s])
          worst = Math.max(worst, maxAbsDiff(got.data.subarray((b * e.S + s) * got.vocab, (b * e.S + s + 1) * got.vocab), want.subarray((b * e.S + s) * got.vocab, (b * e.S + s + 1) * got.vocab)));
    expect(worst).toBeLessThanOrEqual(1e-4);
    // A non-empty output folder is refused.
    const again = balmkit(['adapters', 'merge-lora', '--model', base, '--adapter', join(LORA, 'qwen2_rslora'), '-o', out]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/the folder is not empty/);
  });

  test('llm perplexity --adapter applies it unmerged: the merged model’s perplexity, not the base model’s', () => {
    const text = join(dir, 'text.txt');
    writeFileSync(text, 'hello world, hello world\n');
    const base = join(fixture('hf'), 'llama_rope_linear');
    const tok = join(fixture('hf'), 'llama_tied'); // the same 48-token vocabulary, with a tokenizer
    const ppl = (model: string, extra: string[] = []) => {
      const r = balmkit(['llm', 'perplexity', text, '--model', model, '--tokenizer', tok, '--window', '8', '--stride', '4', '--json', ...extra]);
      expect(r.code, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { perplexity: number }).perplexity;
    };
    const merged = join(dir, 'merged-qv');
    expect(balmkit(['adapters', 'merge-lora', '--model', base, '--adapter', join(LORA, 'llama_qv'), '-o', merged]).code).toBe(0);
    const withAdapter = ppl(base, ['--adapter', join(LORA, 'llama_qv')]);
    expect(Math.abs(withAdapter - ppl(merged)) / withAdapter).toBeLessThan(1e-5);
    expect(Math.abs(withAdapter - ppl(base)) / withAdapter).toBeGreaterThan(0.01);
  });

  test('inspect lists targets, ranks and scales', () => {
    const r = balmkit(['adapters', 'inspect', join(LORA, 'qwen2_rslora'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { use_rslora: boolean; modules: { module: string; r: number; scale: number }[] };
    expect(j.use_rslora).toBe(true);
    expect(j.modules.find((m) => m.module === 'model.layers.1.mlp.up_proj')).toMatchObject({ r: 2 });
  });
});

describe('adapters on BALM', () => {
  test('a PEFT LoRA on the official ESM names, unmerged, gives the merged model’s logits (≤ 1e-5)', async () => {
    const { Balm, encodeChain } = await import('../../src/balm/index.js');
    const { number } = await import('../../src/antibody/index.js');
    const { mergeAdapters } = await import('../../src/adapters/index.js');
    const { readWeights } = await import('../../src/io/weights.js');
    const model = fileURLToPath(new URL('../../models/balm-small/', import.meta.url));
    const raw = readWeights(model);
    // A random rank-4 adapter on query and value of every layer, as PEFT names them on EsmForMaskedLM.
    const rand = mulberry32(5);
    const mat = (r: number, c: number, s: number): HostTensor => ({ dtype: 'float32', shape: [r, c], data: Float32Array.from({ length: r * c }, () => (rand() * 2 - 1) * s) });
    const lora = new Map<string, HostTensor>();
    for (const [name, t] of raw) {
      if (!/attention\.self\.(query|value)\.weight$/.test(name)) continue;
      const m = name.replace(/\.weight$/, '');
      lora.set(`base_model.model.${m}.lora_A.weight`, mat(4, t.shape[1], 0.3));
      lora.set(`base_model.model.${m}.lora_B.weight`, mat(t.shape[0], 4, 0.05)); // a trained LoRA's size, not a random one's
    }
    const adapter = join(dir, 'balm-qv');
    mkdirSync(adapter, { recursive: true });
    writeFileSync(join(adapter, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: ['query', 'value'] }));
    writeSafetensors(join(adapter, 'adapter_model.safetensors'), lora);
    const merged = join(dir, 'balm-merged');
    mkdirSync(merged, { recursive: true });
    cpSync(join(model, 'config.json'), join(merged, 'config.json'));
    writeSafetensors(join(merged, 'model.safetensors'), mergeAdapters(raw, [{ adapter: readPeftAdapter(adapter) }], model, { dtype: 'float32' }).tensors);

    const vh = 'EVQLVESGGGLVQPGGSLRLSCAASGFNIKDTYIHWVRQAPGKGLEWVARIYPTNGYTRYADSVKGRFTISADTSKNTAYLQMNSLRAEDTAVYYCSRWGGDGFYAMDYWGQGTLVTVSS';
    const d = number(vh).domains[0];
    const chain = encodeChain(
      d.sequence,
      d.residues.map((r) => r.imgt),
    );
    const logits = async (folder: string, adapters?: string[]) => {
      const balm = await Balm.load(folder, { ep: 'cpu', ...(adapters ? { adapters } : {}) });
      const out = (await balm.run([chain])).outputs.logits.data as Float32Array;
      await balm.release();
      return out;
    };
    const [a, b, c] = [await logits(model, [adapter]), await logits(merged), await logits(model)];
    const scale = Math.max(...a.map(Math.abs));
    console.info(`BALM LoRA: max |unmerged − merged| ${maxAbsDiff(a, b).toExponential(2)} on logits up to ${scale.toFixed(1)}`);
    // (W + sBA)x and Wx + sB(Ax) sum in different orders: at BALM's logit scale (~26) float32 holds
    // them to a few ulps (2⁻²³·26 ≈ 3e-6 each), not to the 1e-5 absolute of the smaller fixtures.
    expect(maxAbsDiff(a, b)).toBeLessThanOrEqual(8 * scale * 2 ** -23);
    expect(maxAbsDiff(a, c)).toBeGreaterThan(1e-2);
    // The same through the CLI: embed --adapter gives the merged model's embeddings.
    ensureBuilt();
    const embed = (folder: string, extra: string[] = []) => {
      const out = join(dir, `emb-${folder.split('/').filter(Boolean).pop()}-${extra.length}.json`);
      const r = balmkit(['embed', '--heavy', vh, '--model', folder, '--ep', 'cpu', '-o', out, ...extra]);
      expect(r.code, r.stderr).toBe(0);
      return Float32Array.from((JSON.parse(readFileSync(out, 'utf8')) as { chains: { mean: number[] }[] }).chains[0].mean);
    };
    const viaAdapter = embed(model, ['--adapter', adapter]);
    expect(maxAbsDiff(viaAdapter, embed(merged))).toBeLessThanOrEqual(1e-4);
    expect(maxAbsDiff(viaAdapter, embed(model))).toBeGreaterThan(1e-3);
  }, 120_000);
});
