/** BALM, the antibody language model whose positions are IMGT numbers. */
export { Balm, type BalmLoadOptions, type BalmOutput, type ChainEmbedding, type ChainScore, type Infill, type NumberedChain } from './balm.js';
export { type EsmConfig, EsmConfigSchema, parseEsmConfig } from './config.js';
export { type BalmGraphOptions, balmWeights, buildBalmGraph, encoderConfigOf } from './model.js';
export { EOS_POSITION, ESM_VOCAB, type EncodedBatch, type EncodedChain, type ImgtPosition, MAX_LENGTH, TOKEN, encodeChain, padBatch, positionId, residueToken } from './tokenizer.js';
