/** balmkit's ONNX graph builder: typed IR with build-time shape inference, op helpers, serialization. */
export { type DType, dtypeCode, dtypeFromCode, isFloat, isInteger } from './dtype.js';
export {
  type Attr,
  type Attrs,
  type Dim,
  type GraphOptions,
  type NodeOptions,
  type Shape,
  type TensorBytes,
  type TensorInit,
  GraphBuilder,
  GraphError,
  MS_DOMAIN,
  Value,
  attr,
  formatShape,
} from './graph.js';
export { broadcastShapes, isKnownOp, registerOp } from './shapes.js';
export * as op from './ops.js';
export { type ModelSummary, type SerializeOptions, describeModel, serializeModel } from './serialize.js';
