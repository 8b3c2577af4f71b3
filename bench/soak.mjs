// Soak: a real `tfserve` server under mixed gRPC and REST load for N minutes,
// good and bad requests, while its RSS and event-loop lag are sampled.
//
//   npm run soak -- --minutes 30 [--grpc-clients 4] [--rest-clients 4] [--bad-share 0.25]
//                   [--sample-seconds 5] [--warmup-seconds S] [--out bench/results/soak-...]
//
// The server is `node dist/src/cli.js` with --enable_batching and a model
// config serving half_plus_two (TF Serving's test model), the seed CNN and the
// `dtypes` fixture (for its string signature). Every good request's answer is
// checked against the known result; every bad one must be refused with a
// client-error status. After the warm-up the RSS samples are fitted by least
// squares; the verdict is whether the slope is under 1 MB/min. See docs/soak.md.
//
// Exit code: 0 when every answer was as expected and the server stayed up,
// 1 otherwise (an unexpected answer: a 5xx other than 503/504, a gRPC error
// code of the server's own failure, a good request answered wrongly; or the
// server died).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import grpc from '@grpc/grpc-js';

import { freePortPair } from '../scripts/free-port.mjs';
import { makeFixtures } from '../scripts/make-fixtures.mjs';
import { FIXTURES_DIR, REPO_ROOT, RESULTS_DIR, TF_SERVING_TESTDATA } from './lib/paths.mjs';
import { percentile } from './lib/stats.mjs';

const { values: opts } = parseArgs({
  options: {
    minutes: { type: 'string', default: '3' },
    'grpc-clients': { type: 'string', default: '4' },
    'rest-clients': { type: 'string', default: '4' },
    'bad-share': { type: 'string', default: '0.25' },
    'sample-seconds': { type: 'string', default: '5' },
    'warmup-seconds': { type: 'string' },
    'half-plus-two': { type: 'string' },
    out: { type: 'string' },
    // Bad-request classes to leave out (comma-separated names, e.g. to run on a tree without the fixes they need).
    skip: { type: 'string', default: '' },
  },
});

const MINUTES = Number(opts.minutes);
const GRPC_CLIENTS = Number(opts['grpc-clients']);
const REST_CLIENTS = Number(opts['rest-clients']);
const BAD_SHARE = Number(opts['bad-share']);
const SAMPLE_MS = Number(opts['sample-seconds']) * 1000;
const DURATION_MS = MINUTES * 60_000;
// The first 20% of the run, at most 2 minutes: allocator pools, V8's heap and
// TF's caches grow to their working size there, and that is not a leak.
const WARMUP_MS = opts['warmup-seconds'] !== undefined ? Number(opts['warmup-seconds']) * 1000 : Math.min(0.2 * DURATION_MS, 120_000);
const SLOPE_LIMIT_MB_PER_MIN = 1;
const PER_REQUEST_DEADLINE_MS = 30_000;

for (const [name, value] of Object.entries({ minutes: MINUTES, 'grpc-clients': GRPC_CLIENTS, 'rest-clients': REST_CLIENTS, 'sample-seconds': SAMPLE_MS })) {
  if (!(value > 0)) throw new Error(`--${name} must be a positive number`);
}
if (!(BAD_SHARE >= 0 && BAD_SHARE <= 1)) throw new Error('--bad-share must be in [0, 1]');
if (!(WARMUP_MS >= 0 && WARMUP_MS < DURATION_MS)) throw new Error('--warmup-seconds must be shorter than the run');

const dist = (p) => path.join(REPO_ROOT, 'dist', 'src', p);
const { servingType } = await import(dist('serving/protos.js'));
const PredictRequest = servingType('tensorflow.serving.PredictRequest');
const PredictResponse = servingType('tensorflow.serving.PredictResponse');

// ---------------------------------------------------------------- models

function findHalfPlusTwo() {
  const candidates = [opts['half-plus-two'], path.join(TF_SERVING_TESTDATA, 'saved_model_half_plus_two_cpu')];
  const found = candidates.find((dir) => dir && fs.existsSync(dir));
  if (!found) throw new Error(`half_plus_two not found (tried ${candidates.filter(Boolean).join(', ')}); pass --half-plus-two DIR`);
  return found;
}

// The project's own fixture step: a fresh clone has none yet (cached when it has).
await makeFixtures({ only: ['gaofei_cnn', 'dtypes'] });
const MODELS = {
  half: findHalfPlusTwo(),
  cnn: path.join(FIXTURES_DIR, 'gaofei_cnn'),
  dtypes: path.join(FIXTURES_DIR, 'dtypes'),
};
for (const [name, dir] of Object.entries(MODELS)) {
  if (!fs.existsSync(dir)) throw new Error(`model '${name}' not found at ${dir}`);
}
const reference = JSON.parse(fs.readFileSync(path.join(MODELS.cnn, 'reference.json'), 'utf8'));

// ---------------------------------------------------------------- server

async function startServer(dir) {
  const config = path.join(dir, 'models.config');
  fs.writeFileSync(
    config,
    `model_config_list {\n${Object.entries(MODELS)
      .map(([name, base]) => `  config { name: "${name}" base_path: "${base}" model_platform: "tensorflow" }\n`)
      .join('')}}\n`,
  );
  const batching = path.join(dir, 'batching.config');
  fs.writeFileSync(batching, 'max_batch_size { value: 32 }\nbatch_timeout_micros { value: 2000 }\nnum_batch_threads { value: 2 }\nmax_enqueued_batches { value: 256 }\n');
  const monitoring = path.join(dir, 'monitoring.config');
  fs.writeFileSync(monitoring, 'prometheus_config { enable: true path: "/metrics" }\n');
  const [grpcPort, restPort] = await freePortPair();
  const child = spawn(
    process.execPath,
    [
      dist('cli.js'),
      `--port=${grpcPort}`,
      `--rest_api_port=${restPort}`,
      '--bind_address=127.0.0.1',
      `--model_config_file=${config}`,
      '--enable_batching',
      `--batching_parameters_file=${batching}`,
      `--monitoring_config_file=${monitoring}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  // Whatever ends the soak (an error, Ctrl-C, a CI job's SIGTERM), its server goes with it.
  process.once('exit', () => child.kill('SIGKILL'));
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130));
  const server = { child, grpcPort, restPort, output: () => output, exited: null };
  child.once('exit', (code, signal) => {
    server.exited = { code, signal };
  });
  const started = Date.now();
  while (Date.now() - started < 120_000) {
    if (server.exited) throw new Error(`tfserve exited (${JSON.stringify(server.exited)}) before it was ready:\n${output}`);
    const ready = await restRequest(server, 'GET', '/readyz').catch(() => null);
    if (ready?.status === 200) return server;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`tfserve not ready after 120 s:\n${output}`);
}

async function stopServer(server) {
  if (server.exited) return;
  const exited = once(server.child, 'exit');
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

function rssMb(pid) {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}

// ---------------------------------------------------------------- clients

const agent = new http.Agent({ keepAlive: true, maxSockets: REST_CLIENTS + 2 });

function restRequest(server, method, urlPath, body) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(body);
    const req = http.request(
      { host: '127.0.0.1', port: server.restPort, method, path: urlPath, agent, timeout: PER_REQUEST_DEADLINE_MS, headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {} },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer in ${PER_REQUEST_DEADLINE_MS} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

function grpcPredict(client, bytes) {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      '/tensorflow.serving.PredictionService/Predict',
      (b) => b,
      (b) => b,
      bytes,
      { deadline: Date.now() + PER_REQUEST_DEADLINE_MS },
      (error, response) => resolve(error ? { code: error.code, details: error.details } : { code: grpc.status.OK, response }),
    );
  });
}

// ---------------------------------------------------------------- requests

const close = (a, b, tolerance = 1e-4) => Math.abs(a - b) <= tolerance * Math.max(1, Math.abs(b));
const argmax = (values) => values.reduce((best, v, i) => (v > values[best] ? i : best), 0);
const encode = (object) => Buffer.from(PredictRequest.encode(PredictRequest.fromObject(object)).finish());
const floatShape = (dims) => ({ dim: dims.map((size) => ({ size })) });

/** Float values of a TensorProto from a response (tensor_content or float_val). */
function floatsOf(tensor) {
  if (tensor?.tensorContent?.length) {
    const bytes = tensor.tensorContent;
    return Array.from(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)));
  }
  return tensor?.floatVal ?? [];
}

function intsOf(tensor) {
  if (tensor?.tensorContent?.length) {
    const bytes = tensor.tensorContent;
    return Array.from(new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)));
  }
  return tensor?.intVal ?? [];
}

const STRINGS = ['abc', 'hello', '', 'tfserve', 'x', 'Soak Test'];
const pick = (list) => list[Math.floor(Math.random() * list.length)];

function randomHalfInputs() {
  return Array.from({ length: 1 + Math.floor(Math.random() * 4) }, () => Math.round(Math.random() * 2000 - 1000) / 8);
}

function randomStrings() {
  return [Array.from({ length: 3 }, () => pick(STRINGS))];
}

// Each good request returns null when the answer is right, else what is wrong.
const GOOD_GRPC = {
  half_plus_two(client) {
    const x = randomHalfInputs();
    return [encode({ modelSpec: { name: 'half' }, inputs: { x: { dtype: 'DT_FLOAT', tensorShape: floatShape([x.length]), floatVal: x } } }), (response) => {
      const y = floatsOf(response.outputs?.y);
      return y.length === x.length && y.every((v, i) => close(v, x[i] / 2 + 2)) ? null : `y = ${JSON.stringify(y)} for x = ${JSON.stringify(x)}`;
    }];
  },
  cnn() {
    const i = Math.floor(Math.random() * reference.images.length);
    const image = Float32Array.from(reference.images[i].flat(Infinity));
    return [encode({ modelSpec: { name: 'cnn', signatureName: 'serving_default' }, inputs: { image: { dtype: 'DT_FLOAT', tensorShape: floatShape([1, 28, 28]), tensorContent: Buffer.from(image.buffer) } } }), (response) => {
      const outputs = Object.values(response.outputs ?? {});
      const probabilities = outputs.map(floatsOf).find((values) => values.length === 10);
      if (!probabilities) return `no 10-class output in ${Object.keys(response.outputs ?? {}).join(', ')}`;
      return argmax(probabilities) === reference.prediction[i] ? null : `image ${i}: class ${argmax(probabilities)}, expected ${reference.prediction[i]}`;
    }];
  },
  strings() {
    const x = randomStrings();
    return [encode({ modelSpec: { name: 'dtypes', signatureName: 'string' }, inputs: { x: { dtype: 'DT_STRING', tensorShape: floatShape([1, 3]), stringVal: x[0].map((s) => Buffer.from(s)) } } }), (response) => {
      const upper = (response.outputs?.upper?.stringVal ?? []).map((b) => Buffer.from(b).toString('utf8'));
      const length = intsOf(response.outputs?.length);
      const want = x[0];
      if (upper.join('\0') !== want.map((s) => s.toUpperCase()).join('\0')) return `upper = ${JSON.stringify(upper)} for ${JSON.stringify(want)}`;
      return length.join(',') === want.map((s) => Buffer.byteLength(s)).join(',') ? null : `length = ${JSON.stringify(length)} for ${JSON.stringify(want)}`;
    }];
  },
};

const GOOD_REST = {
  half_plus_two() {
    const x = randomHalfInputs();
    return ['/v1/models/half:predict', JSON.stringify({ instances: x }), (body) => {
      const y = body.predictions;
      return Array.isArray(y) && y.length === x.length && y.every((v, i) => close(v, x[i] / 2 + 2)) ? null : `predictions ${JSON.stringify(y)} for ${JSON.stringify(x)}`;
    }];
  },
  cnn() {
    const i = Math.floor(Math.random() * reference.images.length);
    return ['/v1/models/cnn:predict', JSON.stringify({ inputs: { image: [reference.images[i]] } }), (body) => {
      const outputs = body.outputs;
      const probabilities = (Array.isArray(outputs) ? [outputs] : Object.values(outputs ?? {})).map((v) => v.flat(Infinity)).find((v) => v.length === 10);
      if (!probabilities) return `no 10-class output in ${JSON.stringify(body).slice(0, 200)}`;
      return argmax(probabilities) === reference.prediction[i] ? null : `image ${i}: class ${argmax(probabilities)}, expected ${reference.prediction[i]}`;
    }];
  },
  strings() {
    const x = randomStrings();
    return ['/v1/models/dtypes:predict', JSON.stringify({ signature_name: 'string', inputs: { x } }), (body) => {
      const upper = body.outputs?.upper?.flat();
      const length = body.outputs?.length?.flat();
      if (JSON.stringify(upper) !== JSON.stringify(x[0].map((s) => s.toUpperCase()))) return `upper = ${JSON.stringify(upper)} for ${JSON.stringify(x)}`;
      return JSON.stringify(length) === JSON.stringify(x[0].map((s) => Buffer.byteLength(s))) ? null : `length = ${JSON.stringify(length)} for ${JSON.stringify(x)}`;
    }];
  },
};

// Bad requests: each must be refused with a client error.
const nested = (depth) => '['.repeat(depth) + '1' + ']'.repeat(depth);
const BAD_GRPC = {
  wrong_dtype: () => encode({ modelSpec: { name: 'half' }, inputs: { x: { dtype: 'DT_STRING', tensorShape: floatShape([2]), stringVal: [Buffer.from('a'), Buffer.from('b')] } } }),
  wrong_shape: () => encode({ modelSpec: { name: 'cnn' }, inputs: { image: { dtype: 'DT_FLOAT', tensorShape: floatShape([1, 28, 27]), tensorContent: Buffer.alloc(28 * 27 * 4) } } }),
  content_size_mismatch: () => encode({ modelSpec: { name: 'cnn' }, inputs: { image: { dtype: 'DT_FLOAT', tensorShape: floatShape([1, 28, 28]), tensorContent: Buffer.alloc(100) } } }),
  unknown_model: () => encode({ modelSpec: { name: 'no_such_model' }, inputs: { x: { dtype: 'DT_FLOAT', tensorShape: floatShape([1]), floatVal: [1] } } }),
  unknown_signature: () => encode({ modelSpec: { name: 'half', signatureName: pick(['nope', '__proto__', 'constructor']) }, inputs: { x: { dtype: 'DT_FLOAT', tensorShape: floatShape([1]), floatVal: [1] } } }),
  unknown_input: () => encode({ modelSpec: { name: 'half' }, inputs: { not_x: { dtype: 'DT_FLOAT', tensorShape: floatShape([1]), floatVal: [1] } } }),
  oversized_broadcast: () => encode({ modelSpec: { name: 'half' }, inputs: { x: { dtype: 'DT_FLOAT', tensorShape: floatShape([5592405, 3]), floatVal: [1] } } }),
  huge_rank: () => encode({ modelSpec: { name: 'half' }, inputs: { x: { dtype: 'DT_FLOAT', tensorShape: floatShape(Array(300).fill(1)), floatVal: [1] } } }),
  overflowing_shape: () => encode({ modelSpec: { name: 'half' }, inputs: { x: { dtype: 'DT_FLOAT', tensorShape: floatShape([2 ** 40, 2 ** 40, 0]) } } }),
  too_many_strings: () => encode({ modelSpec: { name: 'dtypes', signatureName: 'string' }, inputs: { x: { dtype: 'DT_STRING', tensorShape: floatShape([1, 3]), stringVal: Array(5000).fill(Buffer.alloc(0)) } } }),
};
const BAD_REST = {
  wrong_dtype: () => ['/v1/models/half:predict', JSON.stringify({ instances: ['a', 'b'] })],
  wrong_shape: () => ['/v1/models/cnn:predict', JSON.stringify({ instances: [[1, 2, 3]] })],
  ragged: () => ['/v1/models/half:predict', JSON.stringify({ inputs: { x: [[1, 2], [3]] } })],
  unknown_model: () => ['/v1/models/no_such_model:predict', JSON.stringify({ instances: [1] })],
  unknown_signature: () => ['/v1/models/half:predict', JSON.stringify({ signature_name: pick(['nope', '__proto__', 'constructor', 'toString']), instances: [1] })],
  malformed_json: () => ['/v1/models/half:predict', pick(['{"instances": [1, 2', '{instances: [1]}', '', 'null', '{"instances": [1,]}', '\u0000\u0001'])],
  deep_nesting: () => ['/v1/models/half:predict', `{"instances": ${nested(pick([256, 1000, 100_000]))}}`],
  long_number: () => ['/v1/models/half:predict', `{"instances": [${'9'.repeat(100_000)}]}`],
  out_of_range_float: () => ['/v1/models/half:predict', `{"instances": [${pick(['1e400', '-1e400'])}]}`],
  bad_method: () => ['/v1/models/half:nosuchverb', JSON.stringify({ instances: [1] })],
};

const SKIP = new Set(opts.skip.split(',').filter(Boolean));
for (const name of SKIP) {
  if (!(name in BAD_GRPC) && !(name in BAD_REST)) throw new Error(`--skip: no bad-request class '${name}' (classes: ${[...new Set([...Object.keys(BAD_GRPC), ...Object.keys(BAD_REST)])].join(', ')})`);
}
const badGrpc = Object.entries(BAD_GRPC).filter(([name]) => !SKIP.has(name));
const badRest = Object.entries(BAD_REST).filter(([name]) => !SKIP.has(name));

// gRPC codes that mean "the request was refused" (its fault) or "not now" (overload).
const GRPC_REFUSED = new Set([grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND, grpc.status.FAILED_PRECONDITION, grpc.status.OUT_OF_RANGE, grpc.status.RESOURCE_EXHAUSTED, grpc.status.UNIMPLEMENTED]);
const GRPC_OVERLOAD = new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]);
const GRPC_NAMES = Object.fromEntries(Object.entries(grpc.status).map(([name, code]) => [code, name]));

// ---------------------------------------------------------------- bookkeeping

const counts = new Map(); // "GRPC good OK" -> n
const unexpected = [];
const healthz = [];
function count(door, kind, status) {
  const key = `${door}\t${kind}\t${status}`;
  counts.set(key, (counts.get(key) ?? 0) + 1);
}
function fail(door, what, detail) {
  count(door, 'unexpected', what);
  if (unexpected.length < 50) unexpected.push({ at: new Date().toISOString(), door, what, detail: String(detail).slice(0, 500) });
}

async function grpcOnce(client) {
  if (badGrpc.length && Math.random() < BAD_SHARE) {
    const [name, make] = pick(badGrpc);
    const { code, details } = await grpcPredict(client, make());
    const status = GRPC_NAMES[code] ?? String(code);
    count('GRPC', 'bad', status);
    if (!GRPC_REFUSED.has(code) && !GRPC_OVERLOAD.has(code)) fail('GRPC', `bad ${name} -> ${status}`, details ?? 'answered OK');
    return;
  }
  const [name, make] = pick(Object.entries(GOOD_GRPC));
  const [bytes, check] = make();
  const { code, details, response } = await grpcPredict(client, bytes);
  const status = GRPC_NAMES[code] ?? String(code);
  count('GRPC', 'good', status);
  if (GRPC_OVERLOAD.has(code)) return;
  if (code !== grpc.status.OK) return fail('GRPC', `good ${name} -> ${status}`, details);
  const wrong = check(PredictResponse.decode(response));
  if (wrong) fail('GRPC', `good ${name} answered wrongly`, wrong);
}

async function restOnce(server) {
  if (badRest.length && Math.random() < BAD_SHARE) {
    const [name, make] = pick(badRest);
    const [urlPath, body] = make();
    const { status, body: text } = await restRequest(server, 'POST', urlPath, body);
    count('REST', 'bad', status);
    if (!(status >= 400 && status < 500) && status !== 503 && status !== 504) fail('REST', `bad ${name} -> ${status}`, text);
    return;
  }
  const [name, make] = pick(Object.entries(GOOD_REST));
  const [urlPath, body, check] = make();
  const { status, body: text } = await restRequest(server, 'POST', urlPath, body);
  count('REST', 'good', status);
  if (status === 503 || status === 504) return;
  if (status !== 200) return fail('REST', `good ${name} -> ${status}`, text);
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return fail('REST', `good ${name}: unparsable body`, `${error.message}: ${text.slice(0, 200)}`);
  }
  const wrong = check(parsed);
  if (wrong) fail('REST', `good ${name} answered wrongly`, wrong);
}

/** Runs `once` back to back until the deadline; transport errors count (the server may have died). */
async function loop(door, deadline, once, server) {
  while (Date.now() < deadline && !server.exited) {
    try {
      await once();
    } catch (error) {
      if (server.exited) return;
      fail(door, 'transport error', error.message);
    }
  }
}

/** Event-loop lag gauges from the server's Prometheus endpoint (prom-client's, reset at each scrape). */
function parseLag(text) {
  const value = (name) => Number(new RegExp(`^${name} ([0-9.eE+-]+)$`, 'm').exec(text)?.[1] ?? NaN) * 1000;
  return { lagMs: value('nodejs_eventloop_lag_seconds'), lagP50Ms: value('nodejs_eventloop_lag_p50_seconds'), lagP99Ms: value('nodejs_eventloop_lag_p99_seconds'), lagMaxMs: value('nodejs_eventloop_lag_max_seconds') };
}

async function sample(server, started) {
  const t = Date.now();
  const healthStart = performance.now();
  const health = await restRequest(server, 'GET', '/healthz').catch((error) => ({ status: 0, body: error.message }));
  const healthzMs = performance.now() - healthStart;
  healthz.push(healthzMs);
  if (health.status !== 200) fail('REST', `/healthz -> ${health.status}`, health.body);
  const metrics = await restRequest(server, 'GET', '/metrics').catch(() => ({ status: 0, body: '' }));
  const totals = { grpc: 0, rest: 0, unexpected: 0 };
  for (const [key, n] of counts) {
    const [door, kind] = key.split('\t');
    if (kind === 'unexpected') totals.unexpected += n;
    else totals[door.toLowerCase()] += n;
  }
  return { seconds: (t - started) / 1000, rssMb: rssMb(server.child.pid), healthzMs, ...parseLag(metrics.body), requestsGrpc: totals.grpc, requestsRest: totals.rest, unexpected: totals.unexpected };
}

/** Least-squares slope of y over x. */
function slope(points) {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.x - mx) * (p.y - my);
    sxx += (p.x - mx) ** 2;
  }
  return sxx === 0 ? NaN : sxy / sxx;
}

const stats = (values) => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.length ? sorted[sorted.length - 1] : NaN };
};
const f1 = (v) => (Number.isFinite(v) ? v.toFixed(1) : 'n/a');
const f2 = (v) => (Number.isFinite(v) ? v.toFixed(2) : 'n/a');

// ---------------------------------------------------------------- run

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfserve-soak-'));
const server = await startServer(dir);
console.log(`[soak] tfserve pid ${server.child.pid}: gRPC 127.0.0.1:${server.grpcPort}, REST 127.0.0.1:${server.restPort}; ${MINUTES} min, ${GRPC_CLIENTS} gRPC + ${REST_CLIENTS} REST clients, ${Math.round(BAD_SHARE * 100)}% bad requests, warm-up ${WARMUP_MS / 1000} s`);

const started = Date.now();
const deadline = started + DURATION_MS;
const samples = [await sample(server, started)];
const sampler = setInterval(async () => {
  if (server.exited) return;
  try {
    const s = await sample(server, started);
    samples.push(s);
    console.log(`[soak] ${f1(s.seconds).padStart(7)} s  rss ${f1(s.rssMb)} MB  healthz ${f1(s.healthzMs)} ms  lag p99 ${f1(s.lagP99Ms)} ms  requests gRPC ${s.requestsGrpc} REST ${s.requestsRest}  unexpected ${s.unexpected}`);
  } catch (error) {
    if (!server.exited) fail('REST', 'sampling failed', error.message);
  }
}, SAMPLE_MS);

const grpcClients = Array.from({ length: GRPC_CLIENTS }, () => new grpc.Client(`127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure()));
await Promise.all([
  ...grpcClients.map((client) => loop('GRPC', deadline, () => grpcOnce(client), server)),
  ...Array.from({ length: REST_CLIENTS }, () => loop('REST', deadline, () => restOnce(server), server)),
]);
clearInterval(sampler);
const died = server.exited;
if (!died) samples.push(await sample(server, started));
for (const client of grpcClients) client.close();
agent.destroy();
await stopServer(server);
fs.rmSync(dir, { recursive: true, force: true });

// ---------------------------------------------------------------- summary

const afterWarmup = samples.filter((s) => s.seconds * 1000 >= WARMUP_MS && Number.isFinite(s.rssMb));
const rssSlope = slope(afterWarmup.map((s) => ({ x: s.seconds / 60, y: s.rssMb })));
const rss = samples.map((s) => s.rssMb).filter(Number.isFinite);
const byDoor = {};
for (const [key, n] of [...counts].sort()) {
  const [door, kind, status] = key.split('\t');
  ((byDoor[door] ??= {})[kind] ??= {})[status] = n;
}
const lagP99 = stats(samples.map((s) => s.lagP99Ms));
const summary = {
  startedAt: new Date(started).toISOString(),
  minutes: (Date.now() - started) / 60_000,
  clients: { grpc: GRPC_CLIENTS, rest: REST_CLIENTS },
  badShare: BAD_SHARE,
  skipped: [...SKIP],
  warmupSeconds: WARMUP_MS / 1000,
  requests: byDoor,
  rssMb: { start: rss[0], afterWarmup: afterWarmup[0]?.rssMb, end: rss[rss.length - 1], max: Math.max(...rss), slopeMbPerMin: rssSlope, fittedSamples: afterWarmup.length },
  // null: too few samples after the warm-up to fit a slope (a run shorter than two sampling intervals past it).
  slopeUnderLimit: Number.isFinite(rssSlope) ? rssSlope < SLOPE_LIMIT_MB_PER_MIN : null,
  eventLoopLagMs: { sampleP50: stats(samples.map((s) => s.lagP50Ms)), intervalP99: lagP99, intervalMax: stats(samples.map((s) => s.lagMaxMs)) },
  healthzMs: stats(healthz),
  serverDied: died ?? null,
  unexpected,
};

const stamp = new Date(started).toISOString().replace(/[:.]/g, '-');
const base = opts.out ?? path.join(RESULTS_DIR, `soak-${stamp}`);
fs.mkdirSync(path.dirname(base), { recursive: true });
fs.writeFileSync(`${base}.json`, `${JSON.stringify({ summary, samples }, null, 2)}\n`);
const columns = Object.keys(samples[0]);
fs.writeFileSync(`${base}.csv`, `${columns.join(',')}\n${samples.map((s) => columns.map((c) => (Number.isFinite(s[c]) ? +s[c].toFixed(3) : '')).join(',')).join('\n')}\n`);

console.log('\n[soak] summary');
console.log(`  duration          ${summary.minutes.toFixed(2)} min (warm-up ${summary.warmupSeconds} s, ${afterWarmup.length} samples fitted)`);
for (const [door, kinds] of Object.entries(byDoor)) {
  for (const [kind, statuses] of Object.entries(kinds)) {
    const total = Object.values(statuses).reduce((a, b) => a + b, 0);
    console.log(`  ${door.padEnd(5)} ${kind.padEnd(11)} ${String(total).padStart(7)}  ${Object.entries(statuses).map(([s, n]) => `${s}: ${n}`).join(', ')}`);
  }
}
console.log(`  RSS               start ${f1(summary.rssMb.start)} MB, after warm-up ${f1(summary.rssMb.afterWarmup)} MB, end ${f1(summary.rssMb.end)} MB, max ${f1(summary.rssMb.max)} MB`);
const verdict = summary.slopeUnderLimit === null ? 'too few samples to judge' : `${summary.slopeUnderLimit ? 'under' : 'NOT under'} ${SLOPE_LIMIT_MB_PER_MIN} MB/min`;
console.log(`  RSS slope         ${f2(rssSlope)} MB/min after warm-up: ${verdict}`);
console.log(`  event-loop lag    per-interval p99: p50 ${f1(lagP99.p50)} ms, p99 ${f1(lagP99.p99)} ms; max ${f1(summary.eventLoopLagMs.intervalMax.max)} ms (server's prom-client gauges)`);
console.log(`  /healthz latency  p50 ${f1(summary.healthzMs.p50)} ms, p99 ${f1(summary.healthzMs.p99)} ms, max ${f1(summary.healthzMs.max)} ms (client side, ${healthz.length} probes)`);
console.log(`  samples           ${base}.json, ${base}.csv`);
if (died) console.log(`  SERVER DIED       ${JSON.stringify(died)}\n${server.output().slice(-3000)}`);
for (const u of unexpected.slice(0, 10)) console.log(`  UNEXPECTED        ${u.door} ${u.what}: ${u.detail}`);
const failed = Boolean(died) || summary.requests.GRPC?.unexpected || summary.requests.REST?.unexpected;
console.log(failed ? '[soak] FAILED' : '[soak] passed: every answer as expected, server up');
process.exit(failed ? 1 : 0);
