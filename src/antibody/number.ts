/**
 * Numbering an antibody chain: find its variable domain(s), align each to the shipped profiles,
 * number it (IMGT, then Chothia and Kabat from IMGT), assign regions under every CDR definition,
 * and find the closest germline genes. A chain without an antibody variable domain is rejected
 * with its best score, never guessed.
 */
import { AMINO_ACIDS, encodeResidues } from './alphabet.js';
import { DEFAULT_BAND, alignProfile, type Alignment } from './align.js';
import { closestGermline, type GermlineMatch } from './germline.js';
import { imgtNumbering, type Position } from './imgt.js';
import { buildKmerIndex, findDomainCandidates, type KmerIndex } from './prefilter.js';
import { loadProfiles, type ChainType, type ProfileSet } from './profile.js';
import { CDR_DEFINITIONS, regionOf, type CdrDefinition, type Region } from './regions.js';
import { convertNumbering, type ChainClass, type Scheme } from './schemes.js';
import { cleanSequence, describeSource, SequenceError, type SequenceSource } from './validate.js';

/** Options of {@link number}. */
export interface NumberOptions {
  /** Scheme of each residue's `number`/`insertion`/`region` (default `imgt`). All three are always in `imgt`/`chothia`/`kabat`. */
  scheme?: Scheme;
  /** Most variable domains to look for in one chain (default 2: an scFv has two). */
  maxDomains?: number;
  /** Where the sequence came from, for error messages. */
  source?: SequenceSource;
  /** The chain class the caller expects (from `--heavy`/`--light` or a `_H`/`_L` name); a mismatch is an error. */
  expect?: ChainClass;
  /** Profiles to use (default: the shipped ones). */
  profiles?: ProfileSet;
  /** Accept X for an unknown residue (default true; structure prediction passes false). */
  allowUnknown?: boolean;
}

/** One residue of a numbered domain. */
export interface NumberedResidue {
  /** One-letter code. */
  aa: string;
  /** 0-based index in the input sequence. */
  index: number;
  /** Number and insertion code ('' for none) in the requested scheme. */
  number: number;
  insertion: string;
  /** Region under the requested scheme's own CDR definition. */
  region: Region;
  imgt: Position;
  chothia: Position;
  kabat: Position;
  /** Region under each CDR definition. */
  regions: Record<CdrDefinition, Region>;
}

/** One numbered variable domain. */
export interface NumberedDomain {
  /** H heavy, K kappa, L lambda. */
  chainType: ChainType;
  /** Species of the closest germline V gene. */
  species: string;
  /** Profile the domain was aligned to, e.g. `human_H`. */
  profile: string;
  scheme: Scheme;
  /** Alignment score, bits. */
  score: number;
  /** First and last residue of the domain, 0-based inclusive indices in the input sequence. */
  start: number;
  end: number;
  /** The domain's residues. */
  sequence: string;
  vGene: GermlineMatch | null;
  jGene: GermlineMatch | null;
  residues: NumberedResidue[];
}

/** The numbering of one chain: its domains in sequence order, and what lies outside them. */
export interface NumberingResult {
  /** The validated input sequence. */
  sequence: string;
  domains: NumberedDomain[];
  /** Residues before the first domain, after the last, and between domains (linkers), as trimmed. */
  trimmed: { before: number; after: number; between: number };
}

/** A chain without an antibody variable domain (a TCR domain, another protein, a fragment). */
export class NotAnAntibodyError extends Error {
  readonly source: SequenceSource;
  /** Best alignment score (bits) and the profile that gave it, when any alignment was possible. */
  readonly bestScore: number | null;
  readonly bestProfile: string | null;
  /** `no-domain` (nothing like a V domain), `low-score`, `tcr-like` (V-like but far from every antibody germline), `fragment`. */
  readonly reason: string;
  constructor(source: SequenceSource, reason: string, detail: string, bestScore: number | null, bestProfile: string | null) {
    super(`${describeSource(source)}: not an antibody variable domain (${detail})`);
    this.name = 'NotAnAntibodyError';
    this.source = source;
    this.reason = reason;
    this.bestScore = bestScore;
    this.bestProfile = bestProfile;
  }
}

/** Domains scoring below this many bits are not antibody variable domains. */
export const MIN_DOMAIN_SCORE = 60;
/** A domain whose closest antibody V germline is under this identity is rejected (TCR V domains sit near 0.3). */
export const MIN_V_IDENTITY = 0.45;
/** A domain must reach from IMGT ≤ 30 to ≥ 90 (Cys 23 … into FR3) to be numbered; shorter stretches are fragments. */
const MUST_COVER: readonly [number, number] = [30, 90];
/**
 * The window aligned around a predicted domain start: a little before it, and far enough after
 * for a long CDR3. An alignment that reaches a window edge is redone on a wider window.
 */
const WINDOW_BEFORE = 20;
const WINDOW_LENGTH = 175;
const WIDEN = 120;

interface Context {
  set: ProfileSet;
  index: KmerIndex;
}

let defaultContext: Context | undefined;
const contexts = new WeakMap<ProfileSet, Context>();

function contextFor(profiles: ProfileSet | undefined): Context {
  if (profiles === undefined) {
    if (defaultContext === undefined) {
      const set = loadProfiles();
      defaultContext = { set, index: buildKmerIndex(set) };
    }
    return defaultContext;
  }
  let c = contexts.get(profiles);
  if (c === undefined) {
    c = { set: profiles, index: buildKmerIndex(profiles) };
    contexts.set(profiles, c);
  }
  return c;
}

const chainClassOf = (t: ChainType): ChainClass => (t === 'H' ? 'heavy' : 'light');

function alignedRange(a: Alignment): [number, number] {
  let lo = 999;
  let hi = 0;
  for (let i = a.start; i <= a.end; i++) {
    const s = a.states[i];
    if (s > 0) {
      if (s < lo) lo = s;
      if (s > hi) hi = s;
    }
  }
  return [lo, hi];
}

/**
 * Numbers an antibody chain: heavy, kappa or lambda, full-length or variable domain only, with
 * leaders or tags, or an scFv (both domains, in sequence order).
 *
 * @param sequence - one-letter residues (whitespace ignored; X for unknown residues).
 * @throws {@link SequenceError} for letters that are not amino acids, empty or over-long input,
 *   or a chain that is not the class `expect` says.
 * @throws {@link NotAnAntibodyError} when no antibody variable domain is found (with the best score).
 *
 * @example
 * const r = number('EVQLVESGGGLVQPGGSLRLSCAAS…', { scheme: 'chothia' });
 * r.domains[0].chainType;                                   // 'H'
 * r.domains[0].residues.filter((x) => x.region === 'cdr3'); // Chothia CDR-H3
 */
export function number(sequence: string, options: NumberOptions = {}): NumberingResult {
  const source = options.source ?? {};
  const seq = cleanSequence(sequence, source, options.allowUnknown === false ? { allowUnknown: false } : {});
  const scheme = options.scheme ?? 'imgt';
  const { set, index } = contextFor(options.profiles);
  const codes = encodeResidues(seq);
  const candidates = findDomainCandidates(codes, index, set, options.maxDomains ?? 2);

  const domains: NumberedDomain[] = [];
  const used = new Uint8Array(seq.length);
  let best: Alignment | null = null;
  let rejection: { reason: string; detail: string } | null = null;
  const consider = (a: Alignment): void => {
    if (best === null || a.score > best.score) best = a;
  };

  for (const cand of candidates) {
    // The window: from a little before the predicted start to past a long CDR3, minus residues
    // another domain already took.
    let from = Math.max(0, cand.start - WINDOW_BEFORE);
    let to = Math.min(seq.length, Math.max(cand.start, 0) + WINDOW_LENGTH);
    for (const d of domains) {
      if (d.end < cand.start + 20) from = Math.max(from, d.end + 1);
      else if (d.start > cand.start) to = Math.min(to, d.start);
    }
    if (to - from < 60) continue;
    const profiles = [cand.profile];
    // A close rival chain type (kappa vs lambda share many 3-mers) is aligned too; the better score wins.
    for (const r of cand.rivals) if (r.votes >= 0.75 * cand.votes) profiles.push(r.profile);
    let a: Alignment | null = null;
    for (const pi of profiles) {
      let x = alignProfile(codes, set.profiles[pi], from, to, { start: cand.start, ...DEFAULT_BAND });
      // Cut off by the window (an ultralong CDR3, a wrong start estimate)? Redo it wider, unbanded.
      const lo = domains.reduce((m, d) => (d.end < x.start ? Math.max(m, d.end + 1) : m), 0);
      const hi = domains.reduce((m, d) => (d.start > x.end ? Math.min(m, d.start) : m), seq.length);
      if (x.start >= 0 && ((x.end >= to - 3 && to < hi) || (x.start <= from + 2 && from > lo))) {
        from = Math.max(lo, from - WIDEN);
        to = Math.min(hi, to + WIDEN);
        x = alignProfile(codes, set.profiles[pi], from, to);
      }
      consider(x);
      if (a === null || x.score > a.score) a = x;
    }
    if (a === null || a.start < 0) continue;
    extendStart(a, used);
    extendEnd(a, used, codes);
    let overlap = false;
    for (let i = a.start; i <= a.end; i++) if (used[i]) overlap = true;
    if (overlap) continue;
    const imgt = imgtNumbering(a.states, a.start, a.end);
    const v = closestGermline(codesByImgt(imgt, codes, a.start), set.germlines, a.profile.chain, 'V');
    const verdict = judge(a, v);
    if (verdict !== null) {
      rejection ??= verdict;
      continue;
    }
    domains.push(buildDomain(seq, codes, a, imgt, v, set, scheme));
    used.fill(1, a.start, a.end + 1);
  }

  if (domains.length === 0) {
    // Nothing passed: align the whole chain (capped) to one profile per chain type for the best score.
    if ((best as Alignment | null) === null) {
      const to = Math.min(seq.length, 600);
      for (const chain of ['H', 'K', 'L'] as const) {
        const pi = set.profiles.findIndex((p) => p.chain === chain);
        if (pi >= 0) consider(alignProfile(codes, set.profiles[pi], 0, to));
      }
    }
    const b = best as Alignment | null;
    const score = b !== null && Number.isFinite(b.score) && b.score > -1e29 ? Math.round(b.score * 10) / 10 : null;
    const r = rejection ?? { reason: 'no-domain', detail: 'no stretch resembles an antibody V domain' };
    throw new NotAnAntibodyError(
      source,
      r.reason,
      `${r.detail}; best score ${score ?? 'n/a'} bits${b !== null ? ` against ${b.profile.name}` : ''}, ${MIN_DOMAIN_SCORE} needed`,
      score,
      b?.profile.name ?? null,
    );
  }

  domains.sort((x, y) => x.start - y.start);
  if (options.expect !== undefined) {
    const got = chainClassOf(domains[0].chainType);
    if (domains.length === 1 && got !== options.expect) {
      const kind = domains[0].chainType === 'H' ? 'a heavy chain' : domains[0].chainType === 'K' ? 'a kappa light chain' : 'a lambda light chain';
      throw new SequenceError(source, 'wrong-chain', [
        { message: `this is ${kind} (score ${domains[0].score.toFixed(1)} bits), given as ${options.expect}: swap --heavy/--light or fix the record name` },
      ]);
    }
  }
  let between = 0;
  for (let d = 1; d < domains.length; d++) between += domains[d].start - domains[d - 1].end - 1;
  return {
    sequence: seq,
    domains,
    trimmed: { before: domains[0].start, after: seq.length - 1 - domains[domains.length - 1].end, between },
  };
}

/**
 * {@link number}, with the two errors of a bad record (a sequence that is not valid, a chain that is
 * not an antibody domain) returned instead of thrown, for callers that go on past bad records.
 */
export function numberOrError(sequence: string, options: NumberOptions = {}): NumberingResult | SequenceError | NotAnAntibodyError {
  try {
    return number(sequence, options);
  } catch (e) {
    if (e instanceof SequenceError || e instanceof NotAnAntibodyError) return e;
    throw e;
  }
}

/** Positions a domain is occupied at (occupancy ≥ ½ in its profile), between `lo` and `hi`, in order. */
function occupiedPositions(a: Alignment, lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let k = lo; k <= hi; k++) if (a.profile.toMatch[k] >= a.profile.toDelete[k]) out.push(k);
  return out;
}

/** How many residues before the first position may be a leader rather than FR1 (see extendStart). */
const START_SLACK = 3;

/**
 * The local alignment may leave the first residues unaligned when FR1 is mutated (a start at IMGT
 * 18 after 16 divergent residues costs less than poor matches). ANARCI numbers them from IMGT 1,
 * and so does this: the residues right before the start take the occupied positions before it,
 * nearest first. When more residues precede than positions remain (plus a few), they are a leader
 * or a tag, not FR1: then only a start at IMGT 2–4 is extended (by at most 3), as before.
 */
function extendStart(a: Alignment, used: Uint8Array): void {
  const k = a.states[a.start];
  if (k <= 1) return;
  let free = 0;
  while (a.start - free - 1 >= 0 && used[a.start - free - 1] === 0) free++;
  const positions = occupiedPositions(a, 1, k - 1).reverse();
  const take = free <= positions.length + START_SLACK ? Math.min(free, positions.length) : k <= 4 ? Math.min(free, k - 1) : 0;
  for (let j = 0; j < take; j++) a.states[a.start - 1 - j] = free <= positions.length + START_SLACK ? positions[j] : k - 1 - j;
  a.start -= take;
}

const RESIDUE_F = AMINO_ACIDS.indexOf('F');
const RESIDUE_W = AMINO_ACIDS.indexOf('W');
const RESIDUE_G = AMINO_ACIDS.indexOf('G');

/**
 * An alignment that stops inside CDR3 although the J region follows (a short CDR3 and a mutated
 * FR4, e.g. …CQQFEF FGLGSELEVH): ANARCI numbers through FR4 from the conserved F/W-G-x-G at IMGT
 * 118–121. When that motif follows within 20 free residues, the residues before it join CDR3
 * (renumbered by the IMGT length rule) and the motif's F/W takes 118; extendEnd goes on from there.
 */
function rescueFr4(a: Alignment, used: Uint8Array, codes: Uint8Array): void {
  const k = a.states[a.end];
  const inCdr3 = (k >= 105 && k <= 117) || (k < 0 && -k >= 104 && -k <= 117);
  if (!inCdr3) return;
  for (let m = a.end + 1; m <= a.end + 20 && m + 3 < codes.length; m++) {
    if (used[m] !== 0) return;
    const c = codes[m];
    if ((c === RESIDUE_F || c === RESIDUE_W) && codes[m + 1] === RESIDUE_G && codes[m + 3] === RESIDUE_G) {
      for (let i = a.end + 1; i < m; i++) a.states[i] = 117;
      a.states[m] = 118;
      a.end = m;
      return;
    }
  }
}

/** The last IMGT position ANARCI numbers: 128 for heavy chains, 127 for kappa and lambda. */
const LAST_POSITION: Record<ChainType, number> = { H: 128, K: 127, L: 127 };

/**
 * The same at the C-terminus: a mutated last residue or two of FR4 (…VSA, …EIL) are left out of a
 * local alignment that ends at IMGT 125–127. The residues right after take the occupied positions
 * up to the chain's last one (ANARCI's numbering ends there too), never into another domain.
 */
/** IMGT's CDR3: 105–117. */
const CDR3_FIRST = 105;
const CDR3_LAST = 117;

function extendEnd(a: Alignment, used: Uint8Array, codes: Uint8Array): void {
  rescueFr4(a, used, codes);
  // Kappa domains end at 127 (the next residue, often R, begins the constant region): ANARCI
  // never numbers a kappa 128, though the profile has the position.
  if (a.profile.chain === 'K') while (a.end > a.start && a.states[a.end] > LAST_POSITION.K) a.end--;
  const k = a.states[a.end];
  if (k >= CDR3_FIRST && k < CDR3_LAST) {
    // A chain that stops inside CDR3 (a truncated construct, 2h3n_A's …YYCAMGA): its last few
    // residues align to nothing; they are CDR3 residues, numbered forward from 105 as IMGT numbers
    // a truncated CDR. Only when they run to the chain's end and fit before 117.
    const tail = used.length - 1 - a.end;
    if (tail > 0 && tail <= CDR3_LAST - k && used.subarray(a.end + 1).every((u) => u === 0)) {
      for (let j = 1; j <= tail; j++) a.states[a.end + j] = k + j;
      a.end += tail;
    }
    return;
  }
  if (k < 118) return;
  const positions = occupiedPositions(a, k + 1, LAST_POSITION[a.profile.chain]);
  let j = 0;
  while (j < positions.length && a.end + 1 < used.length && used[a.end + 1] === 0) {
    a.end++;
    a.states[a.end] = positions[j++]!;
  }
}

/** Residue index at each IMGT position without insertion code (255 = none). */
function codesByImgt(imgt: readonly Position[], codes: Uint8Array, start: number): Uint8Array {
  const out = new Uint8Array(129).fill(255);
  for (let j = 0; j < imgt.length; j++) if (imgt[j].insertion === '') out[imgt[j].number] = codes[start + j]!;
  return out;
}

/** Why an alignment is not an antibody V domain, or null if it is one. */
function judge(a: Alignment, v: GermlineMatch | null): { reason: string; detail: string } | null {
  if (a.score < MIN_DOMAIN_SCORE) return { reason: 'low-score', detail: 'the best alignment to an antibody V profile is too weak' };
  const [lo, hi] = alignedRange(a);
  if (lo > MUST_COVER[0] || hi < MUST_COVER[1]) {
    return { reason: 'fragment', detail: `only IMGT ${lo}–${hi} aligned; a variable domain runs from ≤ ${MUST_COVER[0]} to ≥ ${MUST_COVER[1]}` };
  }
  if (v === null || v.identity < MIN_V_IDENTITY) {
    return {
      reason: 'tcr-like',
      detail: `V-like, but at most ${Math.round((v?.identity ?? 0) * 100)}% identical to any antibody V germline (antibodies: ≥ ${Math.round(MIN_V_IDENTITY * 100)}%); a T-cell receptor?`,
    };
  }
  return null;
}

function buildDomain(seq: string, codes: Uint8Array, a: Alignment, imgt: Position[], vGene: GermlineMatch | null, set: ProfileSet, scheme: Scheme): NumberedDomain {
  const chain = a.profile.chain;
  const cls = chainClassOf(chain);
  const chothia = convertNumbering(imgt, 'chothia', cls);
  const kabat = convertNumbering(imgt, 'kabat', cls);
  const byScheme = { imgt, chothia, kabat };
  const residues: NumberedResidue[] = imgt.map((pos, j) => {
    const regions = {} as Record<CdrDefinition, Region>;
    for (const def of CDR_DEFINITIONS) {
      const defScheme = def === 'north' ? 'chothia' : def;
      regions[def] = regionOf(def, cls, byScheme[defScheme][j].number);
    }
    const own = byScheme[scheme][j];
    return {
      aa: seq[a.start + j],
      index: a.start + j,
      number: own.number,
      insertion: own.insertion,
      region: regions[scheme],
      imgt: pos,
      chothia: chothia[j],
      kabat: kabat[j],
      regions,
    };
  });
  const byImgt = codesByImgt(imgt, codes, a.start);
  const jGene = closestGermline(byImgt, set.germlines, chain, 'J');
  return {
    chainType: chain,
    species: vGene?.species ?? a.profile.species,
    profile: a.profile.name,
    scheme,
    score: Math.round(a.score * 10) / 10,
    start: a.start,
    end: a.end,
    sequence: seq.slice(a.start, a.end + 1),
    vGene,
    jGene,
    residues,
  };
}
