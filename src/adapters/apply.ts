/**
 * Adapters onto a model: each adapter module (the base checkpoint's name, `model.layers.0.self_attn.q_proj`)
 * is found among the model's weights, and its linear site gets the LoRA variant; several adapters
 * add their updates, each scaled by its weight. A module the model does not have is an error that
 * names the adapter's target_modules and the model's nearest module names.
 */
import type { PeftAdapter } from './peft.js';
import { type LinearChoice, type LinearSite, type LinearVariant, type LoraUpdate, linearFor, loraLinear } from '../nn/index.js';
import { ModelError } from '../runtime/errors.js';

export interface WeightedAdapter {
  adapter: PeftAdapter;
  /** Multiplies the adapter's scale (default 1). */
  weight?: number;
}

/** The closest names to `name` among `names`, by the length of their shared suffix. */
export function nearest(name: string, names: readonly string[], n = 3): string[] {
  const shared = (a: string, b: string) => {
    let k = 0;
    while (k < a.length && k < b.length && a[a.length - 1 - k] === b[b.length - 1 - k]) k++;
    return k;
  };
  return [...names].sort((a, b) => shared(name, b) - shared(name, a)).slice(0, n);
}

/**
 * The linear choice applying `adapters` to a model. `moduleToSite` maps the base checkpoint's
 * module names (a weight's name without `.weight`) to balmkit's site paths; `base` is the
 * choice of every site without an adapter (and under the adapters: dense by default).
 */
export function adapterChoice(adapters: readonly WeightedAdapter[], moduleToSite: ReadonlyMap<string, string>, model: string, base?: LinearChoice): LinearChoice {
  const bySite = new Map<string, LoraUpdate[]>();
  for (const { adapter, weight = 1 } of adapters) {
    for (const [module, m] of adapter.modules) {
      const site = moduleToSite.get(module);
      if (site === undefined) {
        const targets = Array.isArray(adapter.config.target_modules) ? adapter.config.target_modules.join(', ') : adapter.config.target_modules;
        throw new ModelError(
          `adapter '${adapter.name}' (${adapter.folder}): module '${module}' (target_modules ${targets}) is not a linear layer of ${model}; nearest: ${nearest(module, [...moduleToSite.keys()]).join(', ')}`,
        );
      }
      bySite.set(site, [...(bySite.get(site) ?? []), { a: m.a, b: m.b, scale: m.scale * weight, name: adapter.name.replace(/[^A-Za-z0-9_-]/g, '_') }]);
    }
  }
  return (site: LinearSite): LinearVariant => {
    const under = linearFor(base, site);
    const updates = bySite.get(site.path);
    return updates ? loraLinear(updates, under) : under;
  };
}
