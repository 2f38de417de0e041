/**
 * Held-out evaluation of a BALM model for its model card, beside a per-IMGT-position amino-acid
 * frequency profile built on the training split.
 *
 *   node --import tsx models/train/evaluate-balm.ts --data /tmp/balm-data.jsonl [--model models/balm-small] [--limit N] [--json]
 *
 * Metrics on the "valid" chains of DATA (written by prepare-balm-data.ts):
 *   masked-token perplexity  15% of residues masked at once per chain (fixed seed, balmkit's
 *                            `maskedPositions`), exp(mean NLL of the true residues there)
 *   pseudo-perplexity        every residue masked in turn, exp(−mean PLL)
 * each overall, on framework (IMGT positions outside 27–38, 56–65, 105–117) and on CDR-H3 (IMGT
 * 105–117 of heavy chains). The profile baseline scores residue r at IMGT position p by
 * log P(r | p) from training-split counts with a pseudocount of 0.5 over the 20 amino acids (its
 * masked and pseudo perplexities coincide: it ignores context).
 */
import { readFileSync } from 'node:fs';
import { Balm, type NumberedChain, encodeChain, residueToken } from '../../src/balm/index.js';
import { maskedPositions } from '../../src/sparse/evaluate.js';
import { logProbability } from '../../src/util/logits.js';

const args = new Map<string, string>();
const flags = new Set<string>();
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i].replace(/^--/, '');
  if (a === 'json') flags.add(a);
  else args.set(a, process.argv[++i]);
}
const DATA = args.get('data') ?? '/tmp/balm-data.jsonl';
const MODEL = args.get('model') ?? new URL('../balm-small', import.meta.url).pathname;
const LIMIT = Number(args.get('limit') ?? Infinity);

interface Row {
  chain: string;
  sequence: string;
  numbering: [number, string][];
  split: string;
}

type Region = 'framework' | 'cdr' | 'cdrh3';
const isCdr = (n: number) => (n >= 27 && n <= 38) || (n >= 56 && n <= 65) || (n >= 105 && n <= 117);
function regionsOf(r: Row, i: number): Region[] {
  const n = r.numbering[i][0];
  if (!isCdr(n)) return ['framework'];
  return r.chain === 'H' && n >= 105 && n <= 117 ? ['cdr', 'cdrh3'] : ['cdr'];
}

class Tally {
  private sums = new Map<string, { nll: number; n: number }>();
  add(keys: readonly string[], nll: number): void {
    for (const k of ['overall', ...keys]) {
      const s = this.sums.get(k) ?? { nll: 0, n: 0 };
      s.nll += nll;
      s.n++;
      this.sums.set(k, s);
    }
  }
  perplexity(k: string): number {
    const s = this.sums.get(k);
    return s ? Math.exp(s.nll / s.n) : NaN;
  }
  count(k: string): number {
    return this.sums.get(k)?.n ?? 0;
  }
}

const AA = 'ACDEFGHIKLMNPQRSTVWY';

async function main(): Promise<void> {
  const rows = readFileSync(DATA, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Row);
  const train = rows.filter((r) => r.split === 'train');
  const valid = rows.filter((r) => r.split === 'valid').slice(0, LIMIT);

  // Profile: counts per (chain class, IMGT position with insertion).
  const counts = new Map<string, Float64Array>();
  const key = (r: Row, i: number) => `${r.chain === 'H' ? 'H' : 'L'}|${r.numbering[i][0]}${r.numbering[i][1].trim()}`;
  for (const r of train)
    for (let i = 0; i < r.sequence.length; i++) {
      const c = counts.get(key(r, i)) ?? new Float64Array(20);
      const a = AA.indexOf(r.sequence[i]);
      if (a >= 0) c[a]++;
      counts.set(key(r, i), c);
    }
  const profile = new Tally();
  for (const r of valid)
    for (let i = 0; i < Math.min(r.sequence.length, 166); i++) {
      const c = counts.get(key(r, i)) ?? new Float64Array(20);
      const a = AA.indexOf(r.sequence[i]);
      if (a < 0) continue;
      const total = c.reduce((x, y) => x + y, 0);
      profile.add(regionsOf(r, i), -Math.log((c[a] + 0.5) / (total + 10)));
    }

  const balm = await Balm.load(MODEL, { ep: 'cpu' });
  const chains: NumberedChain[] = valid.map((r) => ({ sequence: r.sequence, numbering: r.numbering.map(([number, insertion]) => ({ number, insertion })) }));
  const masked = new Tally();
  const v = balm.config.vocab_size;
  for (let start = 0; start < chains.length; start += 32) {
    const part = chains.slice(start, start + 32);
    const masks = part.map((c, k) => maskedPositions(c.sequence.length, start + k));
    const outs = await balm.forward(
      part.map((c, k) => encodeChain(c.sequence, c.numbering, masks[k])),
      32,
    );
    outs.forEach((o, b) => {
      for (const i of masks[b]) {
        masked.add(regionsOf(valid[start + b], i), -logProbability(o.logits.subarray((i + 1) * v, (i + 2) * v), residueToken(part[b].sequence[i])));
      }
    });
  }
  const pseudo = new Tally();
  const scores = await balm.score(chains);
  scores.forEach((s, c) => s.perResidue.forEach((pll, i) => pseudo.add(regionsOf(valid[c], i), -pll)));
  await balm.release();

  const table = (['overall', 'framework', 'cdrh3'] as const).map((k) => ({
    region: k,
    residues: pseudo.count(k),
    balmPseudoPerplexity: pseudo.perplexity(k),
    balmMaskedPerplexity: masked.perplexity(k),
    profilePerplexity: profile.perplexity(k),
    ratio: pseudo.perplexity(k) / profile.perplexity(k),
  }));
  if (flags.has('json')) {
    console.log(JSON.stringify({ model: MODEL, data: DATA, validChains: valid.length, trainChains: train.length, table }, null, 2));
    return;
  }
  console.log(`${MODEL} on ${valid.length} held-out chains (${train.length} training chains for the profile)`);
  console.log('| region | residues | BALM pseudo-perplexity | BALM masked-token perplexity (15%) | profile perplexity | BALM / profile |');
  console.log('|---|---|---|---|---|---|');
  for (const t of table) {
    console.log(`| ${t.region} | ${t.residues} | ${t.balmPseudoPerplexity.toFixed(3)} | ${t.balmMaskedPerplexity.toFixed(3)} | ${t.profilePerplexity.toFixed(3)} | ${t.ratio.toFixed(3)} |`);
  }
}

main().catch((e: unknown) => {
  console.error((e as Error).stack);
  process.exit(1);
});
