/**
 * Nucleotide input: recognising DNA/RNA given where protein is expected, and translating it the
 * way balmkit's own data preparation does (models/train/prepare-balm-data.ts on OAS contigs).
 */

/** The standard genetic code, codon (T not U) → one-letter amino acid, `*` for stop. */
const CODONS: ReadonlyMap<string, string> = (() => {
  const bases = 'TCAG';
  const aas = 'FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG';
  const m = new Map<string, string>();
  let i = 0;
  for (const a of bases) for (const b of bases) for (const c of bases) m.set(a + b + c, aas[i++]);
  return m;
})();

/**
 * Whether `seq` reads as DNA or RNA rather than protein: at least 30 letters, ≥ 95% of them
 * A, C, G, T, U or N, with at least three of the four bases present. (A, C, G, T and N are
 * amino-acid letters too, but no antibody chain is made almost only of alanine, cysteine,
 * glycine, threonine and asparagine.)
 */
export function looksLikeNucleotides(seq: string): boolean {
  const letters = seq.replace(/[^A-Za-z]/g, '').toUpperCase();
  if (letters.length < 30 || nucleotideFraction(letters) < 0.95) return false;
  const bases = new Set(letters.replace(/U/g, 'T').replace(/[^ACGT]/g, ''));
  return bases.size >= 3;
}

/** The share of a sequence's letters that are A, C, G, T, U or N (0–1). */
export function nucleotideFraction(seq: string): number {
  const letters = seq.replace(/[^A-Za-z]/g, '');
  return letters.length === 0 ? 0 : letters.replace(/[^ACGTUNacgtun]/g, '').length / letters.length;
}

/**
 * Translates DNA/RNA in the forward frame (of three) with the longest stretch free of stop codons,
 * and returns that stretch: an antibody contig's V(D)J open reading frame. Codons with a letter
 * other than A/C/G/T/U become X.
 */
export function translateLongestOrf(nucleotides: string): string {
  const dna = nucleotides.replace(/\s+/g, '').toUpperCase().replace(/U/g, 'T');
  let best = '';
  for (let frame = 0; frame < 3; frame++) {
    let protein = '';
    for (let i = frame; i + 3 <= dna.length; i += 3) protein += CODONS.get(dna.slice(i, i + 3)) ?? 'X';
    for (const piece of protein.split('*')) if (piece.length > best.length) best = piece;
  }
  return best;
}
