// Messages between the Engine (main thread) and its piscina workers.
import type { LoadOptions, PredictOptions } from './model';
import type { StatusCode } from './errors';
import type { AnyTensor, TensorInput } from './tensor';

export interface PredictTask {
  /** Identifies the model version across threads (see modelKey()). */
  key: string;
  basePath: string;
  load: LoadOptions & { version: number };
  inputs: Record<string, TensorInput>;
  options: Pick<PredictOptions, 'signature' | 'outputs' | 'timeoutMs' | 'validateShapes'>;
  /** Shared cancel flag (SharedArrayBuffer) the main thread sets, when the caller can give up. */
  cancel: Int32Array | undefined;
}

export type PredictReply = { outputs: Record<string, AnyTensor> } | { error: { code: StatusCode; message: string } };

/** Broadcast to every worker of one engine. */
export type EngineBroadcast = { unload: string } | { unloadAll: true };

/** Unique per EngineModel: a worker refuses keys it was told to unload, and a reload gets a new key. */
export function modelKey(basePath: string, load: LoadOptions & { version: number }, serial: number): string {
  return JSON.stringify([serial, basePath, load.version, load.tags ?? null, load.session ?? null, load.batching ?? null]);
}

export function channelName(engineId: string): string {
  return `tfserve-engine-${engineId}`;
}
