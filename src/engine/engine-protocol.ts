// Messages between the Engine (main thread) and its piscina workers.
import type { LoadOptions, PredictOptions } from './servable';
import type { ResolvedVersion } from './model-dir';
import type { StatusCode } from './errors';
import type { AnyTensor, TensorInput } from './tensor';

export interface PredictTask {
  /** Identifies the model version across threads: unique per EngineModel of one engine. */
  key: number;
  /** Where the main thread found the version on disk. */
  basePath: string;
  version: ResolvedVersion;
  load: LoadOptions;
  /** Shared flag the main thread sets when the model is unloaded: queued requests must not load it again. */
  unloaded: Int32Array;
  inputs: Record<string, TensorInput>;
  options: Pick<PredictOptions, 'signature' | 'outputs' | 'timeoutMs' | 'validateShapes'>;
  /** Shared cancel flag the main thread sets, when the caller can give up. */
  cancel: Int32Array | undefined;
}

export type PredictReply = { outputs: Record<string, AnyTensor> } | { error: { code: StatusCode; message: string } };

/** Broadcast to every worker of one engine. */
export type EngineBroadcast = { unload: number } | { unloadAll: true };

export function channelName(engineId: string): string {
  return `tfserve-engine-${engineId}`;
}
