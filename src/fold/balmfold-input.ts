/**
 * What BALMFold reads for one Fv: per residue the frozen BALM embedding of its chain, its residue
 * type, chain, index within the chain and BALM (IMGT) position id, and the template baseline's
 * backbone frame and spread at its IMGT position — the frame BALMFold starts from and corrects.
 * The training export (`models/train/prepare-fold-data.ts`) and prediction both build their inputs
 * here, so the network sees the same thing in both.
 */
import type { NumberedResidue } from '../antibody/number.js';
import type { Balm } from '../balm/balm.js';
import { MAX_LENGTH, positionId } from '../balm/tokenizer.js';
import { backboneFrames } from './atoms.js';
import type { BaselineTemplates } from './baseline-model.js';
import { templateModel, type TemplateChainInput, type TemplateModel } from './baseline.js';
import { restypeIndex } from './residue-constants.js';
import { BadInputError } from '../runtime/errors.js';

/** Inputs of the BALMFold graph for n residues (chains in order, heavy first). */
export interface BalmFoldInputs {
  n: number;
  /** BALM hidden size d. */
  hidden: number;
  /** Residue type 0..19 [n]. */
  aatype: BigInt64Array;
  /** 0 heavy, 1 light [n]. */
  chain: BigInt64Array;
  /** Index of the residue within its chain [n]. */
  residueIndex: BigInt64Array;
  /** BALM position id of the residue's IMGT number (1..139) [n]. */
  imgtPosition: BigInt64Array;
  /** Frozen BALM last hidden state of each residue [n, d]. */
  features: Float32Array;
  /** Template backbone frames [n, 12] ([R | t] row-major, Å). */
  templateFrames: Float32Array;
  /** Template spread (its predicted error, Å) [n]. */
  templateError: Float32Array;
  /** First residue of each chain. */
  chainStarts: number[];
  /** The template model itself (atoms and sources), for fallbacks and reports. */
  template: TemplateModel;
}

/**
 * BALMFold's inputs for numbered chains (each `H` or `L`, heavy first). Throws a RangeError naming
 * the chain when a residue cannot be built or a chain is longer than BALM reads.
 */
export async function balmFoldInputs(templates: BaselineTemplates, balm: Balm, chains: readonly TemplateChainInput[]): Promise<BalmFoldInputs> {
  for (const c of chains) {
    if (c.residues.length > MAX_LENGTH - 2) throw new BadInputError(`chain ${c.id}: ${c.residues.length} residues in the variable domain; BALM reads at most ${MAX_LENGTH - 2}`);
  }
  const template = templateModel(templates, chains);
  const n = template.atoms.aatype.length;
  const embeddings = await balm.embed(chains.map((c) => ({ sequence: c.residues.map((r) => r.aa).join(''), numbering: c.residues.map((r) => r.imgt) })));
  const d = balm.hiddenSize;
  const out: BalmFoldInputs = {
    n,
    hidden: d,
    aatype: new BigInt64Array(n),
    chain: new BigInt64Array(n),
    residueIndex: new BigInt64Array(n),
    imgtPosition: new BigInt64Array(n),
    features: new Float32Array(n * d),
    templateFrames: Float32Array.from(backboneFrames(template.atoms)),
    templateError: Float32Array.from(template.errors),
    chainStarts: template.chainStarts,
    template,
  };
  chains.forEach((c, k) => {
    const start = template.chainStarts[k];
    out.features.set(embeddings[k].perResidue, start * d);
    c.residues.forEach((r: NumberedResidue, j) => {
      const i = start + j;
      out.aatype[i] = BigInt(restypeIndex(r.aa));
      out.chain[i] = c.id === 'H' ? 0n : 1n;
      out.residueIndex[i] = BigInt(j);
      out.imgtPosition[i] = BigInt(positionId(r.imgt));
    });
  });
  return out;
}
