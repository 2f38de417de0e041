/**
 * Sequence validation: every problem named by record, chain and residue position, with the fix.
 */
import { isResidueLetter } from './alphabet.js';
import { looksLikeNucleotides, nucleotideFraction } from './translate.js';

/** Where a sequence came from, for messages: `record '1abc_H', H chain`. */
export interface SequenceSource {
  /** FASTA record name (or `--heavy`, `argument`…). */
  record?: string;
  /** Chain label the user gave, e.g. `H`, `L`. */
  chain?: string;
}

/** Longest chain accepted: a full-length heavy chain is ~450 residues, bispecific chains ~700. */
export const MAX_CHAIN_LENGTH = 2000;

/** One problem with a sequence; `position` is 1-based. */
export interface SequenceProblem {
  position?: number;
  message: string;
}

/** Describes `source` for messages: `record 'x', H chain`. */
export function describeSource(source: SequenceSource): string {
  const parts: string[] = [];
  if (source.record !== undefined) parts.push(`record '${source.record}'`);
  if (source.chain !== undefined) parts.push(`${source.chain} chain`);
  return parts.length > 0 ? parts.join(', ') : 'sequence';
}

/**
 * A sequence that cannot be numbered as given (bad letters, empty, over-long), or a chain that is
 * not what it was given as. `problems` lists each one.
 */
export class SequenceError extends Error {
  readonly source: SequenceSource;
  readonly problems: SequenceProblem[];
  /** A short machine-readable reason, e.g. `invalid-residue`, `empty`, `too-long`, `wrong-chain`. */
  readonly reason: string;
  constructor(source: SequenceSource, reason: string, problems: SequenceProblem[]) {
    const shown = problems.slice(0, 5).map((p) => (p.position !== undefined ? `residue ${p.position}: ${p.message}` : p.message));
    const more = problems.length > 5 ? `; and ${problems.length - 5} more` : '';
    super(`${describeSource(source)}, ${shown.join('; ')}${more}`);
    this.name = 'SequenceError';
    this.source = source;
    this.problems = problems;
    this.reason = reason;
  }
}

/** Options of {@link cleanSequence}. */
export interface CleanOptions {
  /** Longest accepted sequence (default {@link MAX_CHAIN_LENGTH}). */
  maxLength?: number;
  /**
   * Whether X (an unknown residue) is accepted (default true). Structure prediction cannot build
   * an unknown residue, so it passes false, and the hints then do not suggest X.
   */
  allowUnknown?: boolean;
}

/**
 * Normalizes a protein sequence (whitespace removed, upper case, one trailing stop `*` dropped)
 * and checks it: only the 20 standard one-letter codes (and X unless `allowUnknown` is false), not
 * DNA/RNA, not empty, at most `maxLength`.
 *
 * @throws {@link SequenceError} naming every bad residue (`invalid-residue`), or the whole
 *   sequence: `nucleotide`, `empty`, `too-long`.
 */
export function cleanSequence(raw: string, source: SequenceSource = {}, options: CleanOptions = {}): string {
  const maxLength = options.maxLength ?? MAX_CHAIN_LENGTH;
  const allowUnknown = options.allowUnknown ?? true;
  const seq = raw.replace(/\s+/g, '').replace(/\*$/, '').toUpperCase();
  if (seq.length === 0) throw new SequenceError(source, 'empty', [{ message: "the sequence is empty: give the chain's residues (one-letter codes)" }]);
  if (looksLikeNucleotides(seq)) {
    const pct = Math.round(nucleotideFraction(seq) * 100);
    throw new SequenceError(source, 'nucleotide', [
      {
        message:
          `this looks like DNA/RNA (${pct}% of its ${seq.length} letters are A, C, G, T/U or N), not a protein: translate it ` +
          "first (the CLI's --translate takes the reading frame with the longest stretch free of stop codons)",
      },
    ]);
  }
  const unknownHint = allowUnknown ? ', or X if unknown' : '';
  const problems: SequenceProblem[] = [];
  for (let i = 0; i < seq.length; i++) {
    const c = seq[i];
    if (c === 'X' && !allowUnknown) {
      problems.push({ position: i + 1, message: "'X' (an unknown residue) cannot be built into a structure: give the residue's one-letter code" });
      continue;
    }
    if (isResidueLetter(c)) continue;
    const what =
      c === '-' || c === '.'
        ? `'${c}' is an alignment gap, not an amino acid: remove gaps from the sequence`
        : c === '*'
          ? `'*' is a stop codon inside the sequence: translate only the open reading frame`
          : /[BZJUO]/.test(c)
            ? `'${c}' is not one of the 20 standard amino acids: replace it by the residue${unknownHint}`
            : `'${raw.trim()[i] ?? c}' is not an amino acid: use one-letter codes${allowUnknown ? ' (X for unknown)' : ''}`;
    problems.push({ position: i + 1, message: what });
  }
  if (problems.length > 0) throw new SequenceError(source, 'invalid-residue', problems);
  if (seq.length > maxLength) {
    throw new SequenceError(source, 'too-long', [{ message: `${seq.length} residues is longer than the ${maxLength} accepted for one chain: split the record into its chains` }]);
  }
  return seq;
}
