/**
 * Builds balmkit's template baseline structure predictor (`templates.json`) from the training
 * entries of `split.json` only.
 *
 *   node --import tsx models/fold-baseline/make-baseline.ts [--data ../shared/data] [--out models/fold-baseline/templates.json]
 *
 * 1. Common Fv frame: every training Fv is superposed (Kabsch, backbone N/CA/C of the IMGT
 *    framework positions of both chains) onto a consensus, the consensus is recomputed as the mean
 *    of the superposed atoms, and this repeats until no Cα moves 0.01 Å (the new mean is put back onto the
 *    old one first, so the frame cannot turn as a whole). Heavy-only and light-only
 *    entries are superposed on their one chain. Framework samples more than 4 Å (Cα) from the
 *    mean are dropped as misnumbered or disordered before the final mean.
 * 2. Framework: per chain type (H, K, L) and IMGT position, the mean N, CA, C, O.
 * 3. CDRs: per chain type, CDR and length (IMGT definition), the mean N, CA, C, O of each IMGT slot
 *    over the training loops of exactly that length that are fully observed. Where loops of one
 *    length point different ways their mean collapses (a consecutive Cα–Cα distance under
 *    `--collapsed-step`, default 2 Å; real ones are 3.8 Å) and no relaxation makes a loop of it:
 *    that length takes the medoid instead, the training loop closest to all the others.
 * 4. Predicted error of a slot: the root-mean-square distance of its backbone atoms from the mean,
 *    shrunk towards the pooled value of its group (5 pseudo-samples) so rare slots are not trusted.
 * 5. Side chains: the most common rotamer (chi angles binned at 120°, 60° for π-periodic chis) per
 *    residue type, and per (chain type, IMGT position, residue type) where ≥ 20 samples exist; the
 *    chi values are the circular means within that rotamer.
 */
import fs from 'node:fs';
import path from 'node:path';

import { CHI_PI_PERIODIC, RESNAMES, restypeIndex } from '../../src/fold/residue-constants.js';
import { CHI_COUNT } from '../../src/fold/rigid-groups.js';
import { kabsch, transformPoints } from '../../src/fold/superpose.js';
import { loadRosettaEntries, type Entry, type EntryChain } from './rosetta-entries.js';
import { BASELINE_FORMAT, type BaselineTemplates, type SlotTemplate } from '../../src/fold/baseline-model.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};
const data = path.resolve(opt('--data', path.join('..', 'shared', 'data')));
const here = path.join('models', 'fold-baseline');
const outFile = path.resolve(opt('--out', path.join(here, 'templates.json')));
const split = JSON.parse(fs.readFileSync(path.join(here, 'split.json'), 'utf8')) as { train: string[]; counts: Record<string, number> };

const ROTAMER_MIN_SAMPLES = 20;
const FRAMEWORK_OUTLIER = 4.0;
const CONSENSUS_ITERATIONS = 20;
const CORE_FRACTION = 0.3;
/** Pseudo-samples of the pooled spread added to every slot's own (see `shrink`). */
const SPREAD_PRIOR_SAMPLES = 5;
/** A mean loop with a consecutive Cα–Cα distance below this (Å) is replaced by the medoid loop. */
const COLLAPSED_STEP = Number(opt('--collapsed-step', '2.0'));

/** One residue sample of a training chain. */
interface Sample {
  /** `H:23` for framework, `H:cdr3:14:111A` for CDR slots (chain type, CDR, length, IMGT id). */
  key: string;
  framework: boolean;
  aa: string;
  /** N, CA, C, O (12 numbers; O may be NaN). */
  bb: Float64Array;
  chi: (number | null)[];
}

const trainIds = new Set(split.train);
const entries = (await loadRosettaEntries(data)).filter((e) => trainIds.has(e.id));
process.stderr.write(`training entries: ${entries.length}\n`);

function cdrLengths(c: EntryChain): Record<string, number> {
  const out: Record<string, number> = { cdr1: 0, cdr2: 0, cdr3: 0 };
  for (const r of c.imgtRegion) if (r in out) out[r]!++;
  return out;
}

/** Whether every residue of a CDR is observed with a closed chain around it. */
function cdrComplete(c: EntryChain, cdr: string): boolean {
  const idx = c.imgtRegion.flatMap((r, i) => (r === cdr ? [i] : []));
  if (idx.length === 0) return false;
  for (let k = idx[0]!; k <= idx[idx.length - 1]! + 1 && k < c.sequence.length; k++) if (c.breakBefore[k]) return false;
  return true;
}

function samplesOf(e: Entry): Sample[][] {
  return e.chains.map((c) => {
    const lengths = cdrLengths(c);
    const out: Sample[] = [];
    c.imgt.forEach((id, i) => {
      if (id === '') return;
      const region = c.imgtRegion[i]!;
      const framework = region.startsWith('fwr');
      if (!framework && !cdrComplete(c, region)) return;
      const bb = Float64Array.from(c.backbone.slice(i * 12, i * 12 + 12), (x) => (x === null ? NaN : x));
      if (bb.slice(0, 9).some(Number.isNaN)) return;
      const key = framework ? `${c.chainType}:${id}` : `${c.chainType}:${region}:${lengths[region]}:${id}`;
      out.push({ key, framework, aa: c.sequence[i]!, bb, chi: c.chi.slice(i * 4, i * 4 + 4) });
    });
    return out;
  });
}

const perEntry = entries.map((e) => samplesOf(e).flat());

/** Mean N/CA/C/O of every key over the given (already superposed) samples. */
function means(all: Sample[][]): Map<string, { sum: Float64Array; count: Int32Array }> {
  const m = new Map<string, { sum: Float64Array; count: Int32Array }>();
  for (const samples of all) {
    for (const s of samples) {
      let acc = m.get(s.key);
      if (!acc) m.set(s.key, (acc = { sum: new Float64Array(12), count: new Int32Array(4) }));
      for (let a = 0; a < 4; a++) {
        if (Number.isNaN(s.bb[a * 3]!)) continue;
        for (let k = 0; k < 3; k++) acc.sum[a * 3 + k]! += s.bb[a * 3 + k]!;
        acc.count[a]!++;
      }
    }
  }
  return m;
}

function meanOf(acc: { sum: Float64Array; count: Int32Array }): Float64Array {
  return Float64Array.from(acc.sum, (v, j) => v / Math.max(1, acc.count[Math.floor(j / 3)]!));
}

// --- 1. consensus Fv frame -------------------------------------------------------------------
// Start from the first complete heavy + kappa entry as it is.
let consensus = new Map<string, Float64Array>();
const seed = perEntry.find((s) => s.some((x) => x.key.startsWith('H:')) && s.some((x) => x.key.startsWith('K:')))!;
for (const s of seed) if (s.framework) consensus.set(s.key, s.bb);
let superposed: Sample[][] = perEntry;
for (let it = 0; it < CONSENSUS_ITERATIONS; it++) {
  let moved = 0;
  superposed = perEntry.map((samples) => {
    const fw = samples.filter((s) => s.framework && consensus.has(s.key));
    if (fw.length < 20) return [];
    const mobile: number[] = [];
    const target: number[] = [];
    for (const s of fw) {
      const c = consensus.get(s.key)!;
      for (let a = 0; a < 3; a++) {
        for (let k = 0; k < 3; k++) {
          mobile.push(s.bb[a * 3 + k]!);
          target.push(c[a * 3 + k]!);
        }
      }
    }
    let fit = kabsch(mobile, target);
    // Refit without residues that sit far off after the first fit (misnumbered, disordered).
    const moved = transformPoints(fit, mobile);
    const keep: number[] = [];
    for (let r = 0; r < fw.length; r++) {
      const o = (r * 3 + 1) * 3;
      if (Math.hypot(moved[o]! - target[o]!, moved[o + 1]! - target[o + 1]!, moved[o + 2]! - target[o + 2]!) <= 3.0) keep.push(r);
    }
    if (keep.length >= 20 && keep.length < fw.length) {
      const pick = (a: number[]) => keep.flatMap((r) => a.slice(r * 9, r * 9 + 9));
      fit = kabsch(pick(mobile), pick(target));
    }
    return samples.map((s) => ({ ...s, bb: transformPoints(fit, s.bb) }));
  });
  const m = means(superposed);
  const next = new Map<string, Float64Array>();
  // Only well-populated framework positions define the frame (rare ones would let it wobble).
  for (const [key, acc] of m) if (!key.includes(':cdr') && acc.count[1]! >= CORE_FRACTION * perEntry.length * (key.startsWith('L:') ? 0.2 : 1)) next.set(key, meanOf(acc));
  // The mean of superposed copies may turn as a whole; put it back onto the previous consensus
  // so the frame stays put and the move measured is the change of shape.
  const common = [...next.keys()].filter((k) => consensus.has(k));
  const fit = kabsch(
    common.flatMap((k) => Array.from(next.get(k)!.slice(0, 9))),
    common.flatMap((k) => Array.from(consensus.get(k)!.slice(0, 9))),
  );
  for (const [key, v] of next) {
    const w = transformPoints(fit, v);
    next.set(key, w);
    const old = consensus.get(key);
    if (old) moved = Math.max(moved, Math.hypot(w[3]! - old[3]!, w[4]! - old[4]!, w[5]! - old[5]!));
  }
  consensus = next;
  process.stderr.write(`  consensus iteration ${it + 1}: ${consensus.size} framework positions, largest Cα move ${moved.toFixed(3)} Å\n`);
  if (moved < 0.01) break;
}

// --- 2–4. means and spreads ------------------------------------------------------------------
const groups = new Map<string, Sample[]>();
for (const samples of superposed) for (const s of samples) (groups.get(s.key) ?? groups.set(s.key, []).get(s.key)!).push(s);

function slotTemplate(samples: Sample[]): SlotTemplate {
  const acc = means([samples]).values().next().value!;
  const mean = meanOf(acc);
  let sq = 0;
  let n = 0;
  for (const s of samples) {
    for (let a = 0; a < 4; a++) {
      if (Number.isNaN(s.bb[a * 3]!)) continue;
      sq += (s.bb[a * 3]! - mean[a * 3]!) ** 2 + (s.bb[a * 3 + 1]! - mean[a * 3 + 1]!) ** 2 + (s.bb[a * 3 + 2]! - mean[a * 3 + 2]!) ** 2;
      n++;
    }
  }
  return { backbone: Array.from(mean, (v) => Math.round(v * 1000) / 1000), spread: Math.round(Math.sqrt(sq / Math.max(1, n)) * 100) / 100, samples: samples.length };
}

const framework: BaselineTemplates['framework'] = {};
const cdrs: BaselineTemplates['cdrs'] = {};
for (const [key, samples] of groups) {
  const parts = key.split(':');
  if (parts.length === 2) {
    const [chainType, id] = parts as [string, string];
    if (samples.length < 5) continue;
    // Drop misplaced samples (numbering slips, disordered termini) before the final mean.
    const first = slotTemplate(samples);
    const ca = first.backbone.slice(3, 6);
    const kept = samples.filter((s) => Math.hypot(s.bb[3]! - ca[0]!, s.bb[4]! - ca[1]!, s.bb[5]! - ca[2]!) <= FRAMEWORK_OUTLIER);
    (framework[chainType] ??= {})[id] = slotTemplate(kept.length >= 5 ? kept : samples);
  } else {
    const [chainType, cdr, length, id] = parts as [string, string, string, string];
    const byLength = (((cdrs[chainType] ??= {})[cdr] ??= {})[length] ??= { ids: [], slots: [] });
    byLength.ids.push(id);
    byLength.slots.push(slotTemplate(samples));
  }
}
// Slots of one loop length in sequence order: IMGT order of the ids. Insertions on the right-hand
// middle position of a CDR (33, 61, 112) run backwards: 32, 32A, 33A, 33 and 111, 111A, 112A, 112.
const REVERSED = new Set([33, 61, 112]);
const imgtOrder = (id: string): number => {
  const m = /^(\d+)([A-Z]*)$/.exec(id)!;
  const num = Number(m[1]);
  const ins = m[2] ? m[2].charCodeAt(0) - 64 + (m[2].length - 1) * 26 : 0;
  return num * 100 + (REVERSED.has(num) ? -ins : ins);
};
// Every training loop of each (chain type, CDR, length), slot by slot, for the medoids.
const loops = new Map<string, Map<string, Float64Array>[]>();
for (const samples of superposed) {
  const byGroup = new Map<string, Map<string, Float64Array>>();
  for (const s of samples) {
    if (s.framework) continue;
    const parts = s.key.split(':');
    const group = parts.slice(0, 3).join(':');
    (byGroup.get(group) ?? byGroup.set(group, new Map()).get(group)!).set(parts[3]!, s.bb);
  }
  for (const [group, loop] of byGroup) (loops.get(group) ?? loops.set(group, []).get(group)!).push(loop);
}

/** Smallest Cα–Cα distance between consecutive slots: a mean of loops that point different ways collapses. */
function minCaStep(slots: SlotTemplate[]): number {
  let min = Infinity;
  for (let k = 1; k < slots.length; k++) {
    const a = slots[k - 1]!.backbone;
    const b = slots[k]!.backbone;
    min = Math.min(min, Math.hypot(a[3]! - b[3]!, a[4]! - b[4]!, a[5]! - b[5]!));
  }
  return min;
}

/** The training loop with the smallest summed squared backbone deviation from the others, as slots. */
function medoid(ids: string[], group: Map<string, Float64Array>[]): SlotTemplate[] {
  const complete = group.filter((l) => ids.every((id) => l.has(id)));
  const dev = (a: Map<string, Float64Array>, b: Map<string, Float64Array>) => {
    let sq = 0;
    for (const id of ids) {
      const x = a.get(id)!;
      const y = b.get(id)!;
      for (let j = 0; j < 9; j++) sq += (x[j]! - y[j]!) ** 2;
    }
    return sq;
  };
  let best = complete[0]!;
  let bestScore = Infinity;
  for (const a of complete) {
    let score = 0;
    for (const b of complete) score += dev(a, b);
    if (score < bestScore) {
      bestScore = score;
      best = a;
    }
  }
  return ids.map((id) => {
    const m = best.get(id)!;
    let sq = 0;
    let n = 0;
    for (const l of complete) {
      const x = l.get(id)!;
      for (let a = 0; a < 4; a++) {
        if (Number.isNaN(x[a * 3]!) || Number.isNaN(m[a * 3]!)) continue;
        sq += (x[a * 3]! - m[a * 3]!) ** 2 + (x[a * 3 + 1]! - m[a * 3 + 1]!) ** 2 + (x[a * 3 + 2]! - m[a * 3 + 2]!) ** 2;
        n++;
      }
    }
    // An absent O takes the mean's place-holder; the builder only needs N, CA, C to be real.
    const bb = Array.from(m, (v) => (Number.isNaN(v) ? 0 : Math.round(v * 1000) / 1000));
    return { backbone: bb, spread: Math.round(Math.sqrt(sq / Math.max(1, n)) * 100) / 100, samples: complete.length };
  });
}

let medoids = 0;
for (const [chainType, byCdr] of Object.entries(cdrs)) {
  for (const [cdr, byLength] of Object.entries(byCdr)) {
    for (const [len, t] of Object.entries(byLength)) {
      // A few loops numbered off the usual layout of their length add stray ids: keep the layout's.
      const most = Math.max(...t.slots.map((x) => x.samples));
      const order = t.ids
        .map((id, k) => [imgtOrder(id), k] as const)
        .filter(([, k]) => t.slots[k]!.samples >= most / 2)
        .sort((a, b) => a[0] - b[0]);
      if (order.length !== Number(len)) {
        delete byLength[len];
        process.stderr.write(`  ${chainType} ${cdr} length ${len}: no consistent IMGT layout, left out\n`);
        continue;
      }
      const ids = order.map(([, k]) => t.ids[k]!);
      let slots = order.map(([, k]) => t.slots[k]!);
      let template: 'mean' | 'medoid' = 'mean';
      if (minCaStep(slots) < COLLAPSED_STEP) {
        slots = medoid(ids, loops.get(`${chainType}:${cdr}:${len}`)!);
        template = 'medoid';
        medoids++;
      }
      byLength[len] = { ids, slots, template };
    }
  }
}
process.stderr.write(`  ${medoids} CDR lengths use the medoid loop (mean collapsed: a Cα–Cα step < ${COLLAPSED_STEP} Å)\n`);

// A spread from a handful of samples says little (from one loop it is 0): shrink each slot's
// variance towards the pooled variance of its group (all framework positions of a chain type, or
// all lengths of one CDR of a chain type) as if the group added SPREAD_PRIOR_SAMPLES samples.
function shrink(slots: SlotTemplate[]): void {
  let num = 0;
  let den = 0;
  for (const s of slots) {
    num += s.samples * s.spread ** 2;
    den += s.samples;
  }
  const pooled = num / Math.max(1, den);
  for (const s of slots) {
    const v = (s.samples * s.spread ** 2 + SPREAD_PRIOR_SAMPLES * pooled) / (s.samples + SPREAD_PRIOR_SAMPLES);
    s.spread = Math.round(Math.sqrt(v) * 100) / 100;
  }
}
for (const fw of Object.values(framework)) shrink(Object.values(fw));
for (const byCdr of Object.values(cdrs)) for (const byLength of Object.values(byCdr)) shrink(Object.values(byLength).flatMap((g) => g.slots));

// --- 5. rotamers -----------------------------------------------------------------------------
function circularMean(deg: number[], period: number): number {
  let s = 0,
    c = 0;
  for (const d of deg) {
    s += Math.sin((d * 2 * Math.PI) / period);
    c += Math.cos((d * 2 * Math.PI) / period);
  }
  const m = (Math.atan2(s, c) * period) / (2 * Math.PI);
  return Math.round(m * 10) / 10;
}

/** The most common rotamer among chi samples of one residue type. */
function commonRotamer(resname: string, samples: (number | null)[][]): { chi: number[]; fraction: number } | null {
  const periodic = new Set(CHI_PI_PERIODIC[resname] ?? []);
  const complete = samples.filter((s) => s.every((x) => x !== null));
  if (complete.length === 0) return null;
  const binOf = (x: number, k: number) => {
    const period = periodic.has(k) ? 180 : 360;
    const w = ((x % period) + period) % period;
    return Math.floor(w / (period / 3));
  };
  const counts = new Map<string, (number | null)[][]>();
  for (const s of complete) {
    const key = s.map((x, k) => binOf(x!, k)).join(',');
    (counts.get(key) ?? counts.set(key, []).get(key)!).push(s);
  }
  const [, best] = [...counts].sort((a, b) => b[1].length - a[1].length)[0]!;
  const chi = best[0]!.map((_, k) =>
    circularMean(
      best.map((s) => s[k]!),
      periodic.has(k) ? 180 : 360,
    ),
  );
  return { chi, fraction: Math.round((best.length / complete.length) * 1000) / 1000 };
}

const chiByType = new Map<string, (number | null)[][]>();
const chiByPosition = new Map<string, (number | null)[][]>();
for (const e of entries) {
  for (const c of e.chains) {
    c.imgt.forEach((id, i) => {
      if (id === '') return;
      const aa = c.sequence[i]!;
      const resname = RESNAMES[restypeIndex(aa)]!;
      const nChi = c.chi.slice(i * 4, i * 4 + 4);
      const defined = nChi.slice(0, CHI_COUNT[restypeIndex(aa)]!);
      if (defined.length === 0 || defined.some((x) => x === null)) return;
      (chiByType.get(resname) ?? chiByType.set(resname, []).get(resname)!).push(defined);
      const key = `${c.chainType}:${id}:${aa}`;
      (chiByPosition.get(key) ?? chiByPosition.set(key, []).get(key)!).push(defined);
    });
  }
}
const rotamers: BaselineTemplates['rotamers'] = { byType: {}, byPosition: {} };
for (const [resname, samples] of [...chiByType].sort()) {
  const r = commonRotamer(resname, samples);
  if (r) rotamers.byType[resname] = { chi: r.chi, fraction: r.fraction, samples: samples.length };
}
for (const [key, samples] of [...chiByPosition].sort()) {
  if (samples.length < ROTAMER_MIN_SAMPLES) continue;
  const resname = RESNAMES[restypeIndex(key.split(':')[2]!)]!;
  const r = commonRotamer(resname, samples);
  const global = rotamers.byType[resname];
  // Only positions whose rotamer differs from the residue type's are worth storing.
  if (r && global && r.chi.some((x, k) => Math.abs(((x - global.chi[k]! + 540) % 360) - 180) > 30)) {
    rotamers.byPosition[key] = { chi: r.chi, fraction: r.fraction, samples: samples.length };
  }
}

const templates: BaselineTemplates = {
  format: BASELINE_FORMAT,
  description: 'Mean backbone of every IMGT position in a common Fv frame (framework per chain type; CDRs per chain type, CDR and length), predicted error = spread in training, most common rotamers.',
  training: {
    entries: entries.length,
    split: 'models/fold-baseline/split.json (train)',
    consensusIterations: CONSENSUS_ITERATIONS,
    frameworkOutlierAngstrom: FRAMEWORK_OUTLIER,
    collapsedStepAngstrom: COLLAPSED_STEP,
    spreadPriorSamples: SPREAD_PRIOR_SAMPLES,
    rotamerMinSamples: ROTAMER_MIN_SAMPLES,
  },
  framework,
  cdrs,
  rotamers,
};
const tmp = `${outFile}.${process.pid}.tmp`;
fs.writeFileSync(tmp, JSON.stringify(templates));
fs.renameSync(tmp, outFile);
const nCdr = Object.values(cdrs).reduce((n, c) => n + Object.values(c).reduce((m, l) => m + Object.keys(l).length, 0), 0);
process.stderr.write(
  `wrote ${outFile} (${(fs.statSync(outFile).size / 1024).toFixed(0)} KiB): ${Object.values(framework).reduce((n, f) => n + Object.keys(f).length, 0)} framework positions, ${nCdr} CDR lengths, ${Object.keys(rotamers.byPosition).length} position rotamers\n`,
);
