/** Sparse attention: Loki and the baselines it is compared with, as variants of the shared attention module, and Loki's calibration. */
export {
  type H2OOptions,
  type LokiCache,
  type LokiOptions,
  type StreamingOptions,
  type TopKOptions,
  exactTopK,
  h2o,
  loki,
  lokiAttendCached,
  lokiBasis,
  lokiRank,
  streaming,
  topKAttendCached,
} from './variants.js';
export { type CalibrationInfo, type KeyStage, KeyStatistics, type LayerBasis, capturingAttention, fitBases, keyOutputName, rankFor, saveBases } from './calibrate.js';
export { type BalmCalibrationOptions, collectBalmKeys } from './calibrate-balm.js';
export { type RankTable, formatRankTable, rankPlotSvg, rankTable } from './rank.js';
export { SparseTally, type SparseEvalOptions, type SparseEvalResult, basesFor, comparingAttention, evaluateBalmAttention, evaluationAttention, maskedPositions } from './evaluate.js';
export { type DecodePolicy, type LlmCalibrationOptions, type LlmEvalOptions, type LlmEvalResult, budgetedPolicy, collectLlmKeys, evaluateLlmAttention, readTexts } from './llm.js';
