// The main thread's side of the hot path: hand a request's bytes to the
// leased version's engine and get the answer's bytes back. The main thread
// only picks the version (model_spec or URL -> lease) and frames HTTP.
import path from 'node:path';

import type { JobOptions } from '../../engine/servable';
import type { Target } from '../../serving/inference';
import { type JobName, jobs } from './jobs';

/** The job module the server's Engine loads on its workers. */
export const JOBS_MODULE = path.join(__dirname, 'jobs.js');

/**
 * How the caller gives up: an AbortSignal, or (cheaper) a CallAbort, whose
 * cancel flag is made on demand: gRPC calls and REST requests both pass
 * one, and REST's deadline still answers on time by racing the run (rest.ts `guarded`).
 */
export type GiveUp = { readonly signal: AbortSignal } | { readonly signal: AbortSignal; readonly cancelFlag: Int32Array };

/**
 * Runs a front-door job on the target's version: on the engine's workers
 * when the servable has an engine (EngineModel.runJob), else (a servable
 * from a custom loader) the same handler here. `transfer`: payload buffers
 * to move to the worker.
 */
export async function runJob<T = Uint8Array>(target: Target, job: JobName, payload: unknown, giveUp: GiveUp, transfer: ArrayBuffer[] = []): Promise<T> {
  const { servable } = target;
  if (servable.runJob) {
    // A cancel flag alone costs a few µs; a signal makes the engine watch it to answer early as well.
    const options: JobOptions = 'cancelFlag' in giveUp ? { cancel: giveUp.cancelFlag, transfer } : { signal: giveUp.signal, transfer };
    return (await servable.runJob(job, payload, options)) as T;
  }
  const result = await jobs[job](servable, payload as never, { signal: giveUp.signal });
  return result.value as T;
}
