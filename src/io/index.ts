/**
 * balmkit I/O: the host tensor type and weight readers (safetensors, PyTorch checkpoints without
 * Python, Hugging Face folders).
 */
export {
  TENSOR_DTYPES,
  allocTensorData,
  bf16ToF32,
  bytesPerElement,
  f16ToF32,
  f32ToBf16,
  f32ToF16,
  hostTensor,
  isTensorDType,
  numel,
  sameShape,
  tensorBytes,
  toFloat32,
  transposed,
  type HostTensor,
  type NamedTensors,
  type TensorData,
  type TensorDType,
} from './tensor.js';
export { readSafetensors, readSafetensorsHeader, serializeSafetensors, writeSafetensors, type SafetensorsEntry, type SafetensorsFile, type SafetensorsHeader } from './safetensors.js';
export { isHostTensor, readTorchCheckpoint, readTorchStateDict, type CheckpointValue, type ReadTorchCheckpointOptions, type ReadTorchStateDictOptions, type TorchCheckpoint } from './torch.js';
export { PickleGlobal, PickleRefusedError } from './pickle.js';
export { detectWeightFormat, readWeights, weightFiles, type ReadWeightsOptions, type WeightFormat } from './weights.js';
export { memorySource, openFileSource, type ByteSource } from './zip.js';
export * from './structure.js';
export * from './pdb.js';
export { decompressByName, readTextMaybeCompressed } from './compressed.js';
export * from './mmcif.js';
