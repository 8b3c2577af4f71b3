// Jobs: code a front door runs next to a model version on the engine's
// threads, so that a whole request (decode its bytes, validate, run, encode
// the answer) happens where the engine's work happens, off the main thread.
//
// The engine does not know what a job does: the layer above gives
// Engine.create() the path of a module that exports `jobs`, and every
// worker loads it at start (the main thread loads it too when the engine
// has no workers, so a job runs the same code wherever it runs). The path is
// data, not an import, so imports still run one way (server -> serving ->
// engine).
import { TfServeError } from './errors';
import type { Model } from './model';
import type { PredictOptions, Servable } from './servable';
import type { AnyTensor, TensorInput } from './tensor';

/** A job's answer and the buffers in it that may move to the main thread instead of being copied. */
export interface JobResult {
  value: unknown;
  transfer?: ArrayBuffer[];
}

export interface JobContext {
  /** Aborts when the caller gives up (on the main thread; in a worker the servable's predict reads the request's cancel flag instead). */
  signal?: AbortSignal;
}

/**
 * Runs one job on `servable`, the version the main thread resolved. In a
 * worker, `servable` is the worker's own handle on the shared session.
 * Throw TfServeError for the caller's status code.
 */
export type JobHandler = (servable: Servable, payload: never, context: JobContext) => Promise<JobResult>;

export interface JobModule {
  jobs: Readonly<Record<string, JobHandler>>;
}


const loaded = new Map<string, JobModule>();

/** Loads (once per thread) the job module at `file`. */
export function loadJobModule(file: string): JobModule {
  let module = loaded.get(file);
  if (!module) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const exported = require(file) as Partial<JobModule>;
    if (typeof exported.jobs !== 'object' || exported.jobs === null) throw new TypeError(`${file} does not export a jobs table`);
    module = { jobs: exported.jobs };
    loaded.set(file, module);
  }
  return module;
}

/** The handler for `name` (own keys only), or a clear error. */
export function jobHandler(module: JobModule | null, name: string): JobHandler {
  const handler = module && Object.hasOwn(module.jobs, name) ? module.jobs[name] : undefined;
  if (typeof handler !== 'function') throw new TfServeError('UNIMPLEMENTED', `the engine has no job '${name}'`);
  return handler;
}

/**
 * A worker's Model as the Servable a job sees: its predict() runs with the
 * request's cancel flag, which the main thread sets when the caller gives
 * up (deadlines and aborts are the main thread's to watch).
 */
export function cancelBound(model: Model, cancel: Int32Array | undefined): Servable {
  return {
    name: model.name,
    version: model.version,
    exportDir: model.exportDir,
    signatures: model.signatures,
    signatureDefMap: model.signatureDefMap,
    devices: model.devices,
    predict: (inputs: Record<string, TensorInput>, options: PredictOptions = {}): Promise<Record<string, AnyTensor>> => model.predictWithToken(inputs, { ...options, signal: undefined, timeoutMs: undefined }, cancel),
    unload: () => Promise.reject(new TfServeError('FAILED_PRECONDITION', 'a job cannot unload its model')),
    batchingStats: () => model.batchingStats(),
  };
}
