/**
 * Linear variants as typed objects chosen per site: a variant defined here, outside src/, wraps
 * the q projection of one layer of a decoder fixture (through a PEFT-style pattern map) and
 * changes only what comes after it; every site is visible (attention and MLP projections, the
 * MoE router, the LM head), a pattern that matches nothing is refused, and sites read their
 * layer and module from the weights' scope.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { describe, expect, test } from 'vitest';
import { readSafetensors } from '../../src/io/safetensors.js';
import type { HostTensor } from '../../src/io/tensor.js';
import {
  type DecoderConfig,
  type FeedForwardVariant,
  type LinearSite,
  type LinearVariant,
  Weights,
  buildDecoderGraph,
  capturingLinear,
  denseLinear,
  linearPatterns,
  siteOf,
  standardFeedForward,
} from '../../src/nn/index.js';
import { GraphBuilder, op, serializeModel, type Value } from '../../src/onnx/index.js';
import { decoderConfig } from '../../models/reference/configs.js';
import { readWeights } from '../../src/io/weights.js';
import { hfModelConfig, mapHfTensors } from '../../src/llm/hf.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/nn/', import.meta.url));
const f = readSafetensors(`${FIXTURES}decoder_gqa_half.safetensors`);
/** The model's weights, without the fixture's input.* / output.* tensors (a builder refuses what it does not read). */
const weights = new Map([...f.tensors].filter(([k]) => !/^(input|output)\./.test(k)));
const cfg = decoderConfig(JSON.parse(f.metadata.config));
const i64 = (t: HostTensor) => new ort.Tensor('int64', t.data as BigInt64Array, t.shape);

/** y = 2 · dense(x): a variant of our own, built from the public interface only. */
const doubled: LinearVariant = {
  kind: 'doubled',
  build: (x, w, spec, site) => op.mul(denseLinear().build(x, w, spec, site), 2),
};

/** A decoder to run: its weights, config and one batch of inputs. */
interface Case {
  weights: Map<string, HostTensor>;
  cfg: DecoderConfig;
  feeds: () => Record<string, ort.Tensor>;
}

/** The nn decoder fixture (models/reference/make_nn_fixtures.py). */
const NN: Case = {
  weights,
  cfg,
  feeds: () => {
    const ids = f.tensors.get('input.input_ids')!;
    return {
      input_ids: i64(ids),
      position_ids: i64(f.tensors.get('input.positions')!),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(ids.data.length).fill(1n), ids.shape),
    };
  },
};

/** A Hugging Face LLM fixture as the loader maps it (test/fixtures/llm/hf/llama_tied, left-padded batch). */
function hfCase(name: string): Case {
  const folder = fileURLToPath(new URL(`../fixtures/llm/hf/${name}/`, import.meta.url));
  const hf = hfModelConfig(JSON.parse(readFileSync(`${folder}config.json`, 'utf8')), folder);
  const io = readSafetensors(`${folder}expected.safetensors`).tensors;
  return {
    weights: mapHfTensors(readWeights(folder), hf.decoder, folder, hf.arch),
    cfg: hf.decoder,
    feeds: () => {
      const ids = io.get('input.input_ids')!;
      const mask = io.get('input.attention_mask')!.data as BigInt64Array;
      const [B, S] = ids.shape as [number, number];
      const pos = new BigInt64Array(B * S);
      // Each real token's position counts the real tokens before it (left padding gets 0), as the loader does.
      for (let b = 0; b < B; b++) {
        let p = 0n;
        for (let t = 0; t < S; t++) {
          const real = mask[b * S + t];
          pos[b * S + t] = real ? p : 0n;
          p += real;
        }
      }
      return { input_ids: i64(ids), position_ids: new ort.Tensor('int64', pos, [B, S]), attention_mask: new ort.Tensor('int64', mask, [B, S]) };
    },
  };
}

/** Runs a decoder with `linear`, every site's input captured as an output `in:<path>`. */
async function run(c: Case, linear: (site: LinearSite) => LinearVariant): Promise<{ sites: string[]; values: Map<string, Float32Array> }> {
  const sites: string[] = [];
  const choice = (site: LinearSite): LinearVariant =>
    capturingLinear(linear(site), (x: Value, s) => {
      sites.push(s.path);
      x.graph.output(op.identity(x), `in:${s.path}`);
    });
  const g = buildDecoderGraph(c.weights, c.cfg, { linear: choice }, { cache: false });
  const s = await ort.InferenceSession.create(serializeModel(g), { intraOpNumThreads: 2, logSeverityLevel: 3 });
  const out = await s.run(c.feeds());
  const values = new Map(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  return { sites, values };
}

const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => v === b[i]);

describe('linear variants per site', () => {
  test.each([
    ['the nn decoder fixture', () => NN],
    ['the llama_tied LLM fixture (as loadModel maps it)', () => hfCase('llama_tied')],
  ])('a variant from a test file on layer 1 q_proj of %s changes only what follows it', async (_name, make) => {
    const c = make();
    const base = await run(c, () => denseLinear());
    const patterns = linearPatterns({ q_proj: doubled }, { layers: [1, 1] });
    const mine = await run(c, patterns);
    expect(patterns.unmatched()).toEqual([]);
    expect(mine.sites).toEqual(base.sites);
    // Every projection is a site, the LM head included.
    expect(base.sites).toContain('layers.0.attn.q_proj');
    expect(base.sites).toContain('layers.1.mlp.down_proj');
    expect(base.sites.at(-1)).toMatch(/^(embed|lm_head)$/);
    // Inputs up to layer 1's attention are identical; from its o_proj on, they differ.
    const changed = base.sites.filter((p) => !same(base.values.get(`in:${p}`)!, mine.values.get(`in:${p}`)!));
    expect(changed[0]).toBe('layers.1.attn.o_proj');
    expect(base.sites.slice(0, base.sites.indexOf('layers.1.attn.o_proj')).every((p) => !changed.includes(p))).toBe(true);
    expect(same(base.values.get('logits')!, mine.values.get('logits')!)).toBe(false);
  });

  test('a pattern that matches no site is refused, naming it', () => {
    expect(() => buildDecoderGraph(weights, cfg, { linear: linearPatterns({ qproj: doubled }) }, { cache: false })).toThrow(/linear pattern 'qproj' matched no layer/);
    // A regular expression over the path works as PEFT's target_modules regex does.
    const re = linearPatterns({ '/^layers\\.0\\.mlp\\./': doubled });
    buildDecoderGraph(weights, cfg, { linear: re }, { cache: false });
    expect(re.unmatched()).toEqual([]);
  });

  test('sites read their layer and module from the weights scope', () => {
    const w = new Weights(new GraphBuilder('t'), new Map());
    expect(siteOf(w.scope('layers.3').scope('attn').scope('q_proj'))).toEqual({ path: 'layers.3.attn.q_proj', name: 'q_proj', layer: 3, module: 'attn' });
    expect(siteOf(w.scope('layers.0.mlp.experts.2.gate_proj'))).toEqual({ path: 'layers.0.mlp.experts.2.gate_proj', name: 'gate_proj', layer: 0, module: 'mlp.experts.2' });
    expect(siteOf(w.scope('lm_head'))).toEqual({ path: 'lm_head', name: 'lm_head', layer: null, module: null });
  });
});

describe('weights: every tensor accounted for, stored dtypes on request, derived tensors once', () => {
  test('a tensor no block reads is refused, naming it', () => {
    const extra = new Map(weights);
    extra.set('layers.0.attn.q_proj.lora_A.weight', weights.get('layers.0.attn.q_proj.weight')!);
    expect(() => buildDecoderGraph(extra, cfg, {}, { cache: false })).toThrow(/tensor 'layers\.0\.attn\.q_proj\.lora_A\.weight' not used by the decoder graph/);
  });

  test('raw() keeps the stored dtype; derived() makes a tensor once and counts as a read', () => {
    const half = { dtype: 'float16' as const, shape: [2, 2], data: Uint16Array.of(0x3c00, 0, 0, 0x3c00) };
    const w = new Weights(new GraphBuilder('t'), new Map([['m.weight', half]]));
    const m = w.scope('m');
    expect(m.raw('weight').dtype).toBe('float16');
    expect(w.graph.has('m.weight.float16')).toBe(true);
    let made = 0;
    const twice = () => m.derived('weight', 'doubled', (t) => (made++, { dtype: 'float16', dims: [...t.shape], data: t.data }));
    expect(twice()).toBe(twice());
    expect(made).toBe(1);
    expect(w.unused()).toEqual([]);
    const unread = new Weights(
      new GraphBuilder('u'),
      new Map([
        ['a', half],
        ['b', half],
      ]),
    );
    unread.value('a');
    expect(unread.unused()).toEqual(['b']);
    expect(() => unread.checkAllUsed('test')).toThrow(/tensor 'b' not used by the test graph/);
  });
});

describe('feed-forward variants per layer', () => {
  test('a variant from a test file replaces one layer’s MLP; the standard variant is the default graph', async () => {
    const logits = async (opts: Parameters<typeof buildDecoderGraph>[2]) => {
      const s = await ort.InferenceSession.create(serializeModel(buildDecoderGraph(weights, cfg, opts, { cache: false })), { intraOpNumThreads: 2, logSeverityLevel: 3 });
      const ids = f.tensors.get('input.input_ids')!;
      const out = await s.run({
        input_ids: i64(ids),
        position_ids: i64(f.tensors.get('input.positions')!),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(ids.data.length).fill(1n), ids.shape),
      });
      return out.logits.data as Float32Array;
    };
    const base = await logits({});
    expect(same(await logits({ feedForward: standardFeedForward() }), base)).toBe(true);
    // No feed-forward at all in layer 1 (its weights then go unread: the variant says so).
    const skip: FeedForwardVariant = { kind: 'skip', build: (x) => op.mul(x, 0), unread: (w) => [new RegExp(`^${w.prefix.replace(/\./g, '\\.')}`)] };
    const changed = await logits({ feedForward: (layer) => (layer === 1 ? skip : standardFeedForward()) });
    expect(same(changed, base)).toBe(false);
    // Without `unread`, the builder calls layer 1's MLP weights unexpected.
    expect(() => buildDecoderGraph(weights, cfg, { feedForward: (layer) => (layer === 1 ? { kind: 'skip', build: (x) => op.mul(x, 0) } : standardFeedForward()) }, { cache: false })).toThrow(
      /'layers\.1\.mlp\.[a-z_]+\.weight'.* not used/,
    );
  });
});
