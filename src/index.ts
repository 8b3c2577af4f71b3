export { loadModel, Model, DEFAULT_SIGNATURE, type LoadOptions, type PredictOptions } from './model';
export { listVersions } from './model-dir';
export type { SessionOptions } from './session-options';
export type { Signature, TensorSpec } from './signatures';
export type { Tensor, AnyTensor, TensorInput, PlainValues } from './tensor';
export { type DType, type DTypeData, DTYPES } from './dtypes';
export { TfServeError, type StatusCode } from './errors';
export { toFloat16Bits, fromFloat16Bits, toBfloat16Bits, fromBfloat16Bits } from './half';
export { native as addon } from './native';

import { native } from './native';

/** Version of the libtensorflow the addon runs. */
export function tensorflowVersion(): string {
  return native.tfVersion();
}
export type { Servable, ServableLoader } from './servable';
export { Engine, EngineModel, type EngineOptions, type EnginePredictOptions } from './engine';
export type { BatchingOptions } from './batching-options';
export type { NativeBatchingStats as BatchingStats } from './native';
