/**
 * balmkit's public API, one namespace per layer:
 * `onnx` (graph builder), `runtime` (sessions, providers), `io` (weights), `nn` (shared blocks).
 */
export * as onnx from './onnx/index.js';
export * as runtime from './runtime/index.js';
export * as io from './io/index.js';
export * as nn from './nn/index.js';
export * as antibody from './antibody/index.js';
export * as llm from './llm/index.js';
export { GraphBuilder, GraphError, op, serializeModel } from './onnx/index.js';
export { readWeights, readSafetensors, writeSafetensors, readTorchStateDict } from './io/index.js';
export * as fold from './fold/index.js';
