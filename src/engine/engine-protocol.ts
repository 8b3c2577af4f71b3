// Messages between the Engine (main thread) and its piscina workers.
import type { LoadOptions, PredictOptions } from './servable';
import type { ResolvedVersion } from './model-dir';
import type { StatusCode } from './errors';
import type { AnyTensor, TensorInput } from './tensor';

/** What every task carries: which model version it runs on, and how the main thread can call it off. */
interface TaskBase {
  /** Identifies the model version across threads: unique per EngineModel of one engine. */
  key: number;
  /**
   * A ModelLocation as JSON, which a worker parses only the first time it
   * sees `key`: a string is one copy to send, where the same as objects
   * costs a structured clone of each field on every request.
   */
  location: string;
  /** Shared flag the main thread sets when the model is unloaded: queued requests must not load it again. */
  unloaded: Int32Array;
  /** Shared cancel flag the main thread sets, when the caller can give up. */
  cancel: Int32Array | undefined;
}

/** predict() with tensors. */
export interface PredictTask extends TaskBase {
  kind: 'predict';
  inputs: Record<string, TensorInput>;
  options: Pick<PredictOptions, 'signature' | 'outputs' | 'timeoutMs' | 'validateShapes'>;
}

/** A job of the engine's job module (engine-jobs.ts) on this version: e.g. a front door's request bytes in, answer bytes out. */
export interface JobTask extends TaskBase {
  kind: 'job';
  job: string;
  payload: unknown;
}

/** Jobs sent together (job-outbox.ts); answered with one JobReply per job, in order. */
export interface JobGroupTask {
  kind: 'jobs';
  tasks: JobTask[];
}

export type EngineTask = PredictTask | JobTask;

/** Where the main thread found a version on disk and how it loaded it: what a worker needs to open its own handle. */
export interface ModelLocation {
  basePath: string;
  version: ResolvedVersion;
  load: LoadOptions;
}

export type ReplyError = { error: { code: StatusCode; message: string } };
export type PredictReply = { outputs: Record<string, AnyTensor> } | ReplyError;
export type JobReply = { value: unknown } | ReplyError;

/** Broadcast to every worker of one engine. */
export type EngineBroadcast = { unload: number } | { unloadAll: true };

export function channelName(engineId: string): string {
  return `tfserve-engine-${engineId}`;
}
