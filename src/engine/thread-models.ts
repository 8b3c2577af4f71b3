// A thread's own handles on an engine's model versions, for the threads
// that run engine work away from the main thread: the engine's piscina
// workers (engine-worker.ts) and any thread the layer above runs jobs on
// (runJobHere: the server's front-door threads). Each handle is opened on
// the version's shared session the first time the thread sees its key,
// from the location the task carries, and dropped when the engine
// broadcasts the version's unload.
import { BroadcastChannel } from 'node:worker_threads';

import { cancelBound, jobHandler, loadJobModule, type JobResult } from './engine-jobs';
import { type EngineBroadcast, type ModelLocation, channelName } from './engine-protocol';
import { TfServeError } from './errors';
import { Model } from './model';
import type { JobTicket } from './servable';

/** What identifies a version on any thread (every engine task carries it). */
export type VersionRef = Pick<JobTicket, 'key' | 'location' | 'unloaded'>;

export class ThreadModels {
  private readonly models = new Map<number, Promise<Model>>();
  private readonly channel: BroadcastChannel;

  constructor(engineId: string) {
    this.channel = new BroadcastChannel(channelName(engineId));
    this.channel.unref();
    this.channel.onmessage = (event) => {
      const message = (event as unknown as { data: EngineBroadcast }).data;
      if ('unload' in message) void this.unload(message.unload);
      else for (const key of [...this.models.keys()]) void this.unload(key);
    };
  }

  private unload(key: number): Promise<void> {
    const model = this.models.get(key);
    this.models.delete(key);
    return model ? model.then((m) => m.unload(), () => undefined) : Promise.resolve();
  }

  /** Drops every handle and stops listening for broadcasts. */
  async close(): Promise<void> {
    this.channel.close();
    await Promise.all([...this.models.keys()].map((key) => this.unload(key)));
  }

  /** This thread's handle on the version, opened on first use. */
  async modelFor(ref: VersionRef): Promise<Model> {
    // Requests can still be queued after their model was unloaded (their
    // callers were answered early): they must not load it again.
    if (isUnloaded(ref)) throw new TfServeError('FAILED_PRECONDITION', 'the model was unloaded');
    let model = this.models.get(ref.key);
    if (!model) {
      const { basePath, version, load } = JSON.parse(ref.location) as ModelLocation;
      model = Model.open(basePath, version, load);
      this.models.set(ref.key, model);
      model.catch(() => this.models.delete(ref.key));
    }
    const loaded = await model;
    // Unloaded while this load ran, and this thread may have missed the broadcast.
    if (isUnloaded(ref)) {
      this.unload(ref.key);
      throw new TfServeError('FAILED_PRECONDITION', 'the model was unloaded');
    }
    return loaded;
  }
}

function isUnloaded(ref: VersionRef): boolean {
  return Atomics.load(ref.unloaded, 0) !== 0;
}

const byEngine = new Map<string, ThreadModels>();

/** This thread's handles on the versions of engine `engineId`. */
export function threadModels(engineId: string): ThreadModels {
  let models = byEngine.get(engineId);
  if (!models) {
    models = new ThreadModels(engineId);
    byEngine.set(engineId, models);
  }
  return models;
}

/** Drops this thread's handles on every engine's versions (a thread that ends: its sessions close once no run holds them). */
export async function closeThreadModels(): Promise<void> {
  const all = [...byEngine.values()];
  byEngine.clear();
  await Promise.all(all.map((models) => models.close()));
}

/**
 * Runs job `job` of the ticket's job module on the ticket's version, on the
 * calling thread (not the main thread: its handle is the EngineModel's own).
 * `cancel` is the caller's shared cancel flag: a run that has not started
 * when it is set never starts.
 */
export async function runJobHere(ticket: JobTicket, job: string, payload: unknown, cancel: Int32Array | undefined): Promise<JobResult> {
  const handler = jobHandler(loadJobModule(ticket.jobs), job);
  const model = await threadModels(ticket.engineId).modelFor(ticket);
  return handler(cancelBound(model, cancel), payload as never, {});
}
