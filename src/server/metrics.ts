// Prometheus metrics of the server (prom-client, one registry per server).
//
// Where TF Serving has a metric, ours has its name, labels and unit (latency
// in microseconds, like TF Serving's samplers), so that dashboards built for
// tensorflow_model_server keep working. Metrics TF Serving does not export
// are named tfserve_*, in seconds.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

import type { StatusCode } from '../errors';
import type { PredictOptions } from '../model';
import type { Servable, ServableLoader } from '../servable';
import type { TensorInput } from '../tensor';

/** One finished request, from the REST or the gRPC front door. */
export interface RequestRecord {
  /** 'REST' or 'GRPC' (TF Serving's entrypoint label). */
  entrypoint: 'REST' | 'GRPC';
  /** predict, classify, regress, multi_inference, get_model_metadata, get_model_status, ... */
  api: string;
  /** Model name; empty when the request named none or could not be parsed. */
  model: string;
  code: 'OK' | StatusCode;
  seconds: number;
}

/** What grpc.ts reports through its onRequest callback. */
export interface GrpcRequestEvent {
  service: string;
  method: string;
  model: string;
  code: 'OK' | StatusCode;
  seconds: number;
}

/** What the model manager emits as 'load'. */
export interface LoadEvent {
  name: string;
  version: number;
  seconds: number;
  error?: unknown;
}

/** The manager's view the loaded-versions gauge reads at each scrape. */
export interface ManagerView {
  modelNames(): string[];
  status(name: string): ReadonlyArray<{ version: number; state: string }>;
  on(event: 'load', listener: (event: LoadEvent) => void): unknown;
}

// TF Serving's buckets: scale 10, power 1.8, 33 buckets (10 us ... ~20 minutes).
const LATENCY_BUCKETS_US = Array.from({ length: 33 }, (_, i) => 10 * 1.8 ** i);
const LOAD_BUCKETS_S = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** PredictionService.GetModelMetadata -> get_model_metadata */
export function apiLabel(method: string): string {
  return method
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9_]/g, '_')
    .toLowerCase();
}

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requestCount: Counter<'model_name' | 'status'>;
  private readonly requestLatency: Histogram<'model_name' | 'API' | 'entrypoint'>;
  private readonly runtimeLatency: Histogram<'model_name' | 'API' | 'runtime'>;
  private readonly loadLatency: Histogram<'model_name' | 'status'>;
  private managers: ManagerView[] = [];

  constructor(options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.requestCount = new Counter({
      name: ':tensorflow:serving:request_count',
      help: 'The total number of requests.',
      labelNames: ['model_name', 'status'],
      registers,
    });
    this.requestLatency = new Histogram({
      name: ':tensorflow:serving:request_latency',
      help: 'Distribution of wall time (in microseconds) for Tensorflow Serving request.',
      labelNames: ['model_name', 'API', 'entrypoint'],
      buckets: LATENCY_BUCKETS_US,
      registers,
    });
    this.runtimeLatency = new Histogram({
      name: ':tensorflow:serving:runtime_latency',
      help: 'Distribution of wall time (in microseconds) for Tensorflow runtime.',
      labelNames: ['model_name', 'API', 'runtime'],
      buckets: LATENCY_BUCKETS_US,
      registers,
    });
    this.loadLatency = new Histogram({
      name: 'tfserve_model_load_seconds',
      help: 'Time to load one model version (including warmup), by outcome.',
      labelNames: ['model_name', 'status'],
      buckets: LOAD_BUCKETS_S,
      registers,
    });
    const managers = () => this.managers;
    new Gauge({
      name: 'tfserve_loaded_model_versions',
      help: 'Model versions in state AVAILABLE.',
      labelNames: ['model_name'],
      registers,
      collect() {
        this.reset();
        for (const manager of managers()) {
          for (const name of manager.modelNames()) {
            this.set({ model_name: name }, manager.status(name).filter((s) => s.state === 'AVAILABLE').length);
          }
        }
      },
    });
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  recordRequest(record: RequestRecord): void {
    this.requestCount.inc({ model_name: record.model, status: record.code });
    this.requestLatency.observe({ model_name: record.model, API: record.api, entrypoint: record.entrypoint }, record.seconds * 1e6);
  }

  /** The callback to hand grpc.ts as onRequest. */
  grpcRecorder(): (event: GrpcRequestEvent) => void {
    return (event) => this.recordRequest({ entrypoint: 'GRPC', api: apiLabel(event.method), model: event.model, code: event.code, seconds: event.seconds });
  }

  /** Load latency from the manager's 'load' events; loaded versions read from its status at each scrape. */
  observeManager(manager: ManagerView): void {
    this.managers.push(manager);
    manager.on('load', (event) => {
      this.loadLatency.observe({ model_name: event.name, status: event.error ? 'error' : 'ok' }, event.seconds);
    });
  }

  /**
   * Wraps a loader so that every Servable's predict() feeds the runtime
   * latency. `modelNameFor` gives the served name of a base path (the
   * servable's own name is its directory's).
   */
  instrumentLoader(loader: ServableLoader, modelNameFor: (basePath: string) => string | undefined = () => undefined): ServableLoader {
    const runtimeLatency = this.runtimeLatency;
    return async (basePath, options) => {
      const servable = await loader(basePath, options);
      const model = modelNameFor(basePath) ?? servable.name;
      return timedServable(servable, (seconds, api) => runtimeLatency.observe({ model_name: model, API: api, runtime: 'TF1' }, seconds * 1e6));
    };
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  exposition(): Promise<string> {
    return this.registry.metrics();
  }
}

/** The same Servable (a Proxy: every other member passes through) whose predict() reports its wall time. */
function timedServable(servable: Servable, observe: (seconds: number, api: string) => void): Servable {
  const predict = async (inputs: Record<string, TensorInput>, options?: PredictOptions) => {
    const start = process.hrtime.bigint();
    try {
      return await servable.predict(inputs, options);
    } finally {
      const method = servable.signatures[options?.signature ?? 'serving_default']?.methodName ?? '';
      const api = method.startsWith('tensorflow/serving/') ? method.slice('tensorflow/serving/'.length) : 'predict';
      observe(Number(process.hrtime.bigint() - start) / 1e9, api);
    }
  };
  return new Proxy(servable, {
    get(target, property) {
      if (property === 'predict') return predict;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * Where the engine's batcher reports, for registerBatchingMetrics. The
 * depth is read at each scrape; batches and queue waits are pushed by the
 * batcher through the returned recorder.
 */
export interface BatchingMetricsSource {
  /** Requests waiting in the batch queues now, per model. */
  queueDepths(): ReadonlyArray<{ model: string; depth: number }>;
}

export interface BatchingMetricsRecorder {
  /** A batch ran with `size` rows (before padding) of which `padding` were added to reach an allowed size. */
  batch(model: string, size: number, padding: number): void;
  /** One request waited `seconds` in the queue before its batch started. */
  queued(model: string, seconds: number): void;
}

const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
const QUEUE_BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/** Adds the batching metrics to a server's registry; the batcher feeds them through the recorder. */
export function registerBatchingMetrics(metrics: ServerMetrics, source: BatchingMetricsSource): BatchingMetricsRecorder {
  const registers = [metrics.registry];
  const batchSize = new Histogram({
    name: 'tfserve_batch_size',
    help: 'Rows per batch run, before padding.',
    labelNames: ['model_name'],
    buckets: BATCH_SIZE_BUCKETS,
    registers,
  });
  const padding = new Histogram({
    name: 'tfserve_batch_padding_rows',
    help: 'Rows added to a batch to reach an allowed batch size.',
    labelNames: ['model_name'],
    buckets: [0, ...BATCH_SIZE_BUCKETS],
    registers,
  });
  const queueLatency = new Histogram({
    name: 'tfserve_batch_queue_latency_seconds',
    help: 'Time a request waited in the batch queue before its batch started.',
    labelNames: ['model_name'],
    buckets: QUEUE_BUCKETS_S,
    registers,
  });
  new Gauge({
    name: 'tfserve_batch_queue_depth',
    help: 'Requests waiting in the batch queues.',
    labelNames: ['model_name'],
    registers,
    collect() {
      this.reset();
      for (const { model, depth } of source.queueDepths()) this.set({ model_name: model }, depth);
    },
  });
  return {
    batch(model, size, paddingRows) {
      batchSize.observe({ model_name: model }, size);
      padding.observe({ model_name: model }, paddingRows);
    },
    queued(model, seconds) {
      queueLatency.observe({ model_name: model }, seconds);
    },
  };
}
