/**
 * balmkit's public API, one namespace per area:
 * `antibody` (FASTA, numbering, regions), `balm` (the antibody language model), `fold` (geometry,
 * relaxation, structure prediction), `view` (the viewer server), `llm` (causal LMs), `sparse`
 * (Loki and other sparse attention), and the foundation: `onnx` (graph builder), `runtime`
 * (sessions, providers), `io` (weights, structures), `nn` (shared transformer blocks).
 */
export * as antibody from './antibody/index.js';
export * as balm from './balm/index.js';
export * as fold from './fold/index.js';
export * as view from './view/index.js';
export * as llm from './llm/index.js';
export * as sparse from './sparse/index.js';
export * as onnx from './onnx/index.js';
export * as runtime from './runtime/index.js';
export * as io from './io/index.js';
export * as nn from './nn/index.js';
export { number } from './antibody/index.js';
export { Balm } from './balm/index.js';
export { fold as predictStructures } from './fold/index.js';
export { GraphBuilder, GraphError, op, serializeModel } from './onnx/index.js';
export { readWeights, readSafetensors, writeSafetensors, readTorchStateDict } from './io/index.js';
