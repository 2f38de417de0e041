/**
 * Relaxation without a force field: a short gradient descent (FIRE, Bitzek et al. 2006) over the
 * heavy-atom coordinates of an atom14 model that idealises bonds, removes clashes and keeps the
 * model where it was. Energy terms (all harmonic or flat-bottom):
 *   bonds       k_b (d − d₀)²              Engh–Huber lengths, incl. peptide C–N and disulfide SG–SG
 *   angles      k_a (d₁₃ − d₁₃⁰)²           bond angles as 1–3 distances (law of cosines), incl. the
 *                                           peptide angles CA–C–N, C–N–CA, O–C–N
 *   planarity   k_ω (1 − cos(ω − ω₀))       peptide omega towards 180° (0° for a cis peptide before Pro)
 *   chirality   k_χ (V − V₀)²               Cα signed volume (N−CA)·((C−CA)×(CB−CA)) towards L
 *   clashes     k_c (d_min − d)², d < d_min  residues ≥ 2 apart: d_min = 2.5 Å (2.2 Å N/O) + margin
 *   restraint   k_r |x − x₀|²               stay near the input
 * Clash pairs come from a grid neighbour search kept as a Verlet list (rebuilt when an atom has
 * moved more than half the skin), so a whole Fv relaxes in well under a second.
 */
import type { Atom14 } from './atoms.js';
import { ATOMS_PER_RESIDUE, RESNAMES } from './residue-constants.js';
import { IDEAL_ANGLES, IDEAL_BONDS, PEPTIDE } from './stereochemistry.js';
import {
  type ChainStarts,
  type Clash,
  type GeometryReport,
  CLASH_DISTANCE,
  CLASH_DISTANCE_POLAR,
  IDEAL_CHIRAL_VOLUME,
  bondTerms,
  bondedToNext,
  chainIndex,
  checkGeometry,
  chiralVolume,
  clashCandidate,
  isPolarPair,
  neighborPairs,
  slotElements,
  slotNames,
  slotOf,
} from './validate.js';

/** Options of {@link relax}. */
export interface RelaxOptions {
  /** Residue index of each chain's first residue (default `[0]`: one chain). */
  chainStarts?: ChainStarts;
  /** Most FIRE steps (default 2000). */
  maxIterations?: number;
  /** Stop when the largest force is below this (default 0.05). */
  forceTolerance?: number;
  /** Extra distance over the clash thresholds the relaxation aims for (Å, default 0.3). */
  clashMargin?: number;
  /** Weights of the terms (defaults in {@link DEFAULT_WEIGHTS}). */
  weights?: Partial<RelaxWeights>;
}

/** Force constants of the energy terms. */
export interface RelaxWeights {
  bond: number;
  angle: number;
  planarity: number;
  chirality: number;
  clash: number;
  restraint: number;
}

export const DEFAULT_WEIGHTS: RelaxWeights = { bond: 100, angle: 40, planarity: 20, chirality: 5, clash: 50, restraint: 0.05 };

/** Energy of each term. */
export type TermEnergies = Record<keyof RelaxWeights, number>;

/** A bond or 1–3 distance that is still off after relaxation. */
export interface BondViolation {
  atoms: string;
  length: number;
  ideal: number;
}

/** What {@link relax} did. */
export interface RelaxReport {
  iterations: number;
  /** Whether the force tolerance was reached before the iteration limit. */
  converged: boolean;
  /** RMSD between input and output over present atoms (Å), and the largest single move. */
  rmsdMoved: number;
  maxMoved: number;
  energyBefore: TermEnergies;
  energyAfter: TermEnergies;
  before: GeometryReport;
  after: GeometryReport;
  /** The five worst bonds and clashes that remain, with readable atom names. */
  worstBonds: BondViolation[];
  worstClashes: (Clash & { atoms: string })[];
}

interface Terms {
  pairA: Int32Array;
  pairB: Int32Array;
  pairIdeal: Float64Array;
  pairK: Float64Array;
  /** 1 for a 1–3 (angle) distance, 0 for a bond. */
  pairIsAngle: Uint8Array;
  /** Omega quads CA(i), C(i), N(i+1), CA(i+1) and target (radians). */
  quads: Int32Array;
  omegaTarget: Float64Array;
  /** Chirality: CA, N, C, CB and the ideal volume. */
  chiral: Int32Array;
  chiralV0: Float64Array;
}

function bondLengthOf(resname: string, a: string, b: string): number | undefined {
  return IDEAL_BONDS[resname].find((x) => (x.a === a && x.b === b) || (x.a === b && x.b === a))?.length;
}

/** d₁₃ from two bond lengths and the angle between them (law of cosines). */
function oneThree(l1: number, l2: number, degrees: number): number {
  const g = (degrees * Math.PI) / 180;
  return Math.sqrt(l1 * l1 + l2 * l2 - 2 * l1 * l2 * Math.cos(g));
}

function dihedralOf(p: Float64Array, a: number, b: number, c: number, d: number): number {
  const b1 = [p[b * 3] - p[a * 3], p[b * 3 + 1] - p[a * 3 + 1], p[b * 3 + 2] - p[a * 3 + 2]];
  const b2 = [p[c * 3] - p[b * 3], p[c * 3 + 1] - p[b * 3 + 1], p[c * 3 + 2] - p[b * 3 + 2]];
  const b3 = [p[d * 3] - p[c * 3], p[d * 3 + 1] - p[c * 3 + 1], p[d * 3 + 2] - p[c * 3 + 2]];
  const n1 = cross3(b1, b2);
  const n2 = cross3(b2, b3);
  const m = cross3(n1, n2);
  const nb2 = Math.hypot(b2[0], b2[1], b2[2]);
  return Math.atan2(dot3(m, b2) / nb2, dot3(n1, n2));
}

function cross3(a: number[], b: number[]): number[] {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

function dot3(a: number[], b: number[]): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

function buildTerms(atoms: Atom14, chainStarts: ChainStarts, w: RelaxWeights): Terms {
  const n = atoms.aatype.length;
  const present = (i: number, slot: number) => slot >= 0 && atoms.mask[i * ATOMS_PER_RESIDUE + slot] === 1;
  const at = (i: number, slot: number) => i * ATOMS_PER_RESIDUE + slot;
  const pa: number[] = [];
  const pb: number[] = [];
  const ideal: number[] = [];
  const k: number[] = [];
  const isAngle: number[] = [];
  const pair = (a: number, b: number, d0: number, kind: 'bond' | 'angle') => {
    pa.push(a);
    pb.push(b);
    ideal.push(d0);
    k.push(kind === 'bond' ? w.bond : w.angle);
    isAngle.push(kind === 'bond' ? 0 : 1);
  };
  for (const b of bondTerms(atoms, chainStarts)) pair(b.a, b.b, b.ideal, 'bond');
  // Disulfides: SG–SG pairs already close in the input are bonded at 2.04 Å.
  const names = slotNames(atoms);
  const sg: number[] = [];
  names.forEach((nm, a) => nm === 'SG' && atoms.mask[a] && sg.push(a));
  const p = atoms.positions;
  for (let x = 0; x < sg.length; x++) {
    for (let y = x + 1; y < sg.length; y++) {
      const a = sg[x],
        b = sg[y];
      if (Math.hypot(p[a * 3] - p[b * 3], p[a * 3 + 1] - p[b * 3 + 1], p[a * 3 + 2] - p[b * 3 + 2]) < 3.0) pair(a, b, 2.04, 'bond');
    }
  }
  const quads: number[] = [];
  const omegaTarget: number[] = [];
  const chiral: number[] = [];
  const chiralV0: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = atoms.aatype[i];
    const name = RESNAMES[r];
    for (const g of IDEAL_ANGLES[name]) {
      const sa = slotOf(r, g.a),
        sc = slotOf(r, g.c);
      if (!present(i, sa) || !present(i, sc) || !present(i, slotOf(r, g.b))) continue;
      const l1 = bondLengthOf(name, g.a, g.b);
      const l2 = bondLengthOf(name, g.b, g.c);
      if (l1 !== undefined && l2 !== undefined) pair(at(i, sa), at(i, sc), oneThree(l1, l2, g.degrees), 'angle');
    }
    const cb = slotOf(r, 'CB');
    if (cb >= 0 && [0, 1, 2, cb].every((s) => present(i, s))) {
      chiral.push(at(i, 1), at(i, 0), at(i, 2), at(i, cb));
      chiralV0.push(IDEAL_CHIRAL_VOLUME[r]);
    }
    if (bondedToNext(i, n, chainStarts) && [0, 1, 2].every((s) => present(i, s)) && [0, 1].every((s) => present(i + 1, s))) {
      const next = RESNAMES[atoms.aatype[i + 1]];
      const cn = PEPTIDE.cnLength[next === 'PRO' ? 1 : 0];
      pair(at(i, 1), at(i + 1, 0), oneThree(bondLengthOf(name, 'CA', 'C')!, cn, PEPTIDE.caCN), 'angle');
      pair(at(i, 2), at(i + 1, 1), oneThree(cn, bondLengthOf(next, 'N', 'CA')!, PEPTIDE.cNCA), 'angle');
      if (present(i, 3)) pair(at(i, 3), at(i + 1, 0), oneThree(bondLengthOf(name, 'C', 'O')!, cn, PEPTIDE.oCN), 'angle');
      const q = [at(i, 1), at(i, 2), at(i + 1, 0), at(i + 1, 1)] as const;
      quads.push(...q);
      // A cis peptide before a proline stays cis (antibodies have real ones, e.g. kappa L8, L95);
      // every other peptide goes trans (non-proline cis peptides are rare enough to be errors).
      omegaTarget.push(next === 'PRO' && Math.abs(dihedralOf(p, ...q)) < Math.PI / 2 ? 0 : Math.PI);
    }
  }
  return {
    pairA: Int32Array.from(pa),
    pairB: Int32Array.from(pb),
    pairIdeal: Float64Array.from(ideal),
    pairK: Float64Array.from(k),
    pairIsAngle: Uint8Array.from(isAngle),
    quads: Int32Array.from(quads),
    omegaTarget: Float64Array.from(omegaTarget),
    chiral: Int32Array.from(chiral),
    chiralV0: Float64Array.from(chiralV0),
  };
}

/** Adds k·(1 − cos(φ − φ₀)) of a dihedral a–b–c–d and its gradient (Blondel & Karplus 1996). */
function dihedralTerm(p: Float64Array, g: Float64Array, a: number, b: number, c: number, d: number, target: number, k: number): number {
  const F = [p[a * 3] - p[b * 3], p[a * 3 + 1] - p[b * 3 + 1], p[a * 3 + 2] - p[b * 3 + 2]];
  const G = [p[b * 3] - p[c * 3], p[b * 3 + 1] - p[c * 3 + 1], p[b * 3 + 2] - p[c * 3 + 2]];
  const H = [p[d * 3] - p[c * 3], p[d * 3 + 1] - p[c * 3 + 1], p[d * 3 + 2] - p[c * 3 + 2]];
  const A = cross3(F, G);
  const B = cross3(H, G);
  const A2 = dot3(A, A);
  const B2 = dot3(B, B);
  const Gn = Math.sqrt(dot3(G, G));
  if (A2 < 1e-12 || B2 < 1e-12 || Gn < 1e-9) return 0;
  const phi = dihedralOf(p, a, b, c, d);
  const e = k * (1 - Math.cos(phi - target));
  const dEdPhi = k * Math.sin(phi - target);
  const fg = dot3(F, G);
  const hg = dot3(H, G);
  for (let x = 0; x < 3; x++) {
    const dA = (-Gn / A2) * A[x];
    const dD = (Gn / B2) * B[x];
    const dB = -dA + (fg / (A2 * Gn)) * A[x] - (hg / (B2 * Gn)) * B[x];
    const dC = -dD - (fg / (A2 * Gn)) * A[x] + (hg / (B2 * Gn)) * B[x];
    g[a * 3 + x] += dEdPhi * dA;
    g[b * 3 + x] += dEdPhi * dB;
    g[c * 3 + x] += dEdPhi * dC;
    g[d * 3 + x] += dEdPhi * dD;
  }
  return e;
}

function pairKey(a: number, b: number): number {
  return a < b ? a * 2 ** 32 + b : b * 2 ** 32 + a;
}

/** The relaxation energy: terms, clash pairs and reference coordinates, evaluated with gradients. */
export class RelaxEnergy {
  readonly terms: Terms;
  readonly weights: RelaxWeights;
  private readonly reference: Float64Array;
  private readonly mask: Uint8Array;
  private readonly elements: string[];
  private readonly names: string[];
  private readonly chainOf: Int32Array;
  private readonly clashMin: number;
  private readonly skin = 1.0;
  private clashA = new Int32Array(0);
  private clashB = new Int32Array(0);
  private clashD = new Float64Array(0);
  private listAt = new Float64Array(0);
  /** Restrained pairs (bonds, 1–3), excluded from the clash list; key min·2³² + max. */
  private readonly restrained = new Set<number>();

  constructor(atoms: Atom14, options: RelaxOptions = {}) {
    this.weights = { ...DEFAULT_WEIGHTS, ...options.weights };
    const starts = options.chainStarts ?? [0];
    this.terms = buildTerms(atoms, starts, this.weights);
    this.reference = Float64Array.from(atoms.positions);
    this.mask = atoms.mask;
    this.elements = slotElements(atoms);
    this.names = slotNames(atoms);
    this.chainOf = chainIndex(atoms.aatype.length, starts);
    this.clashMin = options.clashMargin ?? 0.3;
    for (let t = 0; t < this.terms.pairA.length; t++) this.restrained.add(pairKey(this.terms.pairA[t], this.terms.pairB[t]));
    this.rebuildNeighbors(atoms.positions);
  }

  /** Rebuilds the clash candidate list (pairs within the largest d_min plus the skin). */
  rebuildNeighbors(p: Float64Array): void {
    const cutoff = CLASH_DISTANCE + this.clashMin + this.skin;
    const a: number[] = [];
    const b: number[] = [];
    const d: number[] = [];
    for (const [x, y] of neighborPairs(p, this.mask, cutoff)) {
      if (!clashCandidate(x, y, this.chainOf, this.names, this.elements)) continue;
      if (this.restrained.has(pairKey(x, y))) continue;
      a.push(x);
      b.push(y);
      d.push((isPolarPair(this.elements[x], this.elements[y]) ? CLASH_DISTANCE_POLAR : CLASH_DISTANCE) + this.clashMin);
    }
    this.clashA = Int32Array.from(a);
    this.clashB = Int32Array.from(b);
    this.clashD = Float64Array.from(d);
    this.listAt = Float64Array.from(p);
  }

  /** Rebuilds the neighbour list when some atom moved more than half the skin since the last build. */
  maybeRebuild(p: Float64Array): void {
    const limit = (this.skin / 2) ** 2;
    for (let a = 0; a < this.mask.length; a++) {
      if (!this.mask[a]) continue;
      const dx = p[a * 3] - this.listAt[a * 3],
        dy = p[a * 3 + 1] - this.listAt[a * 3 + 1],
        dz = p[a * 3 + 2] - this.listAt[a * 3 + 2];
      if (dx * dx + dy * dy + dz * dz > limit) {
        this.rebuildNeighbors(p);
        return;
      }
    }
  }

  /** Energy per term at `p`; adds the gradient into `grad` when given. */
  evaluate(p: Float64Array, grad?: Float64Array): TermEnergies {
    const g = grad ?? new Float64Array(p.length);
    const t = this.terms;
    const w = this.weights;
    let eBond = 0;
    let eAngle = 0;
    // Springs k (d − d₀)²: bonds and 1–3 distances.
    for (let i = 0; i < t.pairA.length; i++) {
      const a = t.pairA[i],
        b = t.pairB[i],
        k = t.pairK[i],
        d0 = t.pairIdeal[i];
      const dx = p[b * 3] - p[a * 3],
        dy = p[b * 3 + 1] - p[a * 3 + 1],
        dz = p[b * 3 + 2] - p[a * 3 + 2];
      const d = Math.sqrt(dx * dx + dy * dy + dz * dz);
      if (d < 1e-9) continue;
      const f = (2 * k * (d - d0)) / d;
      g[b * 3] += f * dx;
      g[b * 3 + 1] += f * dy;
      g[b * 3 + 2] += f * dz;
      g[a * 3] -= f * dx;
      g[a * 3 + 1] -= f * dy;
      g[a * 3 + 2] -= f * dz;
      const e = k * (d - d0) * (d - d0);
      if (t.pairIsAngle[i]) eAngle += e;
      else eBond += e;
    }
    let ePlanarity = 0;
    for (let i = 0; i < t.omegaTarget.length; i++) {
      const q = t.quads;
      ePlanarity += dihedralTerm(p, g, q[i * 4], q[i * 4 + 1], q[i * 4 + 2], q[i * 4 + 3], t.omegaTarget[i], w.planarity);
    }
    let eChirality = 0;
    for (let i = 0; i < t.chiralV0.length; i++) {
      const ca = t.chiral[i * 4],
        nn = t.chiral[i * 4 + 1],
        c = t.chiral[i * 4 + 2],
        cb = t.chiral[i * 4 + 3];
      const dv = chiralVolume(p, ca, nn, c, cb) - t.chiralV0[i];
      eChirality += w.chirality * dv * dv;
      const f = 2 * w.chirality * dv;
      const u = [p[nn * 3] - p[ca * 3], p[nn * 3 + 1] - p[ca * 3 + 1], p[nn * 3 + 2] - p[ca * 3 + 2]];
      const v = [p[c * 3] - p[ca * 3], p[c * 3 + 1] - p[ca * 3 + 1], p[c * 3 + 2] - p[ca * 3 + 2]];
      const s = [p[cb * 3] - p[ca * 3], p[cb * 3 + 1] - p[ca * 3 + 1], p[cb * 3 + 2] - p[ca * 3 + 2]];
      // V = u·(v×s): ∂V/∂u = v×s, ∂V/∂v = s×u, ∂V/∂s = u×v, and CA carries minus their sum.
      const du = cross3(v, s),
        dv2 = cross3(s, u),
        ds = cross3(u, v);
      for (let x = 0; x < 3; x++) {
        g[nn * 3 + x] += f * du[x];
        g[c * 3 + x] += f * dv2[x];
        g[cb * 3 + x] += f * ds[x];
        g[ca * 3 + x] -= f * (du[x] + dv2[x] + ds[x]);
      }
    }
    // Flat-bottom clashes: k (d_min − d)² below d_min only.
    let eClash = 0;
    const kc = w.clash;
    for (let i = 0; i < this.clashA.length; i++) {
      const a = this.clashA[i],
        b = this.clashB[i],
        d0 = this.clashD[i];
      const dx = p[b * 3] - p[a * 3],
        dy = p[b * 3 + 1] - p[a * 3 + 1],
        dz = p[b * 3 + 2] - p[a * 3 + 2];
      const d2 = dx * dx + dy * dy + dz * dz;
      if (d2 >= d0 * d0 || d2 < 1e-18) continue;
      const d = Math.sqrt(d2);
      const f = (2 * kc * (d - d0)) / d;
      g[b * 3] += f * dx;
      g[b * 3 + 1] += f * dy;
      g[b * 3 + 2] += f * dz;
      g[a * 3] -= f * dx;
      g[a * 3 + 1] -= f * dy;
      g[a * 3 + 2] -= f * dz;
      eClash += kc * (d - d0) * (d - d0);
    }
    let eRestraint = 0;
    const kr = w.restraint;
    for (let a = 0; a < this.mask.length; a++) {
      if (!this.mask[a]) continue;
      for (let x = a * 3; x < a * 3 + 3; x++) {
        const d = p[x] - this.reference[x];
        eRestraint += kr * d * d;
        g[x] += 2 * kr * d;
      }
    }
    return { bond: eBond, angle: eAngle, planarity: ePlanarity, chirality: eChirality, clash: eClash, restraint: eRestraint };
  }
}

/** A readable label of an atom slot: `residue 12 TYR CA` (residue index from 0). */
function atomLabel(atoms: Atom14, names: string[], a: number): string {
  const i = Math.floor(a / ATOMS_PER_RESIDUE);
  return `residue ${i} ${RESNAMES[atoms.aatype[i]]} ${names[a]}`;
}

/**
 * Relaxes a model: returns new coordinates (same layout; absent slots stay 0) and a report of
 * what moved and which violations remain.
 */
export function relax(atoms: Atom14, options: RelaxOptions = {}): { atoms: Atom14; report: RelaxReport } {
  const chainStarts = options.chainStarts ?? [0];
  const energy = new RelaxEnergy(atoms, options);
  const maxIterations = options.maxIterations ?? 2000;
  const fTol = options.forceTolerance ?? 0.05;
  const x = Float64Array.from(atoms.positions);
  const v = new Float64Array(x.length);
  const g = new Float64Array(x.length);
  const energyBefore = energy.evaluate(x);
  // FIRE: velocity Verlet on −∇E with the velocity steered towards the force, and a time step
  // that grows while the power F·v stays positive and is cut when it turns negative.
  let dt = 0.01;
  const dtMax = 0.05;
  let alpha = 0.1;
  let positiveSteps = 0;
  let iterations = 0;
  let converged = false;
  const maxStep = 0.1;
  for (; iterations < maxIterations; iterations++) {
    energy.maybeRebuild(x);
    g.fill(0);
    energy.evaluate(x, g);
    let fMax = 0;
    let power = 0;
    let fNorm = 0;
    let vNorm = 0;
    for (let k = 0; k < x.length; k++) {
      const f = -g[k];
      fMax = Math.max(fMax, Math.abs(f));
      power += f * v[k];
      fNorm += f * f;
      vNorm += v[k] * v[k];
    }
    if (fMax < fTol) {
      converged = true;
      break;
    }
    fNorm = Math.sqrt(fNorm);
    vNorm = Math.sqrt(vNorm);
    if (power > 0) {
      for (let k = 0; k < x.length; k++) v[k] = (1 - alpha) * v[k] + (alpha * vNorm * -g[k]) / fNorm;
      if (++positiveSteps > 5) {
        dt = Math.min(dt * 1.1, dtMax);
        alpha *= 0.99;
      }
    } else {
      v.fill(0);
      dt *= 0.5;
      alpha = 0.1;
      positiveSteps = 0;
    }
    for (let a = 0; a < atoms.mask.length; a++) {
      if (!atoms.mask[a]) continue;
      let s2 = 0;
      for (let c = 0; c < 3; c++) {
        v[a * 3 + c] += dt * -g[a * 3 + c];
        s2 += (dt * v[a * 3 + c]) ** 2;
      }
      // Cap each atom's step so a large force cannot throw it across the structure.
      const scale = s2 > maxStep * maxStep ? maxStep / Math.sqrt(s2) : 1;
      for (let c = 0; c < 3; c++) x[a * 3 + c] += dt * v[a * 3 + c] * scale;
    }
  }
  energy.rebuildNeighbors(x);
  const energyAfter = energy.evaluate(x);
  const out: Atom14 = { aatype: atoms.aatype, positions: x, mask: atoms.mask };
  let sq = 0;
  let count = 0;
  let maxMoved = 0;
  for (let a = 0; a < atoms.mask.length; a++) {
    if (!atoms.mask[a]) continue;
    const d2 = (x[a * 3] - atoms.positions[a * 3]) ** 2 + (x[a * 3 + 1] - atoms.positions[a * 3 + 1]) ** 2 + (x[a * 3 + 2] - atoms.positions[a * 3 + 2]) ** 2;
    sq += d2;
    count++;
    maxMoved = Math.max(maxMoved, Math.sqrt(d2));
  }
  const before = checkGeometry(atoms, chainStarts);
  const after = checkGeometry(out, chainStarts);
  const names = slotNames(atoms);
  const worstBonds = bondTerms(out, chainStarts)
    .map((b) => ({ b, d: Math.hypot(x[b.a * 3] - x[b.b * 3], x[b.a * 3 + 1] - x[b.b * 3 + 1], x[b.a * 3 + 2] - x[b.b * 3 + 2]) }))
    .sort((p, q) => Math.abs(q.d - q.b.ideal) - Math.abs(p.d - p.b.ideal))
    .slice(0, 5)
    .map(({ b, d }) => ({ atoms: `${atomLabel(atoms, names, b.a)} – ${atomLabel(atoms, names, b.b)}`, length: d, ideal: b.ideal }));
  const worstClashes = [...after.clashes]
    .sort((p, q) => p.distance - p.threshold - (q.distance - q.threshold))
    .slice(0, 5)
    .map((c) => ({ ...c, atoms: `${atomLabel(atoms, names, c.a)} – ${atomLabel(atoms, names, c.b)}` }));
  return {
    atoms: out,
    report: {
      iterations,
      converged,
      rmsdMoved: count ? Math.sqrt(sq / count) : 0,
      maxMoved,
      energyBefore,
      energyAfter,
      before,
      after,
      worstBonds,
      worstClashes,
    },
  };
}

/** Total of a {@link TermEnergies}. */
export function totalEnergy(e: TermEnergies): number {
  return Object.values(e).reduce((s, x) => s + x, 0);
}
