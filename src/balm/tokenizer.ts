/**
 * BALM's inputs: the ESM-2 vocabulary (33 tokens) and position ids made from IMGT numbering, as
 * the official `ba_position_embedding.py` makes them (see models/reference/balm.py for the list
 * of behaviours and where they come from).
 */

/** ESM-2's vocabulary in id order. */
export const ESM_VOCAB = [
  '<cls>',
  '<pad>',
  '<eos>',
  '<unk>',
  'L',
  'A',
  'G',
  'V',
  'S',
  'E',
  'R',
  'T',
  'I',
  'D',
  'P',
  'K',
  'Q',
  'N',
  'F',
  'Y',
  'M',
  'H',
  'W',
  'C',
  'X',
  'B',
  'U',
  'Z',
  'O',
  '.',
  '-',
  '<null_1>',
  '<mask>',
] as const;

export const TOKEN = { cls: 0, pad: 1, eos: 2, unk: 3, mask: 32 } as const;

/** Longest input: `<cls>` + 166 residues + `<eos>`. */
export const MAX_LENGTH = 168;
/** Position id of `<eos>` and of every padding slot. */
export const EOS_POSITION = 140;

const TOKEN_IDS = new Map<string, number>(ESM_VOCAB.map((t, i) => [t, i]));

/** The token id of one residue letter (`<unk>` for letters outside the vocabulary). */
export function residueToken(aa: string): number {
  return TOKEN_IDS.get(aa) ?? TOKEN.unk;
}

/** An IMGT position: number and insertion code (`' '` or `''` for none). */
export interface ImgtPosition {
  number: number;
  insertion: string;
}

const CDR3_111: Record<string, number> = { A: 129, B: 130, C: 131, D: 132, E: 133 };
const CDR3_112: Record<string, number> = { F: 134, E: 135, D: 136, C: 137, B: 138, A: 139 };

/**
 * BALM's position id for an IMGT position: the number itself without insertion code; the base
 * number for insertions below 111; 111A–E → 129–133 (further 111 insertions 133); 112F…112A →
 * 134…139 (further 112 insertions 134).
 */
export function positionId(p: ImgtPosition): number {
  const ins = p.insertion.trim();
  if (!ins) return p.number;
  if (p.number === 111) return CDR3_111[ins] ?? 133;
  if (p.number === 112) return CDR3_112[ins] ?? 134;
  if (p.number < 111) return p.number;
  throw new Error(`IMGT position ${p.number}${ins} has an insertion code where IMGT allows none`);
}

/** One chain ready for BALM: ids and position ids of equal length (≤ 168), `<cls>` … `<eos>`. */
export interface EncodedChain {
  inputIds: number[];
  positionIds: number[];
}

/**
 * Tokens and position ids for a numbered chain. `masked` lists residue indices to replace by
 * `<mask>` (for infilling and pseudo-likelihood). Chains longer than 166 residues are truncated
 * as the official tokenizer does (`<eos>` kept last, with position id 140).
 */
export function encodeChain(sequence: string, numbering: readonly ImgtPosition[], masked: readonly number[] = []): EncodedChain {
  if (sequence.length !== numbering.length) {
    throw new Error(`sequence has ${sequence.length} residues but numbering has ${numbering.length} positions`);
  }
  const residues = [...sequence].map(residueToken);
  for (const i of masked) {
    if (i < 0 || i >= residues.length) throw new Error(`masked index ${i} is outside the chain (0…${residues.length - 1})`);
    residues[i] = TOKEN.mask;
  }
  const keep = Math.min(residues.length, MAX_LENGTH - 2);
  return {
    inputIds: [TOKEN.cls, ...residues.slice(0, keep), TOKEN.eos],
    positionIds: [0, ...numbering.slice(0, keep).map(positionId), EOS_POSITION],
  };
}

/** A padded batch: int64 data in row-major [batch, length]. */
export interface EncodedBatch {
  batch: number;
  length: number;
  inputIds: BigInt64Array;
  positionIds: BigInt64Array;
  attentionMask: BigInt64Array;
}

/** Pad chains to the longest (padding: `<pad>` tokens, position id 140, mask 0). */
export function padBatch(chains: readonly EncodedChain[]): EncodedBatch {
  const length = Math.max(...chains.map((c) => c.inputIds.length));
  const n = chains.length * length;
  const inputIds = new BigInt64Array(n).fill(BigInt(TOKEN.pad));
  const positionIds = new BigInt64Array(n).fill(BigInt(EOS_POSITION));
  const attentionMask = new BigInt64Array(n);
  chains.forEach((c, b) => {
    c.inputIds.forEach((t, i) => {
      inputIds[b * length + i] = BigInt(t);
      positionIds[b * length + i] = BigInt(c.positionIds[i]);
      attentionMask[b * length + i] = 1n;
    });
  });
  return { batch: chains.length, length, inputIds, positionIds, attentionMask };
}
