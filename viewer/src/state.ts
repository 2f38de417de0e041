/**
 * The page's state for tests and scripts: `window.balmkitViewer`. It is the one contract between
 * the page and what drives it (the end-to-end test, `balmkit view --screenshot`); everything in it
 * is read from what Mol* loaded and draws, not from the page's own bookkeeping.
 */
import type { ColorMode, LegendEntry } from './palette.js';

/** A file the server offers (`/api/files`). */
export interface ServedFile {
  index: number;
  name: string;
  format: 'pdb' | 'mmcif';
  kind: 'prediction' | 'experimental';
}

/** `window.balmkitViewer` */
export interface BalmkitViewerState {
  /** True once the current structure is loaded, coloured and drawn; false while anything changes. */
  ready: boolean;
  /** What went wrong, when something did (the page shows it too). */
  error: string | null;
  /** The files the server offers. */
  files: ServedFile[];
  /** Index of the file shown, or null before the first load. */
  file: number | null;
  /** Atoms Mol* read from the shown file (its first model). */
  atomCount: number;
  /** Gaps in the shown polymer, as Mol* draws them (dashed "missing residue" segments). */
  polymerGaps: number;
  /** Chain ids (author) of the shown file, in file order. */
  chains: string[];
  /** The colouring in use. */
  colorMode: ColorMode;
  /** The colourings this file allows (region needs CDR ranges, error needs a balmkit prediction). */
  availableModes: ColorMode[];
  /** Whether atoms and bonds are drawn over the cartoon. */
  ballAndStick: boolean;
  /** The legend shown for the colouring in use. */
  legend: LegendEntry[];
  /** Background colour of the 3D view, `#rrggbb`. */
  background: string;
  /** The superposition on a reference structure, when one is shown. */
  superposition: {
    reference: number;
    rmsd: number;
    pairs: number;
    /** How residues were paired: IMGT numbering of both structures, or sequence alignment. */
    method: 'numbering' | 'alignment';
    /** The pairing in words ("222 residues paired by IMGT numbering of both structures: H↔H 120 …"). */
    description: string;
  } | null;
  /**
   * The colour Mol*'s colour theme gives a residue of the shown file (its CA atom), `#rrggbb`;
   * null when there is no such residue. `residue` is a number with an optional insertion code
   * (`100`, `'100A'`).
   */
  colorAt(chain: string, residue: string | number): string | null;
  /** Switches the colouring; rejects when the file does not allow it. */
  setColorMode(mode: ColorMode): Promise<void>;
  /** Shows file `index`, optionally superposed on file `reference`. */
  show(index: number, reference?: number | null): Promise<void>;
}

declare global {
  interface Window {
    balmkitViewer: BalmkitViewerState;
  }
}
