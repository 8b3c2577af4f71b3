import type { BatchingOptions } from './batching-options';
import type { CallerLimits } from './cancellation';
import type { Device, NativeBatchingStats } from './native';
import type { SessionOptions } from './session-options';
import type { Signature } from './signatures';
import type { AnyTensor, TensorInput } from './tensor';

export interface LoadOptions {
  /** Version to load; default: the highest numeric version directory. */
  version?: number;
  /** MetaGraphDef tags to load; default ['serve']. */
  tags?: string[];
  session?: SessionOptions;
  /**
   * Batch concurrent predictions (TF Serving's BatchingParameters). Requests
   * from every thread of the process that use the same model, signature,
   * output filter and batching options share one queue. Default: off.
   */
  batching?: BatchingOptions | false;
  /**
   * Op libraries (.so files that register ops and kernels, TF_LoadLibrary) to
   * load before the model, beside TF Text's, which install provides. Ops
   * register process-wide: a library is loaded once per process and stays.
   */
  opLibraries?: string[];
}

export interface PredictOptions extends CallerLimits {
  /** Signature key; default 'serving_default'. */
  signature?: string;
  /** Output aliases to return; default all of the signature's outputs. */
  outputs?: string[];
  /**
   * Hold input shapes to the signature's (default true). TF Serving does not,
   * leaving it to TF's ops: its front doors turn this off.
   */
  validateShapes?: boolean;
}

/**
 * One loaded model version, whatever runs it: `Model` (loadModel) and the
 * engine's pooled, batched models both implement it. The serving layer
 * (src/serving, src/server) depends on this, not on either implementation.
 */
export interface Servable {
  readonly name: string;
  readonly version: number;
  readonly exportDir: string;
  readonly signatures: Readonly<Record<string, Signature>>;
  /** Serialized tensorflow.serving.SignatureDefMap with every signature_def entry, byte for byte. */
  readonly signatureDefMap: Uint8Array;
  /** The devices this version's session sees (TF_SessionListDevices at load). */
  readonly devices: readonly Device[];
  predict(inputs: Record<string, TensorInput>, options?: PredictOptions): Promise<Record<string, AnyTensor>>;
  unload(): Promise<void>;
  /**
   * Runs a job of the engine's job module on this version where the engine
   * runs its work (EngineModel: a worker thread). Absent on servables that
   * have no engine (a plain Model): callers then run the job's handler
   * themselves.
   */
  runJob?(job: string, payload: unknown, options?: JobOptions): Promise<unknown>;
  /**
   * What another thread needs to run those jobs on this version itself
   * (thread-models.ts runJobHere), valid while the caller holds the
   * version; null or absent when jobs can only run through runJob.
   */
  jobTicket?(): JobTicket | null;
  /** What this version's batchers did (empty when it does not batch). */
  batchingStats(): NativeBatchingStats[];
}

/**
 * Loads one version directory of a model as a Servable. `name` is the name
 * the version is served as (a Servable's own name is its directory's).
 */
export type ServableLoader = (basePath: string, options: LoadOptions & { version: number }, name: string) => Promise<Servable>;

/**
 * What a thread outside the engine's pool needs to run a job on a version
 * itself (thread-models.ts runJobHere): the engine's id (its unload
 * broadcasts), its job module, and the version's fields every engine task
 * carries (engine-protocol.ts). Given out by EngineModel.jobTicket() while
 * the caller holds the version (a lease).
 */
export interface JobTicket {
  engineId: string;
  /** Absolute path of the engine's job module. */
  jobs: string;
  key: number;
  /** A ModelLocation as JSON. */
  location: string;
  /** Shared flag set once the version is unloaded. */
  unloaded: Int32Array;
}

/** Per-call options of EngineModel.runJob. */
export interface JobOptions {
  /** Answer DEADLINE_EXCEEDED once this many milliseconds have passed. */
  timeoutMs?: number;
  /** Answer CANCELLED when this aborts; a run that has not started never starts. */
  signal?: AbortSignal;
  /**
   * A shared flag (engine/cancellation.ts newSharedFlag) the caller sets to 1
   * to give up: a run that has not started never starts. Unlike `signal`,
   * the caller is not answered early: for callers that are gone anyway (a
   * cancelled gRPC call), and cheaper per call. Not with signal or timeoutMs.
   */
  cancel?: Int32Array;
  /** Buffers of the payload to move to the worker instead of copying (the caller must not use them afterwards). */
  transfer?: ArrayBuffer[];
}
