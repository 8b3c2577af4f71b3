// tfserve's embedded API, from the compiled package (dist/src): an Engine
// (piscina worker pool), the model loaded three times through it: with
// LATENCY_SESSION for the sequential cells, with TF's default session for the
// large-batch cells, with micro-batching for the concurrency sweep.
//
// Every JS contender exports the same adapter: `open(model)` loads the model
// and returns a session with
//   runtime            what ran (versions, settings), for the report
//   prepare(batch)     builds one request of `batch` examples, outside the timing
//   runner(scenario)   the call to measure in that scenario: request → Promise,
//                      resolved once the outputs are JS arrays
//   outputs(request)   the outputs by alias as plain number arrays, to compare
//                      contenders' answers
//   close()
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { makeInputData } from '../lib/models.mjs';
import { REPO_ROOT } from '../lib/paths.mjs';

const require = createRequire(import.meta.url);
const PACKAGE = path.join(REPO_ROOT, 'dist', 'src', 'index.js');

export const name = 'tfserve';

/**
 * Batching for the sweep, in TF Serving's terms plus tfserve's busy timeout,
 * set as a user serving many concurrent callers on this 2-core machine would:
 * a batch thread per core, each running its batch on one intra-op thread
 * (SWEEP_SESSION), batches of 32 rows so that 64 callers fill both. TF runs
 * two single-threaded batches of 32 side by side at least as fast as one
 * batch of 64 over both cores (tf_loop, interleaved: 7,350-7,840 against
 * 6,675-7,520 ex/s). No batch timeout: an idle model runs a request at once.
 * The busy timeout makes the second thread wait (up to 2 ms, or until the
 * running batch ends) for a full batch instead of starting on the few rows
 * that arrived since the last one began (without it: ~13-22 rows per batch).
 * The cost: at 4-16 callers a batch runs on one core, not two (16 callers:
 * ~20-30% fewer ex/s than one batch thread over TF's whole pool); see
 * docs/benchmarks.md, issue 10.
 */
export const SWEEP_BATCHING = { maxBatchSize: 32, batchTimeoutMicros: 0, busyBatchTimeoutMicros: 2000, maxEnqueuedBatches: 64, numBatchThreads: 2 };

/**
 * The session for sequential batch-1 calls: one intra-op thread. A batch-1
 * CNN run is too small to gain from splitting its matmul across cores, and
 * handing half of it to a pool thread costs a wake-up and a spin (CNN p50
 * 1.03-1.38x onnxruntime-node's with it, 1.8-1.96x without, side by side on
 * the shared 2-core machine; docs/benchmarks.md). `--tfserve-session` replaces it.
 */
export const LATENCY_SESSION = { intraOpThreads: 1 };

/** The sweep's session: one intra-op thread, so each batch thread's run stays on its own core. */
export const SWEEP_SESSION = { intraOpThreads: 1 };

function loadPackage() {
  if (!fs.existsSync(PACKAGE)) throw new Error(`${PACKAGE} is missing: build tfserve first (npm run build)`);
  return require(PACKAGE);
}

function workerCount() {
  const value = process.env.TFSERVE_BENCH_WORKERS;
  return value === undefined ? undefined : Number(value);
}

/** Graph tensor names of the serving signature, which the native loop feeds and fetches. */
export async function describe(model) {
  const tfserve = loadPackage();
  const loaded = await tfserve.loadModel(model.basePath, { version: model.version });
  try {
    const signature = loaded.signatures.serving_default;
    const input = signature.inputs[model.input];
    if (!input) throw new Error(`${model.id}: serving_default has no input '${model.input}'`);
    const aliases = Object.keys(signature.outputs).sort();
    return { inputTensor: input.name, outputTensors: aliases.map((alias) => signature.outputs[alias].name) };
  } finally {
    await loaded.unload();
  }
}

export async function open(model) {
  const tfserve = loadPackage();
  const engine = await tfserve.Engine.create({ workers: workerCount() });
  const latencySession = process.env.TFSERVE_BENCH_SESSION ? JSON.parse(process.env.TFSERVE_BENCH_SESSION) : LATENCY_SESSION;
  const single = await engine.load(model.basePath, { version: model.version, session: latencySession });
  const plain = await engine.load(model.basePath, { version: model.version });
  const batched = await engine.load(model.basePath, { version: model.version, session: SWEEP_SESSION, batching: SWEEP_BATCHING });
  const singleRun = (request) => single.predict(request);
  const plainRun = (request) => plain.predict(request);
  const batchedRun = (request) => batched.predict(request);
  return {
    runtime: {
      api: 'Engine.create().load().predict()',
      tensorflow: tfserve.tensorflowVersion(),
      workers: engine.workers,
      sweepBatching: SWEEP_BATCHING,
      sweepSession: SWEEP_SESSION,
      latencySession,
      uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
    },
    prepare(batch) {
      return {
        [model.input]: { dtype: 'float32', shape: [batch, ...model.exampleShape], data: makeInputData(model, batch) },
      };
    },
    runner(scenario) {
      return scenario === 'sweep' ? batchedRun : scenario === 'latency' ? singleRun : plainRun;
    },
    async outputs(request) {
      const out = await plain.predict(request);
      return Object.fromEntries(Object.entries(out).map(([alias, t]) => [alias, Array.from(t.data, Number)]));
    },
    close() {
      return engine.close();
    },
  };
}
