// Prometheus metrics of the server (prom-client, one registry per server).
//
// Where TF Serving has a metric, ours has its name, labels and unit (latency
// in microseconds, like TF Serving's samplers), so that dashboards built for
// tensorflow_model_server keep working. Metrics TF Serving does not export
// are named tfserve_*, in seconds.
import { Counter, Gauge, Histogram, type Metric, Registry, collectDefaultMetrics } from 'prom-client';

import type { StatusCode } from '../engine/errors';
import { type Device, type NativeBatchingStats, native } from '../engine/native';
import { DEFAULT_SIGNATURE, type PredictOptions } from '../engine/model';
import type { Servable, ServableLoader } from '../engine/servable';
import type { JobOptions } from '../engine/servable';
import { CLASSIFY_METHOD, REGRESS_METHOD } from '../serving/inference';
import type { LoadEvent } from '../serving/model-manager';
import type { TensorInput } from '../engine/tensor';
import type { GrpcRequestInfo } from './grpc';

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
  private manager: ManagerView | null = null;

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
    const observed = () => this.manager;
    new Gauge({
      name: 'tfserve_loaded_model_versions',
      help: 'Model versions in state AVAILABLE.',
      labelNames: ['model_name'],
      registers,
      collect() {
        this.reset();
        const manager = observed();
        if (!manager) return;
        for (const name of manager.modelNames()) {
          this.set({ model_name: name }, manager.status(name).filter((s) => s.state === 'AVAILABLE').length);
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
  grpcRecorder(): (event: GrpcRequestInfo) => void {
    return (event) => this.recordRequest({ entrypoint: 'GRPC', api: apiLabel(event.method), model: event.model, code: event.code, seconds: event.seconds });
  }

  /** Load latency from the manager's 'load' events; loaded versions read from its status at each scrape. */
  observeManager(manager: ManagerView): void {
    this.manager = manager;
    manager.on('load', (event) => {
      this.loadLatency.observe({ model_name: event.name, status: event.error ? 'error' : 'ok' }, event.seconds);
    });
  }

  /** One run timed elsewhere (a front-door thread's Predict, decoding and encoding included, as runJob's below). */
  recordRuntime(model: string, api: string, seconds: number): void {
    this.runtimeLatency.observe({ model_name: model, API: api, runtime: 'TF1' }, seconds * 1e6);
  }

  /** Wraps a loader so that every Servable's predict() feeds the runtime latency, by the name the manager serves it as. */
  instrumentLoader(loader: ServableLoader): ServableLoader {
    const runtimeLatency = this.runtimeLatency;
    return async (basePath, options, name) => {
      const servable = await loader(basePath, options, name);
      return timedServable(servable, (seconds, api) => runtimeLatency.observe({ model_name: name, API: api, runtime: 'TF1' }, seconds * 1e6));
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
      const method = servable.signatures[options?.signature ?? DEFAULT_SIGNATURE]?.methodName;
      const api = method === CLASSIFY_METHOD ? 'classify' : method === REGRESS_METHOD ? 'regress' : 'predict';
      observe(Number(process.hrtime.bigint() - start) / 1e9, api);
    }
  };
  // The hot path's jobs (hot-path/jobs.ts) are Predicts run where the engine
  // runs: timed here as the run, decoding and encoding on the worker included.
  const runJob = servable.runJob
    ? async (job: string, payload: unknown, options?: JobOptions) => {
        const start = process.hrtime.bigint();
        try {
          return await servable.runJob!(job, payload, options);
        } finally {
          observe(Number(process.hrtime.bigint() - start) / 1e9, 'predict');
        }
      }
    : undefined;
  return new Proxy(servable, {
    get(target, property) {
      if (property === 'predict') return predict;
      if (property === 'runJob') return runJob;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Per loaded model version, what its batchers did (cumulative, from the addon). */
export type BatchingStatsSource = () => Iterable<{ model: string; stats: readonly NativeBatchingStats[] }>;

interface CollectedValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/** A metric whose samples are computed at each scrape from the addon's cumulative counters. */
function scrapeTimeMetric(registry: Registry, name: string, help: string, type: 'histogram' | 'gauge' | 'counter', collect: () => CollectedValue[]): void {
  registry.registerMetric({
    name,
    help,
    type,
    aggregator: 'sum',
    get: async () => ({ name, help, type, aggregator: 'sum', values: collect() }),
    reset: () => undefined,
  } as unknown as Metric);
}

/** A Prometheus histogram from per-bucket counts (bucket i = values <= bounds[i], the last = the rest). */
function histogramValues(name: string, model: string, bounds: readonly number[], counts: readonly number[], sum: number): CollectedValue[] {
  const values: CollectedValue[] = [];
  let cumulative = 0;
  bounds.forEach((bound, i) => {
    cumulative += counts[i] ?? 0;
    values.push({ metricName: `${name}_bucket`, labels: { le: bound, model_name: model }, value: cumulative });
  });
  const total = counts.reduce((a, b) => a + b, 0);
  values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf', model_name: model }, value: total });
  values.push({ metricName: `${name}_sum`, labels: { model_name: model }, value: sum });
  values.push({ metricName: `${name}_count`, labels: { model_name: model }, value: total });
  return values;
}

/** Sums the stats of one model's batchers (one per signature / output filter). */
function merge(stats: readonly NativeBatchingStats[]): NativeBatchingStats | null {
  if (stats.length === 0) return null;
  const add = (a: number[], b: number[]) => a.map((v, i) => v + (b[i] ?? 0));
  return stats.reduce((total, s) => ({
    key: total.key,
    batches: total.batches + s.batches,
    requests: total.requests + s.requests,
    rows: total.rows + s.rows,
    paddedRows: total.paddedRows + s.paddedRows,
    queueSeconds: total.queueSeconds + s.queueSeconds,
    queuedRequests: total.queuedRequests + s.queuedRequests,
    sizeBuckets: add(total.sizeBuckets, s.sizeBuckets),
    queueBuckets: add(total.queueBuckets, s.queueBuckets),
  }));
}

/**
 * Batch size and queue latency histograms, queue depth and padding, read
 * from the addon's batchers at each scrape (nothing is recorded per request).
 */
export function registerBatchingMetrics(metrics: ServerMetrics, source: BatchingStatsSource): void {
  const sizeBounds = Array.from({ length: 16 }, (_, i) => 2 ** i);
  const queueBounds = native.queueBucketBounds();
  // The registry asks every metric for its samples in one synchronous pass:
  // the stats are read once for the four metrics, and read afresh next scrape.
  let scraped: Array<{ model: string; stats: NativeBatchingStats }> | null = null;
  const perModel = () => {
    if (scraped) return scraped;
    const merged: Array<{ model: string; stats: NativeBatchingStats }> = [];
    for (const { model, stats } of source()) {
      const total = merge(stats);
      if (total) merged.push({ model, stats: total });
    }
    scraped = merged;
    queueMicrotask(() => (scraped = null));
    return merged;
  };
  scrapeTimeMetric(metrics.registry, 'tfserve_batch_size', 'Rows per batch run, padding included.', 'histogram', () =>
    perModel().flatMap(({ model, stats }) => histogramValues('tfserve_batch_size', model, sizeBounds, stats.sizeBuckets, stats.rows + stats.paddedRows)),
  );
  scrapeTimeMetric(metrics.registry, 'tfserve_batch_queue_latency_seconds', 'Time a request waited in the batch queue before its batch started.', 'histogram', () =>
    perModel().flatMap(({ model, stats }) => histogramValues('tfserve_batch_queue_latency_seconds', model, queueBounds, stats.queueBuckets, stats.queueSeconds)),
  );
  scrapeTimeMetric(metrics.registry, 'tfserve_batch_padding_rows', 'Rows added to batches to reach an allowed batch size.', 'counter', () =>
    perModel().map(({ model, stats }) => ({ labels: { model_name: model }, value: stats.paddedRows })),
  );
  scrapeTimeMetric(metrics.registry, 'tfserve_batch_queue_depth', 'Requests waiting in the batch queues.', 'gauge', () =>
    perModel().map(({ model, stats }) => ({ labels: { model_name: model }, value: stats.queuedRequests })),
  );
}

/** Per loaded model version, the devices its session sees. */
export type DevicesSource = () => Iterable<{ model: string; version: number; devices: readonly Device[] }>;

/**
 * The devices of every loaded version, read at each scrape:
 * tfserve_model_devices (1 per device, an info-style gauge to count or join
 * on) and tfserve_model_device_memory_bytes (TF's memory limit for it; for a
 * GPU, what the session may use of it, for a CPU a nominal figure).
 */
export function registerDeviceMetrics(metrics: ServerMetrics, source: DevicesSource): void {
  const samples = (value: (device: Device) => number) => () => {
    const values: CollectedValue[] = [];
    for (const { model, version, devices } of source()) {
      for (const device of devices) values.push({ labels: { model_name: model, version, device: device.name, device_type: device.type }, value: value(device) });
    }
    return values;
  };
  scrapeTimeMetric(metrics.registry, 'tfserve_model_devices', 'Devices the session of a loaded model version sees (1 per device).', 'gauge', samples(() => 1));
  scrapeTimeMetric(metrics.registry, 'tfserve_model_device_memory_bytes', "TensorFlow's memory limit of each device a loaded model version's session sees.", 'gauge', samples((d) => d.memoryBytes));
}
