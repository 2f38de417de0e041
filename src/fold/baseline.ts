/**
 * The template baseline predictor: numbered chains → backbone from the mean template of each IMGT
 * position (framework per chain type; CDRs per chain type, CDR and length) → backbone frames and
 * psi from those atoms, chi angles from the most common rotamers → all heavy atoms with
 * `atomsFromFrames`. Relaxation happens in `predict.ts`.
 *
 * Where the templates have nothing for a residue:
 * - a CDR length never seen in training takes the nearest length seen (the longer one on a tie),
 *   resampled along the loop, and its error is the template's spread plus {@link UNSEEN_LENGTH_PENALTY}
 *   per residue of length difference;
 * - a kappa (lambda) position missing from its chain type's templates takes the other light type's;
 * - a framework position no chain type has (an unusual insertion) is interpolated between its
 *   neighbours (extrapolated at a terminus), with the larger neighbouring error plus
 *   {@link INTERPOLATED_PENALTY}.
 */
import type { NumberedResidue } from '../antibody/number.js';
import type { ChainType } from '../antibody/profile.js';
import { atomsFromFrames, backboneFrames, NUM_TORSIONS, TORSION, torsionsFromAtoms, type Atom14 } from './atoms.js';
import type { BaselineTemplates, RotamerTemplate, SlotTemplate } from './baseline-model.js';
import { ATOMS_PER_RESIDUE, RESNAMES, restypeIndex } from './residue-constants.js';
import { CHI_COUNT } from './rigid-groups.js';
import { BadInputError } from '../runtime/errors.js';

/** Å of predicted error added per residue of difference when a CDR length was not seen in training. */
export const UNSEEN_LENGTH_PENALTY = 0.5;
/** Å of predicted error added to an interpolated framework residue. */
export const INTERPOLATED_PENALTY = 1.0;

/** A numbered chain to predict: chain id in the output, chain type, and its numbered residues in order. */
export interface TemplateChainInput {
  /** Output chain id (`H`, `L`). */
  id: string;
  chainType: ChainType;
  residues: readonly NumberedResidue[];
}

/** How a residue's backbone was obtained. */
export type TemplateSource = 'framework' | 'cdr' | 'cdr-nearest-length' | 'interpolated';

/** The unrelaxed template model. */
export interface TemplateModel {
  /** Heavy atoms of all chains, in chain order. */
  atoms: Atom14;
  /** Predicted error per residue (Å). */
  errors: Float64Array;
  /** First residue of each chain. */
  chainStarts: number[];
  /** Per residue, where its backbone came from. */
  sources: TemplateSource[];
}

const imgtId = (r: NumberedResidue) => `${r.imgt.number}${r.imgt.insertion}`;
const otherLight = (t: ChainType): ChainType | undefined => (t === 'K' ? 'L' : t === 'L' ? 'K' : undefined);

interface Placed {
  backbone: number[] | null;
  error: number;
  source: TemplateSource;
}

/** The template of a CDR of `length` residues: exact, or the nearest length seen. */
function cdrTemplate(t: BaselineTemplates, chainType: ChainType, cdr: string, length: number): { ids: string[]; slots: SlotTemplate[]; length: number } | undefined {
  for (const type of [chainType, otherLight(chainType)]) {
    if (type === undefined) continue;
    const byLength = t.cdrs[type]?.[cdr];
    if (!byLength) continue;
    const seen = Object.keys(byLength).map(Number);
    if (seen.length === 0) continue;
    const best = seen.sort((a, b) => Math.abs(a - length) - Math.abs(b - length) || b - a)[0];
    return { ...byLength[String(best)], length: best };
  }
  return undefined;
}

function lerp(a: readonly number[], b: readonly number[], f: number): number[] {
  return a.map((x, k) => x + (b[k] - x) * f);
}

function placeChain(t: BaselineTemplates, chain: TemplateChainInput): Placed[] {
  const lengths: Record<string, number> = {};
  for (const r of chain.residues) if (r.regions.imgt.startsWith('cdr')) lengths[r.regions.imgt] = (lengths[r.regions.imgt] ?? 0) + 1;
  const indexInCdr: Record<string, number> = {};
  const placed: Placed[] = chain.residues.map((r) => {
    const region = r.regions.imgt;
    if (region.startsWith('cdr')) {
      const k = (indexInCdr[region] = (indexInCdr[region] ?? -1) + 1);
      const len = lengths[region];
      const tpl = cdrTemplate(t, chain.chainType, region, len);
      if (tpl) {
        if (tpl.length === len) {
          const s = tpl.ids.indexOf(imgtId(r));
          const slot = tpl.slots[s >= 0 ? s : k];
          return { backbone: slot.backbone, error: slot.spread, source: 'cdr' };
        }
        // Resample the nearest length along the loop.
        const x = len === 1 ? (tpl.length - 1) / 2 : (k * (tpl.length - 1)) / (len - 1);
        const lo = Math.floor(x);
        const hi = Math.min(lo + 1, tpl.length - 1);
        const f = x - lo;
        const a = tpl.slots[lo];
        const b = tpl.slots[hi];
        return {
          backbone: lerp(a.backbone, b.backbone, f),
          error: a.spread + (b.spread - a.spread) * f + UNSEEN_LENGTH_PENALTY * Math.abs(len - tpl.length),
          source: 'cdr-nearest-length',
        };
      }
      return { backbone: null, error: 0, source: 'interpolated' };
    }
    for (const type of [chain.chainType, otherLight(chain.chainType)]) {
      const slot = type && t.framework[type]?.[imgtId(r)];
      if (slot) return { backbone: slot.backbone, error: slot.spread, source: 'framework' };
    }
    return { backbone: null, error: 0, source: 'interpolated' };
  });
  fillGaps(placed, chain);
  return placed;
}

/** Interpolates residues without a template between their placed neighbours (extrapolates at the ends). */
function fillGaps(placed: Placed[], chain: TemplateChainInput): void {
  const known = placed.flatMap((p, i) => (p.backbone ? [i] : []));
  if (known.length < 2) throw new BadInputError(`chain ${chain.id}: the templates cover ${known.length} of its ${placed.length} residues; is it an antibody variable domain?`);
  for (let i = 0; i < placed.length; i++) {
    if (placed[i].backbone) continue;
    const prev = [...known].reverse().find((k) => k < i);
    const next = known.find((k) => k > i);
    let bb: number[];
    let err: number;
    if (prev !== undefined && next !== undefined) {
      bb = lerp(placed[prev].backbone!, placed[next].backbone!, (i - prev) / (next - prev));
      err = Math.max(placed[prev].error, placed[next].error);
    } else {
      // Continue the chain's last step outwards.
      const [a, b] = prev !== undefined ? [known[known.length - 2], prev] : [known[1], next!];
      const step = placed[b].backbone!.map((v, k) => v - placed[a].backbone![k]);
      const times = Math.abs(i - b) / Math.abs(b - a);
      bb = placed[b].backbone!.map((v, k) => v + step[k] * times);
      err = placed[b].error;
    }
    placed[i] = { backbone: bb, error: err + INTERPOLATED_PENALTY, source: 'interpolated' };
  }
}

/** The rotamer of residue `aa` at IMGT position `id` of a chain type: per position where known, else per residue type. */
export function rotamerFor(t: BaselineTemplates, chainType: ChainType, id: string, aa: string): RotamerTemplate | undefined {
  return t.rotamers.byPosition[`${chainType}:${id}:${aa}`] ?? t.rotamers.byType[RESNAMES[restypeIndex(aa)]];
}

/**
 * The template model of numbered chains: backbone from the templates, side chains from the
 * rotamers, all heavy atoms at ideal geometry within each residue (not yet relaxed).
 */
export function templateModel(t: BaselineTemplates, chains: readonly TemplateChainInput[]): TemplateModel {
  const n = chains.reduce((s, c) => s + c.residues.length, 0);
  const backbone: Atom14 = { aatype: new Int32Array(n), positions: new Float64Array(n * ATOMS_PER_RESIDUE * 3), mask: new Uint8Array(n * ATOMS_PER_RESIDUE) };
  const errors = new Float64Array(n);
  const sources: TemplateSource[] = [];
  const chainStarts: number[] = [];
  const chi: (readonly number[] | undefined)[] = [];
  let i = 0;
  for (const chain of chains) {
    chainStarts.push(i);
    const placed = placeChain(t, chain);
    chain.residues.forEach((r, k) => {
      const type = restypeIndex(r.aa);
      if (type < 0) throw new BadInputError(`chain ${chain.id}, IMGT ${imgtId(r)}: '${r.aa}' has no atoms to build (an unknown residue X?); give the residue's one-letter code`);
      backbone.aatype[i] = type;
      const p = placed[k];
      for (let s = 0; s < 4; s++) {
        if (Number.isNaN(p.backbone![s * 3])) continue;
        backbone.positions.set(p.backbone!.slice(s * 3, s * 3 + 3), (i * ATOMS_PER_RESIDUE + s) * 3);
        backbone.mask[i * ATOMS_PER_RESIDUE + s] = 1;
      }
      errors[i] = p.error;
      sources.push(p.source);
      chi.push(rotamerFor(t, chain.chainType, imgtId(r), r.aa)?.chi);
      i++;
    });
  }
  const frames = backboneFrames(backbone);
  const torsions = torsionsFromAtoms(backbone);
  for (let r = 0; r < n; r++) {
    const angles = chi[r] ?? [];
    const count = CHI_COUNT[backbone.aatype[r]];
    for (let k = 0; k < count; k++) {
      const a = ((angles[k] ?? 180) * Math.PI) / 180;
      torsions[(r * NUM_TORSIONS + TORSION.chi1 + k) * 2] = Math.sin(a);
      torsions[(r * NUM_TORSIONS + TORSION.chi1 + k) * 2 + 1] = Math.cos(a);
    }
  }
  const built = atomsFromFrames({ aatype: backbone.aatype, frames, torsions });
  return { atoms: { aatype: built.aatype, positions: built.positions, mask: built.mask }, errors, chainStarts, sources };
}
