// startServer from flags: model config file (and its polling), monitoring
// config, gRPC on a UNIX socket next to TCP, metrics from both front doors;
// and `tfserve --demo` (what npm start runs) printing a curl that works.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import * as grpc from '@grpc/grpc-js';

import { type LoadOptions, type Model, loadModel } from '../src';
import { DEFAULT_FLAGS, FlagError, type ServerFlags } from '../src/server/flags';
import { startServer } from '../src/server/server';
import { servingType } from '../src/serving/protos';
import { assertClose, fixture, freePort, spawnCli, tempDir, waitForOutput, waitUntil } from './helpers';
import { get, post } from './rest-helpers';

function modelConfigText(names: string[]): string {
  const entries = names.map((name) => `  config { name: "${name}" base_path: "${fixture('gaofei_cnn')}" model_platform: "tensorflow" }`);
  return `model_config_list {\n${entries.join('\n')}\n}\n`;
}

function grpcStatus(address: string, model: string): Promise<{ error: grpc.ServiceError | null; states: string[] }> {
  const Request = servingType('tensorflow.serving.GetModelStatusRequest');
  const Response = servingType('tensorflow.serving.GetModelStatusResponse');
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      '/tensorflow.serving.ModelService/GetModelStatus',
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from(Request.encode(Request.fromObject({ modelSpec: { name: model } })).finish()),
      (error, response) => {
        client.close();
        const decoded = response ? (Response.toObject(Response.decode(response), { enums: String }) as { modelVersionStatus: Array<{ state: string }> }) : null;
        resolve({ error, states: decoded ? decoded.modelVersionStatus.map((s) => s.state) : [] });
      },
    );
  });
}

test('startServer: config file with polling, monitoring path, gRPC on TCP and a UNIX socket, metrics of both doors', async () => {
  const dir = tempDir('assembly');
  const configFile = path.join(dir, 'models.config');
  const monitoringFile = path.join(dir, 'monitoring.config');
  const socket = path.join(dir, 'grpc.sock');
  fs.writeFileSync(configFile, modelConfigText(['digits']));
  fs.writeFileSync(monitoringFile, 'prometheus_config { enable: true path: "/metrics" }\n');
  const lines: string[] = [];
  const flags: ServerFlags = {
    ...DEFAULT_FLAGS,
    port: 0,
    restApiPort: await freePort(),
    bindAddress: '127.0.0.1',
    modelConfigFile: configFile,
    modelConfigFilePollWaitSeconds: 1,
    fileSystemPollWaitSeconds: 0,
    monitoringConfigFile: monitoringFile,
    grpcSocketPath: socket,
  };
  const server = await startServer(flags, { log: (line) => lines.push(line) });
  try {
    await server.loaded;
    const rest = server.restPort!;
    assert.ok(lines.some((l) => /Running gRPC ModelServer at 127\.0\.0\.1:\d+/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => l === `Running gRPC ModelServer at unix:${socket} ...`), lines.join('\n'));
    assert.match((await get(rest, '/v1/models/digits')).text, /"state": "AVAILABLE"/);
    const image = Array.from({ length: 28 }, () => new Array(28).fill(0));
    assert.equal((await post(rest, '/v1/models/digits:predict', JSON.stringify({ instances: [image] }))).status, 200);

    for (const address of [`127.0.0.1:${server.grpcPort}`, `unix:${socket}`]) {
      const answer = await grpcStatus(address, 'digits');
      assert.equal(answer.error, null, address);
      assert.deepEqual(answer.states, ['AVAILABLE'], address);
    }

    const metrics = await get(rest, '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.text, /:tensorflow:serving:request_latency_count\{model_name="digits",API="predict",entrypoint="REST"\} 1/);
    assert.match(metrics.text, /:tensorflow:serving:request_latency_count\{model_name="digits",API="get_model_status",entrypoint="GRPC"\} 2/);
    assert.match(metrics.text, /process_cpu_seconds_total/);
    assert.equal((await get(rest, '/monitoring/prometheus/metrics')).status, 404);

    // The polled config file gains a model: it is served within a few polls.
    fs.writeFileSync(configFile, modelConfigText(['digits', 'digits2']));
    let status = 0;
    await waitUntil(() => `digits2 to be served:\n${lines.join('\n')}`, async () => (status = (await get(rest, '/v1/models/digits2')).status) === 200, 6000, 100);
    assert.equal(status, 200, lines.join('\n'));
    // A broken config file is reported and the current config stays.
    fs.writeFileSync(configFile, 'model_config_list { config { name: "x" base_pat: "/" } }');
    await waitUntil(() => `the broken config to be reported:\n${lines.join('\n')}`, () => lines.some((l) => l.startsWith('cannot apply')), 6000, 100);
    assert.ok(lines.some((l) => /cannot apply .*keeping the current config/.test(l)), lines.join('\n'));
    assert.equal((await get(rest, '/v1/models/digits2')).status, 200);
  } finally {
    await server.shutdown(2000);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('startServer refuses a Prometheus config without a REST port', async () => {
  const dir = tempDir('monitoring');
  const monitoringFile = path.join(dir, 'monitoring.config');
  fs.writeFileSync(monitoringFile, 'prometheus_config { enable: true }\n');
  try {
    await assert.rejects(startServer({ ...DEFAULT_FLAGS, port: 0, bindAddress: '127.0.0.1', modelBasePath: fixture('gaofei_cnn'), monitoringConfigFile: monitoringFile }, { log: () => undefined }), /set --rest_api_port/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('startServer refuses a malformed --grpc_channel_arguments before loading any model', { timeout: 10_000 }, async () => {
  let loads = 0;
  const loader = () => {
    loads++;
    return new Promise<never>(() => undefined);
  };
  const flags = { ...DEFAULT_FLAGS, port: 0, bindAddress: '127.0.0.1', modelBasePath: fixture('gaofei_cnn'), grpcChannelArguments: 'grpc.max_connection_age_ms' };
  await assert.rejects(startServer(flags, { log: () => undefined, loader }), (error: Error) => error instanceof FlagError && /'grpc.max_connection_age_ms' is not key=value/.test(error.message));
  assert.equal(loads, 0);
});

test('tfserve --demo (npm start) prints a curl command that returns a prediction', async (t) => {
  const curlMissing = await new Promise<boolean>((resolve) => execFile('curl', ['--version'], (error) => resolve(error !== null)));
  if (curlMissing) return t.skip('curl is not installed');
  fixture('gaofei_cnn');
  const [grpcPort, restPort] = [await freePort(), await freePort()];
  const demo = spawnCli(['--demo', `--port=${grpcPort}`, `--rest_api_port=${restPort}`, '--bind_address=127.0.0.1']);
  const { child } = demo;
  try {
    await waitForOutput(demo, /Ctrl-C stops the server\./, 15000);
    const curl = demo.output().split('\n').find((line) => line.includes(':predict'));
    assert.ok(curl, demo.output());
    const label = Number(/holds a handwritten (\d)/.exec(demo.output())![1]);
    const answer = await new Promise<string>((resolve, reject) => execFile('sh', ['-c', curl.trim()], (error, stdout) => (error ? reject(error) : resolve(stdout))));
    const prediction = JSON.parse(answer).predictions[0];
    assert.equal(prediction.prediction, label, answer);
    assert.equal(prediction.softmax.length, 10);
    assert.match(demo.output(), /tensorflow_serving\.apis import predict_pb2/);
    child.kill('SIGINT');
    assert.equal((await demo.exited).code, 0, demo.output());
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

/** The CNN as 'digits' on free ports, batching with a TF Serving user's batching file (written in `dir`), unchanged. */
async function batchingFlags(dir: string, extra: Partial<ServerFlags>): Promise<ServerFlags> {
  const batchingFile = path.join(dir, 'batching.config');
  fs.writeFileSync(batchingFile, 'max_batch_size { value: 16 }\nbatch_timeout_micros { value: 20000 }\nmax_enqueued_batches { value: 100 }\nnum_batch_threads { value: 2 }\n');
  return {
    ...DEFAULT_FLAGS,
    port: 0,
    restApiPort: await freePort(),
    bindAddress: '127.0.0.1',
    modelName: 'digits',
    modelBasePath: fixture('gaofei_cnn'),
    fileSystemPollWaitSeconds: 0,
    enableBatching: true,
    batchingParametersFile: batchingFile,
    ...extra,
  };
}

test('--busy_batch_timeout_micros joins the batching file\'s parameters and reaches the batcher', async () => {
  const loads: LoadOptions[] = [];
  const models: Model[] = [];
  const flags = await batchingFlags(tempDir('busy-batching'), { busyBatchTimeoutMicros: 5000, engineWorkers: 0, frontDoorThreads: 0 });
  // The real loader, watched: what the server asks of it, and the model it gives.
  const loader = async (basePath: string, load: LoadOptions) => {
    loads.push(load);
    const model = await loadModel(basePath, load);
    models.push(model);
    return model;
  };
  const server = await startServer(flags, { log: () => undefined, loader });
  try {
    await server.loaded;
    assert.equal(loads.length, 1);
    assert.deepEqual(loads[0]!.batching, { maxBatchSize: 16, batchTimeoutMicros: 20000, maxEnqueuedBatches: 100, numBatchThreads: 2, busyBatchTimeoutMicros: 5000 });
    const blank = Array.from({ length: 28 }, () => new Array(28).fill(0));
    const answer = await post(server.restPort!, '/v1/models/digits:predict', JSON.stringify({ instances: [blank] }));
    assert.equal(answer.status, 200, answer.text);
    // The batcher's key spells its parameters: max/timeout/busy timeout/threads/queue.
    const [stats] = models[0]!.batchingStats();
    assert.equal(stats!.requests, 1);
    assert.ok(stats!.key.startsWith('16/20000/5000/2/100/'), JSON.stringify(stats!.key));
  } finally {
    await server.shutdown(1000);
  }
});

test('startServer with --enable_batching, a TF Serving batching file and engine workers: batched answers, batching metrics', async () => {
  const dir = tempDir('batching');
  const monitoringFile = path.join(dir, 'monitoring.config');
  fs.writeFileSync(monitoringFile, 'prometheus_config { enable: true path: "/monitoring/prometheus/metrics" }\n');
  const flags = await batchingFlags(dir, { monitoringConfigFile: monitoringFile, engineWorkers: 1 });
  const server = await startServer(flags, { log: () => undefined });
  try {
    await server.loaded;
    const rest = server.restPort!;
    const blank = Array.from({ length: 28 }, () => new Array(28).fill(0));
    const answers = await Promise.all(Array.from({ length: 12 }, () => post(rest, '/v1/models/digits:predict', JSON.stringify({ instances: [blank] }))));
    // Batches of different sizes run different kernels: the same image may differ in the last float digits, never more.
    type Answer = { predictions: Array<{ prediction: number; softmax: number[] }> };
    const first = (JSON.parse(answers[0]!.text) as Answer).predictions[0]!;
    for (const answer of answers) {
      assert.equal(answer.status, 200, answer.text);
      const [row, ...rest] = (JSON.parse(answer.text) as Answer).predictions;
      assert.equal(rest.length, 0, answer.text);
      assert.equal(row!.prediction, first.prediction, 'the same image gets the same answer in any batch');
      assertClose(row!.softmax, first.softmax, 1e-6, 'softmax of the same image in another batch');
    }
    // Front-door threads report a request's metrics in their next message to the main thread: a scrape may come just before it.
    let metrics = '';
    const runtimeCount = /:tensorflow:serving:runtime_latency_count\{model_name="digits",API="predict",runtime="TF1"\} (\d+)/;
    await waitUntil(
      () => `12 predict runs in the metrics:\n${metrics}`,
      async () => {
        metrics = (await get(rest, '/monitoring/prometheus/metrics')).text;
        return Number(runtimeCount.exec(metrics)?.[1]) === 12;
      },
      5000,
    );
    const batches = Number(/tfserve_batch_size_count\{model_name="digits"\} (\d+)/.exec(metrics)?.[1]);
    const requests = Number(/tfserve_batch_queue_latency_seconds_count\{model_name="digits"\} (\d+)/.exec(metrics)?.[1]);
    assert.equal(requests, 12, metrics);
    // Predicts on the hot path (engine jobs) are timed as runs too.
    assert.equal(Number(/:tensorflow:serving:runtime_latency_count\{model_name="digits",API="predict",runtime="TF1"\} (\d+)/.exec(metrics)?.[1]), 12, metrics);
    assert.ok(batches >= 1 && batches < 12, `12 requests ran in ${batches} batches`);
  } finally {
    await server.shutdown(1000);
  }
});
