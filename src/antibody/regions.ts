/**
 * CDR definitions: which residues are framework and which CDR, under IMGT, Chothia, Kabat and
 * North. These are the definitions balmkit's BALM, BALMFold and viewer use.
 *
 * Each definition is a set of inclusive ranges in one numbering scheme; a residue with an
 * insertion code belongs where its number does (31A is where 31 is).
 *
 * | definition | numbered in | H1 | H2 | H3 | L1 | L2 | L3 |
 * |---|---|---|---|---|---|---|---|
 * | imgt (Lefranc 2003) | IMGT | 27–38 | 56–65 | 105–117 | 27–38 | 56–65 | 105–117 |
 * | chothia (Al-Lazikani 1997) | Chothia | 26–32 | 52–56 | 95–102 | 24–34 | 50–56 | 89–97 |
 * | kabat (Kabat 1991) | Kabat | 31–35 | 50–65 | 95–102 | 24–34 | 50–56 | 89–97 |
 * | north (North 2011) | Chothia | 23–35 | 50–58 | 93–102 | 24–34 | 49–56 | 89–97 |
 */
import type { ChainClass, Scheme } from './schemes.js';

/** Region names, N- to C-terminal. */
export type Region = 'fwr1' | 'cdr1' | 'fwr2' | 'cdr2' | 'fwr3' | 'cdr3' | 'fwr4';

/** CDR definitions balmkit knows. */
export type CdrDefinition = 'imgt' | 'chothia' | 'kabat' | 'north';

/** The CDR definitions, in `--help` order. */
export const CDR_DEFINITIONS: readonly CdrDefinition[] = ['imgt', 'chothia', 'kabat', 'north'];

/** One definition: the scheme its ranges are numbered in, and [first, last] of CDR1–3 per chain class. */
export interface CdrDefinitionSpec {
  scheme: Scheme;
  heavy: readonly [readonly [number, number], readonly [number, number], readonly [number, number]];
  light: readonly [readonly [number, number], readonly [number, number], readonly [number, number]];
}

/** The definitions as data. */
export const CDR_RANGES: Readonly<Record<CdrDefinition, CdrDefinitionSpec>> = {
  imgt: {
    scheme: 'imgt',
    heavy: [
      [27, 38],
      [56, 65],
      [105, 117],
    ],
    light: [
      [27, 38],
      [56, 65],
      [105, 117],
    ],
  },
  chothia: {
    scheme: 'chothia',
    heavy: [
      [26, 32],
      [52, 56],
      [95, 102],
    ],
    light: [
      [24, 34],
      [50, 56],
      [89, 97],
    ],
  },
  kabat: {
    scheme: 'kabat',
    heavy: [
      [31, 35],
      [50, 65],
      [95, 102],
    ],
    light: [
      [24, 34],
      [50, 56],
      [89, 97],
    ],
  },
  north: {
    scheme: 'chothia',
    heavy: [
      [23, 35],
      [50, 58],
      [93, 102],
    ],
    light: [
      [24, 34],
      [49, 56],
      [89, 97],
    ],
  },
};

const ORDER: readonly Region[] = ['fwr1', 'cdr1', 'fwr2', 'cdr2', 'fwr3', 'cdr3', 'fwr4'];

/**
 * The region of a residue numbered `number` in the definition's scheme.
 */
export function regionOf(definition: CdrDefinition, chain: ChainClass, number: number): Region {
  const cdrs = CDR_RANGES[definition][chain];
  for (let c = 0; c < 3; c++) {
    const [a, b] = cdrs[c];
    if (number < a) return ORDER[2 * c];
    if (number <= b) return ORDER[2 * c + 1];
  }
  return 'fwr4';
}
