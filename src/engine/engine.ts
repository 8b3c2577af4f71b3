import os from 'node:os';
import path from 'node:path';
import { BroadcastChannel } from 'node:worker_threads';
import { randomUUID } from 'node:crypto';

import { Piscina } from 'piscina';

import { callerLimited, newSharedFlag } from './cancellation';
import { JobOutbox } from './job-outbox';
import { type JobModule, cancelBound, jobHandler, loadJobModule } from './engine-jobs';
import { type EngineBroadcast, type JobReply, type JobTask, type ModelLocation, type PredictReply, type PredictTask, channelName } from './engine-protocol';
import { TfServeError, invalidArgument } from './errors';
import { type LoadOptions, Model, type PredictOptions } from './model';
import type { ResolvedVersion } from './model-dir';
import type { Device, NativeBatchingStats } from './native';
import type { JobOptions, JobTicket, Servable } from './servable';
import type { Signature } from './signatures';
import { type AnyTensor, type TensorInput, ownedBuffers } from './tensor';

export interface EngineOptions {
  /**
   * Worker threads that decode, validate and encode tensors and call the
   * addon. 0 does that work on the main thread (TensorFlow still runs off
   * it). Default: CPU cores - 2, at most 4 (so 0 on a 2-core machine, where
   * workers would only take cores from TensorFlow).
   */
  workers?: number;
  /**
   * Absolute path of a job module (engine-jobs.ts): jobs that
   * EngineModel.runJob() runs on the workers (or, with no workers, on the
   * main thread). The server passes its front doors' request jobs.
   */
  jobs?: string;
}

/**
 * Serves models through a piscina worker pool. Each model version is loaded
 * once per process: the main thread and every worker share its session and
 * its batcher.
 */
export class Engine {
  private readonly pool: Piscina | null;
  private readonly channel: BroadcastChannel;
  private readonly models = new Set<EngineModel>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;
  private loads = 0;
  private readonly jobModule: JobModule | null;
  private readonly outbox: JobOutbox | null;
  /** @internal identifies this engine's unload broadcasts on every thread */
  readonly engineId = randomUUID();

  private constructor(
    readonly workers: number,
    /** @internal the job module's path */
    readonly jobs: string | undefined,
  ) {
    // Loaded here too when there are workers: a module that does not load fails create(), not a request.
    this.jobModule = jobs === undefined ? null : loadJobModule(jobs);
    const { engineId } = this;
    this.channel = new BroadcastChannel(channelName(engineId));
    this.channel.unref();
    this.pool =
      workers === 0
        ? null
        : new Piscina({
            filename: path.join(__dirname, 'engine-worker.js'),
            minThreads: workers,
            maxThreads: workers,
            idleTimeout: Number.POSITIVE_INFINITY,
            // A worker awaits the batcher, not the CPU: let it hold many requests at once.
            concurrentTasksPerWorker: 256,
            workerData: { engineId, jobs },
          });
    this.outbox = this.pool === null ? null : new JobOutbox(this.pool);
  }

  static async create(options: EngineOptions = {}): Promise<Engine> {
    const workers = options.workers ?? Math.max(0, Math.min(4, os.availableParallelism() - 2));
    if (!Number.isInteger(workers) || workers < 0) throw new RangeError(`workers must be a non-negative integer, got ${workers}`);
    if (options.jobs !== undefined && !path.isAbsolute(options.jobs)) throw new RangeError(`jobs must be an absolute path, got ${options.jobs}`);
    return new Engine(workers, options.jobs);
  }

  /** Loads one version of the SavedModel under basePath (highest by default). */
  async load(basePath: string, options: LoadOptions = {}): Promise<EngineModel> {
    if (this.closed) throw new TfServeError('FAILED_PRECONDITION', 'the engine is closed');
    const model = await Model.load(basePath, options);
    if (this.closed) {
      await model.unload();
      throw new TfServeError('FAILED_PRECONDITION', 'the engine is closed');
    }
    const engineModel = new EngineModel(this, model, ++this.loads, options);
    this.models.add(engineModel);
    return engineModel;
  }

  /** Finishes in-flight predictions, then unloads every model and stops the workers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
    await Promise.all([...this.models].map((m) => m.unload()));
    this.broadcast({ unloadAll: true });
    this.channel.close();
    await this.pool?.destroy();
  }

  /** @internal the pool's worker threads (tests terminate one to check recovery). */
  get threads(): readonly import('node:worker_threads').Worker[] {
    return this.pool?.threads ?? [];
  }

  /** @internal */
  run(model: EngineModel, inputs: Record<string, TensorInput>, options: EnginePredictOptions): Promise<Record<string, AnyTensor>> {
    if (this.closed) return Promise.reject(new TfServeError('FAILED_PRECONDITION', 'the engine is closed'));
    return this.track(this.pool === null ? model.local.predict(inputs, options) : this.runInPool(this.pool, model, inputs, options));
  }

  /** Counts a run in flight until it settles (close() waits for them). */
  private track<T>(answered: Promise<T>): Promise<T> {
    this.inFlight.add(answered);
    const forget = () => this.inFlight.delete(answered);
    answered.then(forget, forget);
    return answered;
  }

  private runInPool(pool: Piscina, model: EngineModel, inputs: Record<string, TensorInput>, options: EnginePredictOptions): Promise<Record<string, AnyTensor>> {
    const transferList = options.transferInputs ? inputBuffers(inputs) : undefined;
    return callerLimited(options, (cancel) => {
      const task: PredictTask = {
        ...model.taskBase,
        kind: 'predict',
        inputs,
        options: { signature: options.signature, outputs: options.outputs, timeoutMs: options.timeoutMs, validateShapes: options.validateShapes },
        cancel,
      };
      return pool.run(task, { transferList }).then((reply: PredictReply) => {
        if ('error' in reply) throw new TfServeError(reply.error.code, reply.error.message);
        return reply.outputs;
      }, workerFailure);
    });
  }

  /** @internal */
  runJob(model: EngineModel, job: string, payload: unknown, options: JobOptions): Promise<unknown> {
    if (this.closed) return Promise.reject(new TfServeError('FAILED_PRECONDITION', 'the engine is closed'));
    let handler;
    try {
      handler = jobHandler(this.jobModule, job);
    } catch (error) {
      return Promise.reject(error);
    }
    const { outbox } = this;
    const given = options.cancel;
    if (given && (options.signal !== undefined || options.timeoutMs !== undefined)) {
      return Promise.reject(invalidArgument('runJob takes a cancel flag or a signal and timeout, not both'));
    }
    // With the caller's own cancel flag there is nothing to watch here: the flag goes along as the run's token.
    const limited = <T>(work: (token: Int32Array | undefined) => Promise<T>): Promise<T> => (given ? work(given) : callerLimited(options, work));
    const answered =
      outbox === null
        ? // The same handler, on this thread, on a servable whose predict() reads the token.
          limited((token) => handler(token ? cancelBound(model.local, token) : model, payload as never, { signal: options.signal }).then((result) => result.value))
        : limited((cancel) => {
            const task: JobTask = { ...model.taskBase, kind: 'job', job, payload, cancel };
            return outbox.send(task, options.transfer).then((reply: JobReply) => {
              if ('error' in reply) throw new TfServeError(reply.error.code, reply.error.message);
              return reply.value;
            }, workerFailure);
          });
    return this.track(answered);
  }

  /** @internal */
  forget(model: EngineModel): void {
    this.models.delete(model);
    Atomics.store(model.unloadedFlag, 0, 1);
    this.broadcast({ unload: model.key });
  }

  private broadcast(message: EngineBroadcast): void {
    this.channel.postMessage(message);
  }
}

function workerFailure(error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  // Inputs that cannot be cloned to a worker (functions, symbols) are the caller's to fix.
  if (error instanceof Error && error.name === 'DataCloneError') throw new TfServeError('INVALID_ARGUMENT', `inputs cannot be sent to a worker thread: ${message}`);
  throw new TfServeError('UNAVAILABLE', `the worker thread running this request failed: ${message}`);
}

/**
 * Whole, unshared ArrayBuffers behind the inputs (typed arrays, and the two
 * buffers of PackedStrings): these can move to a worker instead of being
 * copied. SharedArrayBuffers are shared with the worker anyway.
 */
function inputBuffers(inputs: Record<string, TensorInput>): ArrayBuffer[] {
  if (typeof inputs !== 'object' || inputs === null) return [];
  return ownedBuffers(Object.values(inputs).map((input) => input?.data));
}

export interface EnginePredictOptions extends PredictOptions {
  /**
   * Move the inputs' ArrayBuffers to the worker instead of copying them; the
   * caller's typed arrays are detached afterwards. Only views that cover
   * their whole buffer are moved.
   */
  transferInputs?: boolean;
}

/** A model version served by an Engine. */
export class EngineModel implements Servable {
  /** @internal set once unloaded; workers read it */
  readonly unloadedFlag = newSharedFlag();
  /** @internal where the version is on disk, for workers to open it */
  readonly found: ResolvedVersion;
  /** @internal what every task on this version carries (built once) */
  readonly taskBase: Omit<PredictTask, 'kind' | 'inputs' | 'options' | 'cancel'>;

  constructor(
    private readonly engine: Engine,
    /** @internal the main thread's own handle */
    readonly local: Model,
    /** @internal */
    readonly key: number,
    /** @internal */
    readonly loadOptions: LoadOptions,
  ) {
    this.found = { version: local.version, exportDir: local.exportDir, versions: [...local.versions] };
    const location: ModelLocation = { basePath: local.basePath, version: this.found, load: loadOptions };
    this.taskBase = { key, location: JSON.stringify(location), unloaded: this.unloadedFlag };
  }

  get name(): string {
    return this.local.name;
  }
  get basePath(): string {
    return this.local.basePath;
  }
  get version(): number {
    return this.local.version;
  }
  get versions(): readonly number[] {
    return this.local.versions;
  }
  get exportDir(): string {
    return this.local.exportDir;
  }
  get signatures(): Readonly<Record<string, Signature>> {
    return this.local.signatures;
  }
  get signatureDefMap(): Uint8Array {
    return this.local.signatureDefMap;
  }
  /** The devices the shared session sees; every worker runs on the same session. */
  get devices(): readonly Device[] {
    return this.local.devices;
  }
  get sessionConfig(): Uint8Array {
    return this.local.sessionConfig;
  }

  /** Like Model.predict, with the work done on the engine's worker threads. */
  predict(inputs: Record<string, TensorInput>, options: EnginePredictOptions = {}): Promise<Record<string, AnyTensor>> {
    if (!this.local.loaded) return Promise.reject(new TfServeError('FAILED_PRECONDITION', `${this.name} version ${this.version} was unloaded`));
    if (typeof options !== 'object' || options === null) return Promise.reject(invalidArgument(`predict options must be an object, got ${options === null ? 'null' : typeof options}`));
    return this.engine.run(this, inputs, options);
  }

  /**
   * Runs a job of the engine's job module (EngineOptions.jobs) on this
   * version, on a worker thread: the payload goes over (transferred where
   * options.transfer says), the job's value comes back.
   */
  runJob(job: string, payload: unknown, options: JobOptions = {}): Promise<unknown> {
    if (!this.local.loaded) return Promise.reject(new TfServeError('FAILED_PRECONDITION', `${this.name} version ${this.version} was unloaded`));
    return this.engine.runJob(this, job, payload, options);
  }

  /**
   * What lets another thread run the engine's jobs on this version itself
   * (engine-protocol.ts JobTicket; thread-models.ts runJobHere), or null when
   * the engine has no job module. Valid while the caller holds the version.
   */
  jobTicket(): JobTicket | null {
    const { jobs, engineId } = this.engine;
    if (jobs === undefined || !this.local.loaded) return null;
    return { ...this.taskBase, engineId, jobs };
  }

  batchingStats(): NativeBatchingStats[] {
    return this.local.batchingStats();
  }

  /** Unloads this version on every thread; the session closes once no run holds it. */
  async unload(): Promise<void> {
    if (!this.local.loaded) return;
    this.engine.forget(this);
    await this.local.unload();
  }
}
