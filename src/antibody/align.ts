/**
 * Viterbi alignment of a sequence (or a window of it) against one IMGT-position profile.
 *
 * Written here rather than taken from a library: there is no maintained JavaScript profile-HMM
 * aligner, and HMMER (what ANARCI runs) is a native binary the npm package cannot rely on. The
 * model is HMMER's Plan 7 core (match, insert and delete states per position) with free
 * unaligned flanks on the sequence (leaders, tags, constant domains) and a graded local entry and
 * exit on the profile (chains that start or end a few positions short). Scores are in bits.
 */
import { PROFILE_POSITIONS, type Profile } from './profile.js';

const K = PROFILE_POSITIONS;
const K1 = K + 1;
const NEG = -1e30;

/** Score of starting the alignment at position k: free at IMGT 1, then 1.5 bits a skipped position up to 8. */
const ENTRY: Float64Array = (() => {
  const e = new Float64Array(K1).fill(NEG);
  for (let k = 1; k <= K; k++) e[k] = -Math.min(8, 1.5 * (k - 1));
  return e;
})();

/**
 * Score of ending at position k: free at IMGT 127 (light chains' last germline residue), graded
 * before; a small bonus at 128 so a residue there (heavy S, light R/G) is numbered when present.
 */
const EXIT: Float64Array = (() => {
  const e = new Float64Array(K1).fill(NEG);
  for (let k = 1; k <= K; k++) e[k] = -Math.min(8, 1.5 * Math.max(0, 127 - k));
  e[K] = 0.5;
  return e;
})();

/** One profile alignment. */
export interface Alignment {
  profile: Profile;
  /** Viterbi score in bits. */
  score: number;
  /**
   * Per residue of the whole sequence: 0 unaligned; k > 0 matched to IMGT position k; −k an
   * insertion after position k.
   */
  states: Int16Array;
  /** First and last aligned residue (sequence indices, inclusive); −1 when nothing aligned. */
  start: number;
  end: number;
}

// Reused between calls: one traceback matrix grown to the largest window seen.
let trace = new Uint8Array(0);
const rows = {
  mPrev: new Float64Array(K1),
  iPrev: new Float64Array(K1),
  dPrev: new Float64Array(K1),
  mCur: new Float64Array(K1),
  iCur: new Float64Array(K1),
  dCur: new Float64Array(K1),
};

/**
 * A diagonal band: residue r may only align to positions k with
 * `r − start + 1 − below ≤ k ≤ r − start + 1 + above` (`start`: the residue expected at IMGT 1).
 * Over the PDB chains, k runs from 46 behind (ultralong CDR3s) to 22 ahead (IMGT gaps) of the
 * residue count from the prefilter's start.
 */
export interface Band {
  start: number;
  below: number;
  above: number;
}

/** The band used around a prefilter's domain start: generous for long CDR3s and start errors. */
export const DEFAULT_BAND = { below: 55, above: 32 } as const;

/**
 * Aligns `codes[from, to)` (residue indices from `encodeResidues`) to `profile`, within `band`
 * if given (cells outside it cannot be used; a band cuts the work by ~30%).
 *
 * Traceback byte per cell: bits 0–1 where match k came from (0 M, 1 I, 2 D, 3 begin), bit 2
 * whether insert k extended an insertion, bit 3 whether delete k extended a deletion.
 */
export function alignProfile(codes: Uint8Array, profile: Profile, from = 0, to = codes.length, band?: Band): Alignment {
  const n = to - from;
  const states = new Int16Array(codes.length);
  if (n <= 0) return { profile, score: NEG, states, start: -1, end: -1 };
  if (trace.length < (n + 1) * K1) trace = new Uint8Array((n + 1) * K1 * 2);
  const tr = trace;
  const { emit, toMatch, toDelete, insOpen, insExtend } = profile;
  let { mPrev, iPrev, dPrev, mCur, iCur, dCur } = rows;
  mPrev.fill(NEG);
  iPrev.fill(NEG);
  dPrev.fill(NEG);
  mCur.fill(NEG);
  iCur.fill(NEG);
  dCur.fill(NEG);
  let best = NEG;
  let bestI = 0;
  let bestK = 0;
  // Band edges for residue i (1-based in the window): k = i + shift ± margins.
  const shift = band !== undefined ? from - band.start : 0;
  const below = band !== undefined ? band.below : K;
  const above = band !== undefined ? band.above : K;
  for (let i = 1; i <= n; i++) {
    const row = codes[from + i - 1] * K1;
    const tb = i * K1;
    const diag = i + shift;
    const kLo = Math.max(1, diag - below);
    const kHi = Math.min(K, diag + above);
    if (kLo > kHi) {
      // Outside the band altogether: this row stays unusable.
      let t = mPrev;
      mPrev = mCur;
      mCur = t;
      t = iPrev;
      iPrev = iCur;
      iCur = t;
      t = dPrev;
      dPrev = dCur;
      dCur = t;
      mPrev.fill(NEG);
      iPrev.fill(NEG);
      dPrev.fill(NEG);
      continue;
    }
    // The cells just outside the band must read as impossible for this row and the next.
    mCur[kLo - 1] = NEG;
    dCur[kLo - 1] = NEG;
    iCur[kLo - 1] = NEG;
    if (kHi < K) {
      mCur[kHi + 1] = NEG;
      iCur[kHi + 1] = NEG;
      dCur[kHi + 1] = NEG;
    }
    // Values at k−1 are carried in locals: the previous row's M/I/D and this row's M/D.
    let mDiag = mPrev[kLo - 1];
    let iDiag = iPrev[kLo - 1];
    let dDiag = dPrev[kLo - 1];
    let mLeft = NEG;
    let dLeft = NEG;
    for (let k = kLo; k <= kHi; k++) {
      // Match k: from M, I or D at k−1 on the previous residue, or from the begin state.
      let m = mDiag;
      let src = 0;
      if (iDiag > m) {
        m = iDiag;
        src = 1;
      }
      if (dDiag > m) {
        m = dDiag;
        src = 2;
      }
      const fromB = ENTRY[k];
      if (fromB > m) {
        m = fromB;
        src = 3;
      }
      m += toMatch[k] + emit[row + k];
      mCur[k] = m;
      // Insert after k (background emission, 0 bits): open from M k or extend.
      const mUp = mPrev[k];
      const iUp = iPrev[k];
      const open = mUp + insOpen[k];
      const ext = iUp + insExtend[k];
      let bits = src;
      if (ext > open) {
        iCur[k] = ext;
        bits |= 4;
      } else iCur[k] = open;
      // Delete k: from M or D at k−1 on this residue.
      let d = mLeft;
      if (dLeft > d) {
        d = dLeft;
        bits |= 8;
      }
      d += toDelete[k];
      dCur[k] = d;
      mDiag = mUp;
      iDiag = iUp;
      dDiag = dPrev[k]!;
      mLeft = m;
      dLeft = d;
      tr[tb + k] = bits;
      const end = m + EXIT[k];
      if (end > best) {
        best = end;
        bestI = i;
        bestK = k;
      }
    }
    let t = mPrev;
    mPrev = mCur;
    mCur = t;
    t = iPrev;
    iPrev = iCur;
    iCur = t;
    t = dPrev;
    dPrev = dCur;
    dCur = t;
  }
  Object.assign(rows, { mPrev, iPrev, dPrev, mCur, iCur, dCur });
  if (bestI === 0) return { profile, score: NEG, states, start: -1, end: -1 };

  // Traceback from the best match cell.
  let i = bestI;
  let k = bestK;
  let state = 0; // 0 M, 1 I, 2 D
  let start = from + bestI - 1;
  for (;;) {
    const bits = trace[i * K1 + k];
    if (state === 0) {
      states[from + i - 1] = k;
      start = from + i - 1;
      const src = bits & 3;
      if (src === 3) break;
      i--;
      k--;
      state = src;
    } else if (state === 1) {
      states[from + i - 1] = -k;
      start = from + i - 1;
      state = bits & 4 ? 1 : 0;
      i--;
    } else {
      state = bits & 8 ? 2 : 0;
      k--;
    }
    if (i < 1 || k < 1) break;
  }
  return { profile, score: best, states, start, end: from + bestI - 1 };
}
