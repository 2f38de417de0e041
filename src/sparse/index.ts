/** Sparse attention: Loki and the baselines it is compared with, as variants of the shared attention module. */
export { type H2OOptions, type LokiOptions, type StreamingOptions, type TopKOptions, exactTopK, h2o, loki, lokiRank, streaming } from './variants.js';
