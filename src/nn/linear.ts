/**
 * Linear layers whose computation is a *variant*: a typed object, like attention's
 * {@link AttentionVariant}, chosen per site. `dense` is here; LoRA, SparseLoRA, masked and n-bit
 * variants come with the issues that need them, as objects of the same interface (no registry).
 *
 * A site is where a linear layer sits, read from its weights' scope (`layers.3.attn.q_proj` →
 * layer 3, module `attn`, name `q_proj`), so every block that calls {@link linear} is a site
 * without threading indices through it. A {@link LinearChoice} picks the variant of each site:
 * one variant for all, a function of the site, or a PEFT-style pattern map ("LoRA on q/v of
 * layers 4–11, dense elsewhere" is `linearPatterns({ 'q_proj|v_proj': lora }, { layers: [4, 11] })`).
 */
import { GraphError, op, type Value } from '../onnx/index.js';
import type { Weights } from './weights.js';

export interface LinearSpec {
  inFeatures: number;
  outFeatures: number;
  bias: boolean;
}

/** Where a linear layer sits: its weights' scope path, and what that path says. */
export interface LinearSite {
  /** The scope of its weights, without the trailing dot: `layers.3.attn.q_proj`, `embed` (a tied head). */
  path: string;
  /** The last name of the path: `q_proj`, `router`, `lm_head`. */
  name: string;
  /** The layer index (`layers.<i>.` or BALMFold's `trunk.<i>.` in the path), or null outside the layers (an LM head). */
  layer: number | null;
  /** The module inside the layer (`attn`, `mlp`, `mlp.experts.2`), or null outside the layers. */
  module: string | null;
}

/** How a linear layer is computed: y [.., out] from x [.., in] and the weights under `w`. */
export interface LinearVariant {
  readonly kind: string;
  build(x: Value, w: Weights, spec: LinearSpec, site: LinearSite): Value;
}

/** Which variant each site gets. */
export type LinearChoice = LinearVariant | ((site: LinearSite) => LinearVariant);

/**
 * y = x Wᵀ + b with PyTorch's weight layout ([out, in] under `weight`, `bias` [out]). The weight
 * is stored transposed for MatMul, unless the graph already holds it as stored (a tied LM head
 * shares the embedding's matrix): then a Gemm reads it as it is (transB) on the rows of x, so the
 * matrix is stored once.
 */
export function denseLinear(): LinearVariant {
  return {
    kind: 'dense',
    build(x, w, spec) {
      const shape = [spec.outFeatures, spec.inFeatures];
      const bias = () => w.value('bias', { shape: [spec.outFeatures] });
      if (w.graph.has(w.fullName('weight')) && !w.graph.has(`${w.fullName('weight')}.T`)) {
        const flat = op.gemm(op.reshape(x, [-1, spec.inFeatures]), w.value('weight', { shape }), spec.bias ? bias() : null, { transB: true });
        return x.rank === 2 ? flat : op.reshape(flat, op.concat([op.shape(x, { end: -1 }), op.ints(x.graph, [spec.outFeatures])], 0));
      }
      const y = op.matMul(x, w.value('weight', { shape, transpose: true }));
      return spec.bias ? op.add(y, bias()) : y;
    },
  };
}

const DENSE = denseLinear();

/**
 * A variant that hands each layer's input to `onInput` (and computes as `inner`): calibration and
 * pruning statistics (Wanda's ‖x‖ per input feature) make a graph output of it there.
 */
export function capturingLinear(inner: LinearVariant, onInput: (x: Value, site: LinearSite, spec: LinearSpec) => void): LinearVariant {
  return {
    kind: `${inner.kind}+capture`,
    build(x, w, spec, site) {
      onInput(x, site, spec);
      return inner.build(x, w, spec, site);
    },
  };
}

/** The site of weights under `w`, from its scope path. */
export function siteOf(w: Weights): LinearSite {
  const path = w.prefix.replace(/\.$/, '');
  const parts = path.split('.');
  const name = parts[parts.length - 1] ?? path;
  // `layers.<i>.` in the LLMs and BALM, `trunk.<i>.` in BALMFold.
  const m = /^(?:.*\.)?(?:layers|trunk)\.(\d+)\.(.+)$/.exec(path);
  if (m === null) return { path, name, layer: null, module: null };
  const inside = m[2].split('.');
  return { path, name, layer: Number(m[1]), module: inside.length > 1 ? inside.slice(0, -1).join('.') : null };
}

/** The variant `choice` gives `site` (dense when there is no choice). */
export function linearFor(choice: LinearChoice | undefined, site: LinearSite): LinearVariant {
  if (choice === undefined) return DENSE;
  return typeof choice === 'function' ? choice(site) : choice;
}

/** Where {@link linearPatterns} applies its variants. */
export interface PatternScope {
  /** Only these layers, inclusive `[first, last]` (PEFT's layers_to_transform); default all, and never a site outside the layers. */
  layers?: readonly [number, number];
  /** The variant of every other site (default dense). */
  otherwise?: LinearVariant;
}

/**
 * A PEFT-style choice: each key is a `|`-separated list of site names (`q_proj|v_proj`, as PEFT's
 * target_modules matches module names) or a regular expression over the path written `/…/`.
 * The first matching key wins. A key that matches no site of a model is an error when the model's
 * graph is built ({@link checkChoiceUsed}): a typo would otherwise apply nothing, silently.
 */
export function linearPatterns(patterns: Readonly<Record<string, LinearVariant>>, scope: PatternScope = {}): ((site: LinearSite) => LinearVariant) & { unmatched(): string[] } {
  const rules = Object.entries(patterns).map(([key, variant]) => {
    const re = /^\/(.+)\/$/.exec(key);
    const test = re ? (s: LinearSite) => new RegExp(re[1]).test(s.path) : (s: LinearSite) => key.split('|').includes(s.name);
    return { key, variant, test, used: false };
  });
  const choose = (site: LinearSite): LinearVariant => {
    const inLayers = scope.layers === undefined ? true : site.layer !== null && site.layer >= scope.layers[0] && site.layer <= scope.layers[1];
    if (inLayers) {
      for (const r of rules) {
        if (r.test(site)) {
          r.used = true;
          return r.variant;
        }
      }
    }
    return scope.otherwise ?? DENSE;
  };
  return Object.assign(choose, { unmatched: () => rules.filter((r) => !r.used).map((r) => r.key) });
}

/**
 * A linear layer whose weights live under scope `w` (`w.weight`, `w.bias`), computed by the
 * variant `choice` (else the one the scope carries, `w.linear`; else dense) gives its site.
 */
export function linear(x: Value, w: Weights, spec: LinearSpec, choice?: LinearChoice): Value {
  const site = siteOf(w);
  const variant = linearFor(choice ?? w.linear, site);
  const y = x.graph.scope(site.path, () => variant.build(x, w, spec, site));
  if (y === undefined) throw new GraphError(`linear variant '${variant.kind}' returned nothing at ${site.path}`);
  return y;
}

/** Refuses a pattern map with keys that matched no site of the graph just built. */
export function checkChoiceUsed(choice: LinearChoice | undefined, model: string): void {
  const unmatched = choice !== undefined && 'unmatched' in choice && typeof choice.unmatched === 'function' ? (choice.unmatched as () => string[])() : [];
  if (unmatched.length > 0)
    throw new GraphError(
      `${model}: linear pattern${unmatched.length === 1 ? '' : 's'} ${unmatched.map((k) => `'${k}'`).join(', ')} matched no layer (site names are the weights' last names: q_proj, v_proj, gate_proj, router, …)`,
    );
}
