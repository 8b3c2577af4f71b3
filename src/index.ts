export { loadModel, Model, DEFAULT_SIGNATURE, type LoadOptions, type PredictOptions } from './engine/model';
export { listVersions } from './engine/model-dir';
export type { SessionOptions } from './engine/session-options';
export type { Signature, TensorSpec } from './engine/signatures';
export { type Tensor, type AnyTensor, type TensorInput, type PlainValues, type PackedStrings, packStrings, MAX_RANK } from './engine/tensor';
export { type DType, type DTypeData, DTYPES } from './engine/dtypes';
export { TfServeError, type StatusCode } from './engine/errors';
export { toFloat16Bits, fromFloat16Bits, toBfloat16Bits, fromBfloat16Bits } from './engine/half';
export { native as addon } from './engine/native';
export { loadOpLibraries, type OpLibrary } from './engine/op-libraries';

import { native } from './engine/native';

/** Version of the libtensorflow the addon runs. */
export function tensorflowVersion(): string {
  return native.tfVersion();
}
export type { Servable, ServableLoader } from './engine/servable';
export { Engine, EngineModel, type EngineOptions, type EnginePredictOptions } from './engine/engine';
export type { BatchingOptions } from './engine/batching-options';
export type { NativeBatchingStats as BatchingStats, Device } from './engine/native';
