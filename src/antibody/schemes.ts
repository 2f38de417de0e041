/**
 * Chothia and Kabat numbering derived from IMGT numbering.
 *
 * Both schemes number a fixed set of positions and put extra residues on insertion codes at
 * fixed places (Kabat et al. 1991; Chothia & Lesk 1987 with Al-Lazikani et al. 1997), where IMGT
 * has a position for every residue. So the domain is cut into segments by IMGT position; a
 * framework segment maps position to position (IMGT positions the scheme lacks become insertion
 * codes on the previous number, e.g. heavy IMGT 92–94 → 82A–C), and a loop segment is numbered
 * from its length alone with the scheme's insertion point and deletion order:
 *
 * | segment (IMGT) | Chothia | Kabat |
 * |---|---|---|
 * | H 1–10 | 1–9, extra residues 6A… | same |
 * | H 24–38 / 24–40 | 23–33, insertions 31A… | 23–35, insertions 35A… |
 * | H 55–65 | 50–57, insertions 52A…, deleted 52, 51, 50, 53… | same |
 * | H 66–104 | 58–92 with 82A–C | same |
 * | H 105–117 | 93–102, insertions 100A…, deleted 100, 99, 98… | same |
 * | L 24–40 | 24–34, insertions 30A…, deleted 31, 32… | 24–34, insertions 27A… |
 * | L 57–67 | 51–54, insertions 52A… when > 4 residues | same |
 * | L 68–104 | 55–88, insertions 68A…, 68 deleted first | 55–88 by alignment |
 * | L 105–117 | 89–97, insertions 95A…, deleted 96, 95, 94… | deleted 95, 94, 93… |
 * | L 1–23 | lambda's FR1 gap is L9 | lambda's FR1 gap is L10 |
 *
 * These are the rules ANARCI documents for its Chothia and Kabat output, except two Chothia
 * conventions taken from Chothia-numbered structures (the Rosetta antibody set): the lambda FR1
 * gap and the L3 deletion order, marked below.
 */
import { insertionCode, type Position } from './imgt.js';

/** Numbering schemes balmkit writes. */
export type Scheme = 'imgt' | 'chothia' | 'kabat';

/** Heavy or light (kappa and lambda number alike in all three schemes). */
export type ChainClass = 'heavy' | 'light';

/** A segment numbered position by position: IMGT `from…to`, scheme numbers from `firstNumber`; `skip` are IMGT positions the scheme lacks. */
interface DirectSegment {
  kind: 'direct';
  from: number;
  to: number;
  firstNumber: number;
  skip: readonly number[];
  /** Optional renumbering rule applied when the direct mapping produced insertion codes, or always (`always`). */
  rule?: (length: number, direct: Position[], imgt: readonly Position[]) => Position[] | undefined;
}

/** A loop numbered from its length. */
interface LoopSegment {
  kind: 'loop';
  from: number;
  to: number;
  positions: (length: number) => Position[];
}

type Segment = DirectSegment | LoopSegment;

const p = (number: number, insertion = ''): Position => ({ number, insertion });
const range = (a: number, b: number): Position[] => Array.from({ length: b - a + 1 }, (_, i) => p(a + i));
const inserts = (number: number, count: number): Position[] => Array.from({ length: Math.max(0, count) }, (_, i) => p(number, insertionCode(i)));
const byNumber = (a: Position, b: Position): number => a.number - b.number || a.insertion.length - b.insertion.length || (a.insertion < b.insertion ? -1 : a.insertion > b.insertion ? 1 : 0);

/** Heavy FR1: extra residues (IMGT 10, or aligner insertions) go on 6 (6A, 6B…). */
function heavyFr1(length: number, direct: Position[]): Position[] | undefined {
  if (!direct.some((x) => x.insertion !== '')) return undefined;
  const nIns = direct.filter((x) => x.insertion !== '').length;
  const start = direct[0].number;
  const labels = [...range(start, 6), ...inserts(6, nIns), ...range(7, 9)];
  return labels.slice(0, length);
}

/** Chothia H1 (IMGT 24–38): 23…31, 31A…, 32, 33. */
function chothiaH1(n: number): Position[] {
  if (n > 11) return [...range(23, 31), ...inserts(31, n - 11), p(32), p(33)];
  const tail = [p(32), p(33)].slice(0, n);
  return [...range(23, 31).slice(0, Math.max(0, n - tail.length)), ...tail];
}

/** Kabat H1 (IMGT 24–40): 23…35, 35A…. */
function kabatH1(n: number): Position[] {
  return [...range(23, 35).slice(0, n), ...inserts(35, n - 13)];
}

/** H2 (IMGT 55–65), both schemes: 50–57, insertions on 52, deletions 52, 51, 50 then 53…. */
function heavyH2(n: number): Position[] {
  return [...range(50, 52).slice(0, Math.max(0, n - 5)), ...inserts(52, n - 8), ...range(53, 57).slice(Math.max(0, 5 - n))].slice(0, n);
}

/** H3 (IMGT 105–117), both schemes: 93–102, insertions 100A…; positions deleted 100, 99, 98, 97, 96, 95, 101, 102, 94, 93. */
function heavyH3(n: number): Position[] {
  const order = [100, 99, 98, 97, 96, 95, 101, 102, 94, 93];
  return [...order.slice(Math.max(0, 10 - n)).map((x) => p(x)), ...inserts(100, n - 10)].sort(byNumber);
}

/** Chothia L1 (IMGT 24–40): 24…30, 30A…, 31…34; short loops lose 31, 32, … first. */
function chothiaL1(n: number): Position[] {
  return [...range(24, 30).slice(0, n), ...inserts(30, n - 11), ...range(31, 34).slice(Math.max(0, 11 - n))];
}

/** Kabat L1 (IMGT 24–40): 24…27, 27A…, 28…34. */
function kabatL1(n: number): Position[] {
  return [...range(24, 27).slice(0, n), ...inserts(27, n - 11), ...range(28, 34).slice(Math.max(0, 11 - n))];
}

/** L2 (IMGT 57–67): only lengths over 4 are renumbered (51, 52, 52A…, 53, 54); shorter ones follow the alignment. */
function lightL2(n: number): Position[] | undefined {
  return n > 4 ? [p(51), p(52), ...inserts(52, n - 4), p(53), p(54)] : undefined;
}

/** Chothia L FR3 (IMGT 68–104): over 34 residues the extras go on 68; at 33, 68 is the one missing. */
function chothiaLightFr3(n: number): Position[] | undefined {
  if (n > 34) return [...range(55, 68), ...inserts(68, n - 34), ...range(69, 88)];
  if (n === 33) return [...range(55, 67), ...range(69, 88)];
  return undefined;
}

/** Kabat L3 (IMGT 105–117): 89–97, insertions 95A…; positions deleted 95, 94, 93, 92, 91, 96, 97, 90, 89. */
function kabatL3(n: number): Position[] {
  const order = [95, 94, 93, 92, 91, 96, 97, 90, 89];
  return [...order.slice(Math.max(0, 9 - n)).map((x) => p(x)), ...inserts(95, n - 9)].sort(byNumber);
}

/**
 * Chothia L3 (IMGT 105–117): 89–97, insertions 95A…; a short loop keeps 97 and fills from 89,
 * so positions are deleted 96, 95, 94, … (an 8-residue L3 is 89–95, 97). This is the convention
 * of the Chothia-numbered structures balmkit is checked against (rosetta-fv); ANARCI deletes 95 first.
 */
function chothiaL3(n: number): Position[] {
  const order = [96, 95, 94, 93, 92, 91, 90, 89, 97];
  return [...order.slice(Math.max(0, 9 - n)).map((x) => p(x)), ...inserts(95, n - 9)].sort(byNumber);
}

/**
 * Chothia L FR1 (IMGT 1–23): a lambda chain's FR1 gap (IMGT 10) is numbered as a missing L9,
 * as in the Chothia-numbered structures (QSALTQPAS-V: S is L10, not L9). ANARCI leaves L10 empty.
 */
function chothiaLightFr1(_n: number, direct: Position[], imgt: readonly Position[]): Position[] | undefined {
  const at9 = imgt.findIndex((x) => x.number === 9 && x.insertion === '');
  if (at9 < 0 || imgt.some((x) => x.number === 10)) return undefined;
  return direct.map((x, i) => (i === at9 ? p(10) : x));
}

const loop = (from: number, to: number, positions: (n: number) => Position[]): LoopSegment => ({ kind: 'loop', from, to, positions });
const direct = (from: number, to: number, firstNumber: number, skip: readonly number[] = [], rule?: DirectSegment['rule']): DirectSegment => ({
  kind: 'direct',
  from,
  to,
  firstNumber,
  skip,
  ...(rule ? { rule } : {}),
});

const HEAVY_FR3 = [73, 92, 93, 94];
const LIGHT_FR3 = [73, 81, 82];

const SEGMENTS: Record<'chothia' | 'kabat', Record<ChainClass, Segment[]>> = {
  chothia: {
    heavy: [
      direct(1, 10, 1, [10], heavyFr1),
      direct(11, 23, 10),
      loop(24, 38, chothiaH1),
      direct(39, 54, 34),
      loop(55, 65, heavyH2),
      direct(66, 104, 58, HEAVY_FR3),
      loop(105, 117, heavyH3),
      direct(118, 128, 103),
    ],
    light: [
      direct(1, 23, 1, [], chothiaLightFr1),
      loop(24, 40, chothiaL1),
      direct(41, 56, 35),
      direct(57, 67, 51, [58, 59, 60, 61, 62, 63, 64], (n) => lightL2(n)),
      direct(68, 104, 55, LIGHT_FR3, (n) => chothiaLightFr3(n)),
      loop(105, 117, chothiaL3),
      direct(118, 128, 98),
    ],
  },
  kabat: {
    heavy: [
      direct(1, 10, 1, [10], heavyFr1),
      direct(11, 23, 10),
      loop(24, 40, kabatH1),
      direct(41, 54, 36),
      loop(55, 65, heavyH2),
      direct(66, 104, 58, HEAVY_FR3),
      loop(105, 117, heavyH3),
      direct(118, 128, 103),
    ],
    light: [
      direct(1, 23, 1),
      loop(24, 40, kabatL1),
      direct(41, 56, 35),
      direct(57, 67, 51, [58, 59, 60, 61, 62, 63, 64], (n) => lightL2(n)),
      direct(68, 104, 55, LIGHT_FR3),
      loop(105, 117, kabatL3),
      direct(118, 128, 98),
    ],
  },
};

/** Scheme number of each IMGT position of a direct segment (positions in `skip` take the previous number). */
function directTable(seg: DirectSegment): Map<number, number> {
  const t = new Map<number, number>();
  let next = seg.firstNumber;
  let last = seg.firstNumber - 1;
  for (let k = seg.from; k <= seg.to; k++) {
    if (seg.skip.includes(k)) t.set(k, last);
    else {
      last = next++;
      t.set(k, last);
    }
  }
  return t;
}

const tables = new Map<DirectSegment, Map<number, number>>();

function numberDirect(seg: DirectSegment, imgt: Position[]): Position[] {
  let table = tables.get(seg);
  if (table === undefined) {
    table = directTable(seg);
    tables.set(seg, table);
  }
  const used = new Map<number, number>();
  const out = imgt.map((x) => {
    const number = table.get(x.number)!;
    const k = used.get(number) ?? 0;
    used.set(number, k + 1);
    return k === 0 ? p(number) : p(number, insertionCode(k - 1));
  });
  return seg.rule?.(imgt.length, out, imgt) ?? out;
}

/**
 * Converts IMGT positions (in sequence order, one per residue of a numbered domain) to
 * `scheme`'s positions.
 */
export function convertNumbering(imgt: readonly Position[], scheme: Scheme, chain: ChainClass): Position[] {
  if (scheme === 'imgt') return imgt.map((x) => ({ ...x }));
  const out: Position[] = [];
  let i = 0;
  for (const seg of SEGMENTS[scheme][chain]) {
    const j0 = i;
    while (i < imgt.length && imgt[i].number <= seg.to) i++;
    const part = imgt.slice(j0, i);
    if (part.length === 0) continue;
    if (seg.kind === 'loop') {
      const labels = seg.positions(part.length);
      // A loop cut short by the end of the sequence: keep the labels from the side that is present.
      const trimmedStart = j0 === 0 && part[0].number > seg.from;
      out.push(...(trimmedStart ? labels.slice(labels.length - part.length) : labels.slice(0, part.length)));
    } else {
      out.push(...numberDirect(seg, part));
    }
  }
  return out;
}
