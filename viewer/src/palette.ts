/**
 * The viewer's colours and legends: one table per colouring, used both by the Mol* colour theme
 * and by the legend on the page, so what is drawn is what the legend says.
 */

/** The three colourings. */
export type ColorMode = 'chain' | 'region' | 'error';

/** Every colouring, in the order the page offers them. */
export const COLOR_MODES: readonly ColorMode[] = ['chain', 'region', 'error'];

/** One legend entry. */
export interface LegendEntry {
  label: string;
  /** `#rrggbb` */
  color: string;
  /** For predicted-error bins: the bin is `min ≤ value < max` Å (`max` null: unbounded). */
  min?: number;
  max?: number | null;
}

/** Chains H and L by convention; other chain ids take the following colours in order of appearance. */
export const CHAIN_COLORS: Readonly<Record<string, string>> = { H: '#3a6fb0', L: '#e0a030' };
export const OTHER_CHAIN_COLORS: readonly string[] = ['#59a14f', '#b07aa1', '#76b7b2', '#9c755f', '#ff9da7', '#edc948'];

/** Region colours: heavy-chain CDRs in reds, light-chain CDRs in blues, one framework grey. */
export const REGION_COLORS: Readonly<Record<string, string>> = {
  H1: '#f4a3a8',
  H2: '#e3545c',
  H3: '#a50f15',
  L1: '#a6cbf0',
  L2: '#4a90d9',
  L3: '#08468c',
  framework: '#cfcfcf',
};

/** The CDR names in display order. */
export const CDR_NAMES: readonly string[] = ['H1', 'H2', 'H3', 'L1', 'L2', 'L3'];

/**
 * Predicted-error bins in Å (low is good). Discrete, so a residue's colour says which bin its
 * value is in without reading a gradient.
 */
export const ERROR_BINS: readonly LegendEntry[] = [
  { label: '< 0.5 Å', color: '#1a4fb4', min: 0, max: 0.5 },
  { label: '0.5–1 Å', color: '#6ab4e8', min: 0.5, max: 1 },
  { label: '1–2 Å', color: '#f2d43d', min: 1, max: 2 },
  { label: '2–4 Å', color: '#f07f3c', min: 2, max: 4 },
  { label: '≥ 4 Å', color: '#c4161c', min: 4, max: null },
];

/** Residues with no value for a colouring (no B-factor, a chain absent from the metadata). */
export const NO_DATA_COLOR = '#8a8a8a';

/** Background of the 3D view. */
export const BACKGROUND_COLOR = '#ffffff';

/** The colour of a predicted error in Å. */
export function errorColor(value: number): string {
  if (!Number.isFinite(value)) return NO_DATA_COLOR;
  for (const bin of ERROR_BINS) if (value < (bin.max ?? Infinity)) return bin.color;
  return ERROR_BINS[ERROR_BINS.length - 1].color;
}

/** Colour of each chain id, in the order given (H and L keep theirs). */
export function chainColors(chains: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  let next = 0;
  for (const c of chains) out.set(c, CHAIN_COLORS[c] ?? OTHER_CHAIN_COLORS[next++ % OTHER_CHAIN_COLORS.length]);
  return out;
}

/** `#rrggbb` → 0xrrggbb */
export function hexToInt(hex: string): number {
  return Number.parseInt(hex.slice(1), 16);
}

/** 0xrrggbb → `#rrggbb` */
export function intToHex(value: number): string {
  return `#${value.toString(16).padStart(6, '0')}`;
}
