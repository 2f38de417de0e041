/**
 * IMGT numbering from a profile alignment.
 *
 * Framework residues keep the IMGT position they aligned to. The CDRs are renumbered from their
 * length alone, the IMGT way (Lefranc et al. 2003): positions fill from both ends towards the
 * middle (CDR1 27–38, CDR2 56–65, CDR3 105–117), so gaps sit at the tip of the loop, and a loop
 * longer than its positions gets insertion codes symmetrically on the two middle positions
 * (32A/33A, 60A/61A, 111A/112A), the right side first, letters running towards the middle
 * (…111, 111A, 111B, 112B, 112A, 112…). What the aligner did inside a CDR therefore never
 * matters; only its framework anchors do.
 */

/** An IMGT position with its insertion code ('' for none). */
export interface Position {
  number: number;
  insertion: string;
}

/** The IMGT CDRs: first and last position, and the two middle positions insertions go on. */
export const IMGT_CDRS = [
  { name: 'cdr1', first: 27, last: 38 },
  { name: 'cdr2', first: 56, last: 65 },
  { name: 'cdr3', first: 105, last: 117 },
] as const;

/** Insertion code for the i-th insertion (0 → A … 25 → Z, then AA, BB, … as ANARCI and IMGT extend). */
export function insertionCode(i: number): string {
  const letter = String.fromCharCode(65 + (i % 26));
  return letter.repeat(Math.floor(i / 26) + 1);
}

/**
 * IMGT positions of a CDR of `length` residues spanning positions `first…last`, in sequence order.
 */
export function imgtCdrPositions(length: number, first: number, last: number): Position[] {
  const slots = last - first + 1;
  const front: Position[] = [];
  const back: Position[] = [];
  for (let i = 0; i < Math.min(length, slots); i++) {
    if (i % 2 === 0) front.push({ number: first + front.length, insertion: '' });
    else back.unshift({ number: last - back.length, insertion: '' });
  }
  const extra = Math.max(0, length - slots);
  if (extra > 0) {
    const left = front[front.length - 1].number;
    const right = back[0].number;
    const nRight = Math.ceil(extra / 2);
    const nLeft = extra - nRight;
    for (let i = 0; i < nLeft; i++) front.push({ number: left, insertion: insertionCode(i) });
    const rightIns: Position[] = [];
    for (let i = nRight - 1; i >= 0; i--) rightIns.push({ number: right, insertion: insertionCode(i) });
    back.unshift(...rightIns);
  }
  return [...front, ...back];
}

/** Which IMGT segment a state belongs to: 0 FR1, 1 CDR1, 2 FR2, 3 CDR2, 4 FR3, 5 CDR3, 6 FR4. */
function segmentOf(state: number): number {
  if (state > 0) {
    const k = state;
    return k <= 26 ? 0 : k <= 38 ? 1 : k <= 55 ? 2 : k <= 65 ? 3 : k <= 104 ? 4 : k <= 117 ? 5 : 6;
  }
  // Insertion after k: at a framework's edge it belongs to the CDR next to it.
  const k = -state;
  return k < 26 ? 0 : k <= 38 ? 1 : k < 55 ? 2 : k <= 65 ? 3 : k < 104 ? 4 : k <= 117 ? 5 : 6;
}

/**
 * IMGT positions of the aligned residues `start…end` (inclusive) from their alignment states
 * (`states[i]`: k matched to position k, −k inserted after k; see `alignProfile`).
 */
export function imgtNumbering(states: Int16Array, start: number, end: number): Position[] {
  const n = end - start + 1;
  const out: Position[] = new Array<Position>(n);
  const seg = new Uint8Array(n);
  for (let i = 0; i < n; i++) seg[i] = states[start + i] === 0 ? 255 : segmentOf(states[start + i]);
  // Frameworks: the aligned position; insertions get letters after the last position.
  let insRun = 0;
  for (let i = 0; i < n; i++) {
    const s = states[start + i];
    if (seg[i] % 2 === 1) continue;
    if (s > 0) {
      out[i] = { number: s, insertion: '' };
      insRun = 0;
    } else {
      out[i] = { number: -s, insertion: insertionCode(insRun++) };
    }
  }
  // CDRs: renumbered from their length.
  for (let c = 0; c < 3; c++) {
    const cdr = IMGT_CDRS[c];
    const id = 2 * c + 1;
    let first = -1;
    let last = -1;
    for (let i = 0; i < n; i++) {
      if (seg[i] === id) {
        if (first < 0) first = i;
        last = i;
      }
    }
    if (first < 0) continue;
    // Residues between first and last that the aligner put elsewhere cannot happen (states are
    // monotone), so the CDR is the contiguous run first…last.
    const length = last - first + 1;
    const hasBefore = first > 0;
    const hasAfter = last < n - 1;
    let pos: Position[];
    if (hasBefore && hasAfter) pos = imgtCdrPositions(length, cdr.first, cdr.last);
    else if (hasBefore) pos = Array.from({ length }, (_, j) => forward(cdr.first, cdr.last, j));
    else pos = Array.from({ length }, (_, j) => backward(cdr.first, cdr.last, length - 1 - j));
    for (let j = 0; j < length; j++) out[first + j] = pos[j]!;
  }
  return out;
}

/** A truncated CDR (no framework after it) is numbered forward from its first position. */
function forward(first: number, last: number, j: number): Position {
  return first + j <= last ? { number: first + j, insertion: '' } : { number: last, insertion: insertionCode(j - (last - first) - 1) };
}

/** A CDR the sequence starts in is numbered backward from its last position (j residues before the end). */
function backward(first: number, last: number, j: number): Position {
  return last - j >= first ? { number: last - j, insertion: '' } : { number: first, insertion: insertionCode(j - (last - first) - 1) };
}
