/**
 * balmkit's runtime: onnxruntime sessions from graph bytes on CUDA or the CPU (CUDA → CPU
 * fallback said once on stderr), thread settings, typed tensor helpers, a session cache keyed by
 * graph hash, a disk cache of built and optimized models, and the environment report behind
 * `balmkit doctor`.
 */
export { BadInputError, ExecutionProviderError, ModelError, OptionError } from './errors.js';
export {
  type ExecutionProviderName,
  type ExecutionProviderOption,
  type OrtBackendInfo,
  type ProviderProbe,
  type WarnSink,
  CUDA_INSTALL_COMMAND,
  EP_OPTIONS,
  ProviderResolver,
  cudaProviderFiles,
  defaultProviders,
  ortBackends,
  ortBinFolder,
  ortVersion,
  parseDeviceId,
  resolveEpOption,
  tryProvider,
} from './providers.js';
export { type ThreadSettings, parseThreadCount, resolveThreads } from './threads.js';
export {
  type DimsTensor,
  type FeedTensor,
  type Feeds,
  type OrtDType,
  type OrtDataTypeMap,
  type ReadTensor,
  type TypedData,
  bool,
  float32,
  int32,
  int64,
  isOrtDType,
  isOrtTensor,
  makeTensor,
  readTensor,
  toHostTensor,
  toOrtTensor,
} from './tensor.js';
export { type ResolvedSessionOptions, type Session, type SessionOptions, SessionCache, createSession, graphHash, resolveSessionOptions, sessionCache } from './session.js';
export { type CacheEntryInfo, type CacheOutcome, type CachedSession, type CachedSessionOptions, type ModelBuild, cacheDir, cacheEnabled, cachedSession, clearCache, listCache } from './model-cache.js';
export { type ModelSearchPath, modelSearchPaths, packageRoot, packageVersion } from './paths.js';
export { type DiagnoseOptions, type RuntimeReport, diagnose } from './diagnose.js';
