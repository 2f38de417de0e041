/**
 * Consensus sequences of the profiles in a HMMER3 text file (ANARCI's `anarci-ALL.hmm`), for
 * validation only: TCR consensus sequences must be rejected, other species' antibodies numbered.
 */

/** Consensus (most likely residue of each match state) of each profile, by profile NAME. */
export function hmmConsensus(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const alphabet = 'ACDEFGHIKLMNPQRSTVWY';
  for (const block of text.split(/^\/\/\s*$/m)) {
    const name = /^NAME\s+(\S+)/m.exec(block)?.[1];
    if (name === undefined) continue;
    let seq = '';
    for (const line of block.split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f.length >= 22 && /^\d+$/.test(f[0]!)) {
        const scores = f.slice(1, 21).map(Number); // −ln p: the smallest is the likeliest
        seq += alphabet[scores.indexOf(Math.min(...scores))];
      }
    }
    out.set(name, seq);
  }
  return out;
}
