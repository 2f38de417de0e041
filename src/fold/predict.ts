/**
 * `fold`: antibody sequences in, full-atom Fv structures with per-residue predicted error out.
 * Each record is numbered (heavy, light, or one unlabelled chain: a nanobody, a light chain or an
 * scFv), predicted by the chosen model, relaxed, and returned as a {@link Structure} numbered in
 * the requested scheme with balmkit's metadata (model, sequences, CDR ranges). A record that
 * fails is reported with why, and the others go on.
 */
import { NotAnAntibodyError, number, type NumberedDomain, type NumberedResidue } from '../antibody/number.js';
import type { Region } from '../antibody/regions.js';
import type { Scheme } from '../antibody/schemes.js';
import { SequenceError } from '../antibody/validate.js';
import type { CdrRange, ResidueId, Structure } from '../io/structure.js';
import { Balm } from '../balm/balm.js';
import { readWeights } from '../io/weights.js';
import { GraphError, serializeModel } from '../onnx/index.js';
import { packageVersion } from '../runtime/paths.js';
import { cachedSession, type ExecutionProviderName, type Session } from '../runtime/index.js';
import { atomsFromFrames, backboneFrames, NUM_TORSIONS, TORSION, torsionsFromAtoms, type Atom14 } from './atoms.js';
import { ATOMS_PER_RESIDUE } from './residue-constants.js';
import { templateModel, type TemplateChainInput, type TemplateSource } from './baseline.js';
import { DEFAULT_FOLD_MODEL, loadFoldModel, ModelError, type BalmFoldModel, type FoldModel } from './baseline-model.js';
import { balmFoldInputs } from './balmfold-input.js';
import { buildBalmFoldGraph, runBalmFold } from './balmfold-model.js';
import { relax } from './relax.js';
import { atom14ToChains } from './to-structure.js';
import { checkGeometry, type GeometryReport } from './validate.js';
import { BadInputError } from '../runtime/errors.js';

/** One antibody to fold: a heavy and/or a light chain, or one chain of unknown kind. */
export interface AntibodyInput {
  /** Record name, used in messages and output file names. */
  name: string;
  /** Heavy chain sequence (must number as heavy). */
  heavy?: string;
  /** Light chain sequence (must number as kappa or lambda). */
  light?: string;
  /** A chain whose kind is not given: a nanobody, a light chain, or an scFv (both domains). */
  sequence?: string;
}

/** Options of {@link fold}. */
export interface FoldOptions {
  /**
   * Model folder or shipped model name (default `balmfold-small`, the best shipped model; `fold-baseline`
   * is the template baseline), or a loaded model.
   */
  model?: string | FoldModel;
  /** Numbering of the output residues and CDR ranges (default `imgt`). */
  scheme?: Scheme;
  /**
   * Execution provider for models that run ONNX graphs (BALMFold: BALM and the fold graph; default
   * `BALMKIT_EP`, else `auto`). The template baseline runs none, so it ignores this (the result's
   * `executionProvider` is then `null`).
   */
  ep?: 'auto' | 'cuda' | 'cpu';
  /** Intra-op threads of those graphs (default `BALMKIT_THREADS`, else the CPUs available). */
  threads?: number;
  /** CUDA device ordinal (default 0). */
  deviceId?: number;
  /** Relax the model (default true). */
  relax?: boolean;
  /**
   * BALMFold: recycling passes (default: the model's own `recycles`, 3 for balmfold-small). Fewer
   * are faster (each pass repeats the trunk and structure module); 0 is a single pass. Models
   * trained without recycling take only 0.
   */
  recycles?: number;
  /**
   * Use the disk cache of built models (default true unless `BALMKIT_NO_CACHE=1`): a new process
   * then loads the optimized fold graph and BALM instead of building them.
   */
  cache?: boolean;
  /** Called after each record. */
  onProgress?: (done: number, total: number) => void;
}

/** One residue of a prediction. */
export interface FoldedResidue {
  chain: string;
  aa: string;
  /** Residue id in the output scheme. */
  number: number;
  insertion: string;
  /** IMGT id (`111A`). */
  imgt: string;
  /** Region under the output scheme's own CDR definition. */
  region: Region;
  /** Predicted error (Å). */
  error: number;
  /**
   * Where the template baseline took the backbone from. For BALMFold this is the template frame
   * the network started from and corrected (the model's own output has no per-residue source).
   */
  source: TemplateSource;
}

/** A predicted antibody. */
export interface FoldedAntibody {
  name: string;
  model: string;
  scheme: Scheme;
  /** Chains `H` and/or `L`, numbered in `scheme`, predicted error in the B-factors, with metadata. */
  structure: Structure;
  /** Heavy atoms, chain after chain (for geometry checks and benchmarks). */
  atoms: Atom14;
  chainStarts: number[];
  residues: FoldedResidue[];
  /** Chains numbered: id, type (H, K, L), and residues of the input not in the domain (trimmed). */
  chains: { id: string; chainType: string; length: number; trimmedBefore: number; trimmedAfter: number }[];
  /** CDR ranges (output scheme's definition) and the mean predicted error of each. */
  cdrs: (CdrRange & { meanError: number })[];
  /**
   * What the relaxation did (null when switched off): steps in all, whether the last pass
   * converged, how far atoms moved (Å), and passes (1 quick pass; 2 when it fell short of the
   * bar; 3–4 when side chains threaded through each other had chi1 turned and were relaxed again).
   */
  relax: { iterations: number; passes: number; converged: boolean; rmsdMoved: number; maxMoved: number } | null;
  /** Acceptance numbers of the output geometry. */
  geometry: { bondsIdealFraction: number; peptideBonds: number; peptideBondsIdeal: number; clashes: number; dAminoAcids: number };
  /**
   * Milliseconds spent numbering, building the model (the template baseline: template build;
   * BALMFold: template frames, BALM features and the fold graph, of which `balmMs` and `graphMs`),
   * relaxing, and in all.
   */
  timing: { numberMs: number; buildMs: number; relaxMs: number; totalMs: number; balmMs?: number; graphMs?: number };
  /** The provider the model's ONNX graphs ran on; null for the template baseline (no graph). */
  executionProvider: ExecutionProviderName | null;
}

/** Why a record was not folded. */
export interface FoldFailure {
  name: string;
  /** `H`, `L`, or null when not about one chain. */
  chain: string | null;
  /** Short machine-readable reason: `invalid-residue`, `no-domain`, `wrong-chain`, `no-chains`, … */
  reason: string;
  message: string;
}

/** The outcome of one record. */
export type FoldOutcome = { ok: true; antibody: FoldedAntibody } | { ok: false; failure: FoldFailure };

class RecordError extends Error {
  constructor(
    readonly chain: string | null,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const CDR_NAMES: Record<string, string> = { cdr1: '1', cdr2: '2', cdr3: '3' };

/**
 * Relaxation settings of predictions: a force tolerance of 1.0 (not the relaxation's 0.05 default)
 * already gives ideal bonds, no clashes and all-L Cα on every RAB test and validation entry, in a
 * quarter of the steps; a model still short of that bar goes on with the relaxation's defaults
 * (`bench/fold-accuracy.ts` reports the geometry of every output).
 */
export const PREDICTION_RELAX = { maxIterations: 150, forceTolerance: 1.0 } as const;

interface NumberedChainOut {
  id: 'H' | 'L';
  domain: NumberedDomain;
  length: number;
}

/** Numbers a record's chains into at most one heavy (H) and one light (L) domain. */
function numberRecord(input: AntibodyInput, scheme: Scheme): NumberedChainOut[] {
  const out: NumberedChainOut[] = [];
  const add = (id: 'H' | 'L', domain: NumberedDomain, length: number) => {
    if (out.some((c) => c.id === id)) throw new RecordError(id, 'two-domains', `record '${input.name}': two ${id === 'H' ? 'heavy' : 'light'} variable domains; give one heavy and one light chain`);
    out.push({ id, domain, length });
  };
  const run = (seq: string, given: 'heavy' | 'light' | null, label: string | null) => {
    // X cannot be built: rejected (and not suggested) when the sequence is validated.
    const r = number(seq, { scheme, allowUnknown: false, source: { record: input.name, ...(label ? { chain: label } : {}) }, ...(given ? { expect: given } : {}) });
    for (const d of r.domains) add(d.chainType === 'H' ? 'H' : 'L', d, r.sequence.length);
  };
  const guard = (label: string | null, f: () => void) => {
    try {
      f();
    } catch (e) {
      if (e instanceof SequenceError || e instanceof NotAnAntibodyError) throw new RecordError(label, e.reason, e.message);
      throw e;
    }
  };
  if (input.heavy !== undefined) guard('H', () => run(input.heavy!, 'heavy', 'H'));
  if (input.light !== undefined) guard('L', () => run(input.light!, 'light', 'L'));
  if (input.sequence !== undefined) guard(null, () => run(input.sequence!, null, null));
  if (out.length === 0) throw new RecordError(null, 'no-chains', `record '${input.name}': no sequence given; give a heavy and/or a light chain`);
  return out.sort((a, b) => (a.id === 'H' ? -1 : 1) - (b.id === 'H' ? -1 : 1));
}

/** The acceptance bar of a predicted structure: ≥ 99% of bonds within 0.05 Å, no clash, all L. */
function acceptable(g: GeometryReport): boolean {
  return g.bondsIdealFraction >= 0.99 && g.clashes.length === 0 && g.dAminoAcids.length === 0;
}

function movedBy(a: Atom14, b: Atom14): { rmsd: number; max: number } {
  let sq = 0,
    n = 0,
    max = 0;
  for (let k = 0; k < a.mask.length; k++) {
    if (!a.mask[k]) continue;
    const d2 = (a.positions[k * 3] - b.positions[k * 3]) ** 2 + (a.positions[k * 3 + 1] - b.positions[k * 3 + 1]) ** 2 + (a.positions[k * 3 + 2] - b.positions[k * 3 + 2]) ** 2;
    sq += d2;
    n++;
    max = Math.max(max, Math.sqrt(d2));
  }
  return { rmsd: n ? Math.sqrt(sq / n) : 0, max };
}

/** Residues with a side-chain atom (beyond CB) in a clash. */
function clashingResidues(g: GeometryReport): Set<number> {
  const out = new Set<number>();
  for (const c of g.clashes) {
    for (const a of [c.a, c.b]) if (a % ATOMS_PER_RESIDUE > 4) out.add(Math.floor(a / ATOMS_PER_RESIDUE));
  }
  return out;
}

/** The same model rebuilt from its frames and torsions with chi1 of `residues` turned by `degrees`. */
function turnChi1(atoms: Atom14, residues: Set<number>, degrees: number): Atom14 {
  const frames = backboneFrames(atoms);
  const torsions = torsionsFromAtoms(atoms);
  const t = (degrees * Math.PI) / 180;
  for (const i of residues) {
    const k = (i * NUM_TORSIONS + TORSION.chi1) * 2;
    const [sin, cos] = [torsions[k], torsions[k + 1]];
    torsions[k] = sin * Math.cos(t) + cos * Math.sin(t);
    torsions[k + 1] = cos * Math.cos(t) - sin * Math.sin(t);
  }
  const built = atomsFromFrames({ aatype: atoms.aatype, frames, torsions });
  return { aatype: built.aatype, positions: built.positions, mask: built.mask };
}

function residueId(r: NumberedResidue): ResidueId {
  return { number: r.number, insertion: r.insertion };
}

/** BALMFold's sessions: the fold graph and the BALM giving its features, and the passes to run. */
interface BalmFoldRunner {
  session: Session;
  balm: Balm;
  recycles: number;
}

/** Runners per model folder and requested provider, for the life of the process. */
const runners = new Map<string, Promise<Omit<BalmFoldRunner, 'recycles'>>>();

async function createRunner(model: BalmFoldModel, sessionOptions: RunnerSessionOptions): Promise<Omit<BalmFoldRunner, 'recycles'>> {
  const build = (): Uint8Array => {
    try {
      return serializeModel(buildBalmFoldGraph(readWeights(model.weightsFile), model.config, model.weightsFile));
    } catch (e) {
      if (e instanceof GraphError) throw new ModelError(`model '${model.name}': ${e.message}`);
      if (e instanceof Error) throw new ModelError(`model '${model.name}': ${model.weightsFile}: ${e.message}`);
      throw e;
    }
  };
  const { session } = await cachedSession(
    { label: `${model.name} fold graph`, files: [model.configFile, model.weightsFile], params: { graph: 'balmfold-pass', config: model.config }, build },
    sessionOptions,
  );
  try {
    return { session, balm: await Balm.load(model.balmFolder, sessionOptions) };
  } catch (e) {
    await session.release();
    throw e instanceof Error ? new ModelError(`model '${model.name}': BALM ${model.balmFolder}: ${e.message}`) : e;
  }
}

/** The number of recycles to run (the model's own by default), or a ModelError saying what is allowed. */
function checkRecycles(model: BalmFoldModel, recycles: number | undefined): number {
  const trained = model.config.recycles;
  const n = recycles ?? trained;
  if (!Number.isInteger(n) || n < 0) throw new ModelError(`recycles ${String(recycles)}: give a whole number ≥ 0`);
  if (n > 0 && trained === 0) throw new ModelError(`recycles ${n}: model '${model.name}' was trained without recycling (config.json recycles 0); use 0`);
  return n;
}

/** The (cached) sessions of a BALMFold model; a failed creation is not cached. */
/** The session options of a fold: those given, and no others (the rest keep their defaults). */
type RunnerSessionOptions = Pick<FoldOptions, 'ep' | 'threads' | 'deviceId' | 'cache'>;

async function balmFoldRunner(model: BalmFoldModel, options: FoldOptions): Promise<BalmFoldRunner> {
  const sessionOptions: RunnerSessionOptions = {};
  for (const k of ['ep', 'threads', 'deviceId', 'cache'] as const) if (options[k] !== undefined) Object.assign(sessionOptions, { [k]: options[k] });
  const n = checkRecycles(model, options.recycles);
  // One pass graph serves every number of recycles (runBalmFold runs the passes).
  const key = `${model.folder}|${JSON.stringify(sessionOptions)}`;
  let hit = runners.get(key);
  if (!hit) {
    hit = createRunner(model, sessionOptions);
    runners.set(key, hit);
    hit.catch(() => runners.delete(key));
  }
  return { ...(await hit), recycles: n };
}

/** The unrelaxed prediction of one record. */
interface RawPrediction {
  atoms: Atom14;
  errors: ArrayLike<number>;
  chainStarts: number[];
  sources: TemplateSource[];
  ep: ExecutionProviderName | null;
  balmMs?: number;
  graphMs?: number;
}

async function predictRaw(model: FoldModel, chains: TemplateChainInput[], runner: BalmFoldRunner | null): Promise<RawPrediction> {
  if (model.kind === 'template-baseline') {
    const tpl = templateModel(model.templates, chains);
    return { atoms: tpl.atoms, errors: tpl.errors, chainStarts: tpl.chainStarts, sources: tpl.sources, ep: null };
  }
  if (runner === null) throw new Error(`model '${model.name}': BALMFold sessions were not created`);
  const t0 = performance.now();
  const x = await balmFoldInputs(model.templates, runner.balm, chains);
  const t1 = performance.now();
  const o = await runBalmFold(runner.session, x, { recycles: runner.recycles, config: model.config });
  const t2 = performance.now();
  const atoms: Atom14 = { aatype: x.template.atoms.aatype, positions: Float64Array.from(o.positions), mask: Uint8Array.from(o.atomMask) };
  return { atoms, errors: o.error, chainStarts: x.chainStarts, sources: x.template.sources, ep: runner.session.ep, balmMs: t1 - t0, graphMs: t2 - t1 };
}

async function foldOne(input: AntibodyInput, model: FoldModel, scheme: Scheme, doRelax: boolean, getRunner: () => Promise<BalmFoldRunner | null>): Promise<FoldedAntibody> {
  const t0 = performance.now();
  const numbered = numberRecord(input, scheme);
  for (const c of numbered) {
    const bad = c.domain.residues.find((r) => r.insertion.length > 1);
    if (bad) {
      throw new RecordError(
        c.id,
        'insertion-code',
        `record '${input.name}', ${c.id} chain, residue ${bad.number}${bad.insertion}: a CDR this long needs two-letter insertion codes, which PDB and mmCIF cannot hold; try --scheme imgt or shorten the loop`,
      );
    }
    const unknown = c.domain.residues.find((r) => r.aa === 'X');
    if (unknown) {
      throw new RecordError(c.id, 'unknown-residue', `record '${input.name}', ${c.id} chain, residue ${unknown.index + 1}: 'X' (unknown) cannot be built; give the residue's one-letter code`);
    }
  }
  const t1 = performance.now();
  // The model's sessions are made (or fetched) only for a record that passed validation.
  const runner = await getRunner();
  const chains: TemplateChainInput[] = numbered.map((c) => ({ id: c.id, chainType: c.domain.chainType, residues: c.domain.residues }));
  const tpl = await predictRaw(model, chains, runner);
  const t2 = performance.now();
  let atoms = tpl.atoms;
  let relaxInfo: FoldedAntibody['relax'] = null;
  let geometry: GeometryReport | undefined;
  if (doRelax) {
    let r = relax(tpl.atoms, { chainStarts: tpl.chainStarts, ...PREDICTION_RELAX });
    let iterations = r.report.iterations;
    let passes = 1;
    if (!acceptable(r.report.after)) {
      passes = 2;
      // The quick pass left a strained spot: go on to the relaxation's own tolerance from there.
      r = relax(r.atoms, { chainStarts: tpl.chainStarts });
      iterations += r.report.iterations;
    }
    // Side chains threaded through each other (a ring through a ring) are a local minimum no
    // gradient leaves: turn chi1 of the residues still clashing to the next rotamer and relax again.
    for (const shift of [120, 240]) {
      if (acceptable(r.report.after) || r.report.after.clashes.length === 0) break;
      passes++;
      r = relax(turnChi1(r.atoms, clashingResidues(r.report.after), shift), { chainStarts: tpl.chainStarts });
      iterations += r.report.iterations;
    }
    atoms = r.atoms;
    geometry = r.report.after;
    const moved = movedBy(tpl.atoms, atoms);
    relaxInfo = { iterations, passes, converged: r.report.converged, rmsdMoved: moved.rmsd, maxMoved: moved.max };
  }
  const t3 = performance.now();
  const layout = numbered.map((c, k) => ({ id: c.id, start: tpl.chainStarts[k], numbering: c.domain.residues.map(residueId) }));
  const residues: FoldedResidue[] = [];
  numbered.forEach((c, k) => {
    c.domain.residues.forEach((r, j) => {
      const i = tpl.chainStarts[k] + j;
      residues.push({
        chain: c.id,
        aa: r.aa,
        number: r.number,
        insertion: r.insertion,
        imgt: `${r.imgt.number}${r.imgt.insertion}`,
        region: r.region,
        error: Math.round(tpl.errors[i] * 100) / 100,
        source: tpl.sources[i],
      });
    });
  });
  const cdrs: FoldedAntibody['cdrs'] = [];
  for (const c of numbered) {
    for (const region of ['cdr1', 'cdr2', 'cdr3'] as const) {
      const inCdr = residues.filter((r) => r.chain === c.id && r.region === region);
      if (inCdr.length === 0) continue;
      const first = inCdr[0];
      const last = inCdr[inCdr.length - 1];
      cdrs.push({
        name: `${c.id}${CDR_NAMES[region]}`,
        chain: c.id,
        start: { number: first.number, insertion: first.insertion },
        end: { number: last.number, insertion: last.insertion },
        meanError: Math.round((inCdr.reduce((s, r) => s + r.error, 0) / inCdr.length) * 100) / 100,
      });
    }
  }
  geometry ??= checkGeometry(atoms, tpl.chainStarts);
  const chainReport = numbered.map((c) => ({ id: c.id, chainType: c.domain.chainType, length: c.length, trimmedBefore: c.domain.start, trimmedAfter: c.length - 1 - c.domain.end }));
  const trimmed = chainReport
    .filter((c) => c.trimmedBefore + c.trimmedAfter > 0)
    .map((c) => ({ chain: c.id, first: c.trimmedBefore + 1, last: c.length - c.trimmedAfter, before: c.trimmedBefore, after: c.trimmedAfter }));
  const structure: Structure = {
    chains: atom14ToChains(
      atoms,
      layout,
      residues.map((r) => r.error),
    ),
    metadata: {
      version: packageVersion(),
      model: model.name,
      scheme,
      sequences: numbered.map((c) => ({ chain: c.id, sequence: c.domain.sequence })),
      cdrs: cdrs.map(({ name, chain, start, end }) => ({ name, chain, start, end })),
      ...(trimmed.length > 0 ? { trimmed } : {}),
      ...(relaxInfo ? { relax: { converged: relaxInfo.converged, maxMove: relaxInfo.maxMoved } } : {}),
    },
  };
  return {
    name: input.name,
    model: model.name,
    scheme,
    structure,
    atoms,
    chainStarts: tpl.chainStarts,
    residues,
    chains: chainReport,
    cdrs,
    relax: relaxInfo,
    geometry: {
      bondsIdealFraction: geometry.bondsIdealFraction,
      peptideBonds: geometry.peptideBonds,
      peptideBondsIdeal: geometry.peptideBondsIdeal,
      clashes: geometry.clashes.length,
      dAminoAcids: geometry.dAminoAcids.length,
    },
    timing: {
      numberMs: t1 - t0,
      buildMs: t2 - t1,
      relaxMs: t3 - t2,
      totalMs: performance.now() - t0,
      ...(tpl.balmMs !== undefined ? { balmMs: tpl.balmMs, graphMs: tpl.graphMs } : {}),
    },
    executionProvider: tpl.ep,
  };
}

/**
 * Predicts the structure of each antibody. Records that cannot be folded (letters that are not
 * amino acids, a chain that is not an antibody variable domain, a heavy chain given as light…)
 * come back as failures naming the record, the chain and the fix; the rest are folded.
 *
 * With a BALMFold model (`kind: 'balmfold'`) each record goes numbering → `balmFoldInputs` (template
 * frames, frozen BALM features) → the fold graph (atoms and per-residue error) → the same
 * relaxation and outputs as the template baseline. Its sessions (the graph, BALM) are created on
 * first use and kept per model folder and `ep` for the life of the process.
 *
 * @throws {@link ModelError} when the model folder is missing or malformed (nothing can be folded).
 *
 * @example
 * const [r] = await fold([{ name: 'ab1', heavy: 'EVQLVES…', light: 'DIQMTQS…' }], { scheme: 'chothia' });
 * if (r.ok) await writePdb('ab1.pdb', r.antibody.structure);
 */
export async function fold(records: AntibodyInput | readonly AntibodyInput[], options: FoldOptions = {}): Promise<FoldOutcome[]> {
  const list = Array.isArray(records) ? (records as readonly AntibodyInput[]) : [records as AntibodyInput];
  const model = typeof options.model === 'object' ? options.model : loadFoldModel(options.model ?? DEFAULT_FOLD_MODEL);
  if (options.ep !== undefined && !['auto', 'cuda', 'cpu'].includes(options.ep)) throw new ModelError(`ep '${String(options.ep)}': use auto, cuda or cpu`);
  const scheme = options.scheme ?? 'imgt';
  // A BALMFold model's sessions are made (or fetched) when the first record has passed
  // validation: a batch of bad records costs no model build; a broken model still throws.
  if (options.recycles !== undefined && model.kind === 'balmfold') checkRecycles(model, options.recycles);
  let runner: Promise<BalmFoldRunner> | undefined;
  const getRunner = async () => (model.kind === 'balmfold' ? await (runner ??= balmFoldRunner(model, options)) : null);
  const out: FoldOutcome[] = [];
  for (const [k, input] of list.entries()) {
    try {
      out.push({ ok: true, antibody: await foldOne(input, model, scheme, options.relax ?? true, getRunner) });
    } catch (e) {
      if (e instanceof RecordError) out.push({ ok: false, failure: { name: input.name, chain: e.chain, reason: e.reason, message: e.message } });
      else if (e instanceof BadInputError) out.push({ ok: false, failure: { name: input.name, chain: null, reason: 'cannot-build', message: `record '${input.name}': ${e.message}` } });
      else throw e;
    }
    options.onProgress?.(k + 1, list.length);
  }
  return out;
}
