/**
 * The JSON that `balmkit number --json` writes, as a zod schema: later tools and scripts parse
 * it with {@link numberOutputSchema} instead of guessing its shape.
 */
import { z } from 'zod';

import { isOgrdbPlaceholder } from './germline.js';
import type { NumberedDomain } from './number.js';

/**
 * The closest germline gene of a domain: a fact about similarity, not a lineage call.
 * `placeholder` marks an OGRDB label for a gene IUIS has not named (`IGHJ0-SCNX*00`).
 */
const geneSchema = z.object({ name: z.string(), species: z.string(), identity: z.number().min(0).max(1), compared: z.number().int(), placeholder: z.boolean().optional() }).nullable();

/** One numbered domain of one record. */
export const numberedChainSchema = z.object({
  /** FASTA record the chain came from. */
  record: z.string(),
  /** The chain class the input said (`X_H`, `--heavy`…), or null. */
  given: z.enum(['heavy', 'light']).nullable(),
  chainType: z.enum(['H', 'K', 'L']),
  species: z.string(),
  /** Alignment score, bits. */
  score: z.number(),
  /** 0-based inclusive residue indices of the domain in the record, and the record's length. */
  start: z.number().int().min(0),
  end: z.number().int().min(0),
  length: z.number().int().min(1),
  vGene: geneSchema,
  jGene: geneSchema,
  /** Residues in sequence order; region under the scheme's own CDR definition. */
  residues: z.array(
    z.object({
      aa: z.string().length(1),
      number: z.number().int(),
      insertion: z.string(),
      region: z.enum(['fwr1', 'cdr1', 'fwr2', 'cdr2', 'fwr3', 'cdr3', 'fwr4']),
    }),
  ),
});

/** The whole `--json` document. */
export const numberOutputSchema = z.object({
  scheme: z.enum(['imgt', 'chothia', 'kabat']),
  /** Antibodies (paired records) or single records with at least one numbered domain. */
  records: z.array(
    z.object({
      name: z.string(),
      /** How a pair's chains came together (src/antibody/pairing.ts). */
      pairedBy: z.enum(['name', 'id', 'row', 'options']).optional(),
      /** Why a record stands alone. */
      unpaired: z.string().optional(),
      chains: z.array(numberedChainSchema),
    }),
  ),
  /** Chains that failed: which record and chain, a machine-readable reason, the message. */
  errors: z.array(z.object({ record: z.string(), chain: z.enum(['heavy', 'light']).nullable(), reason: z.string(), message: z.string() })),
});

/** One chain of {@link NumberOutput}. */
export type NumberedChainJson = z.infer<typeof numberedChainSchema>;
/** The `balmkit number --json` document. */
export type NumberOutput = z.infer<typeof numberOutputSchema>;

/** The JSON form of a numbered domain (residues as `{aa, number, insertion, region}`). */
function geneJson(g: NumberedDomain['vGene']): NumberedChainJson['vGene'] {
  if (g === null) return null;
  return { ...g, ...(isOgrdbPlaceholder(g.name) ? { placeholder: true } : {}) };
}

export function domainToJson(record: string, given: 'heavy' | 'light' | null, d: NumberedDomain, length: number): NumberedChainJson {
  return {
    record,
    given,
    chainType: d.chainType,
    species: d.species,
    score: d.score,
    start: d.start,
    end: d.end,
    length,
    vGene: geneJson(d.vGene),
    jGene: geneJson(d.jGene),
    residues: d.residues.map((r) => ({ aa: r.aa, number: r.number, insertion: r.insertion, region: r.region })),
  };
}
