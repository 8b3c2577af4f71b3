// Front-door threads (--front_door_threads, src/server/front-door/): the
// ports served by threads that frame HTTP/2 and HTTP/1 and run Predict
// themselves, every other call passed on to the main thread's servers.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';

import * as grpc from '@grpc/grpc-js';

import { DEFAULT_FLAGS, type ServerFlags } from '../src/server/flags';
import { startServer } from '../src/server/server';
import { fixture, freePort, readJson, rejectsWithCode, tempDir, waitUntil } from './helpers';
import { grpcCall, grpcPredict, grpcRawCall } from './grpc-helpers';
import { v2Type } from '../src/serving/v2/grpc-wire';
import { get, post } from './rest-helpers';

const CNN = fixture('gaofei_cnn');
const reference = readJson<{ images: number[][]; prediction: number[] }>(path.join(CNN, 'reference.json'));

/** Threads of this process named `name` (/proc/self/task/<tid>/comm). */
function threadsNamed(name: string): number {
  let count = 0;
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      if (fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === name) count++;
    } catch {
      // the thread ended while we looked
    }
  }
  return count;
}

async function flagsFor(threads: number, extra: Partial<ServerFlags> = {}): Promise<ServerFlags> {
  const dir = tempDir('front-doors');
  const monitoring = path.join(dir, 'monitoring.config');
  fs.writeFileSync(monitoring, 'prometheus_config { enable: true path: "/metrics" }\n');
  return {
    ...DEFAULT_FLAGS,
    port: 0,
    restApiPort: await freePort(),
    bindAddress: '127.0.0.1',
    modelName: 'cnn',
    modelBasePath: CNN,
    fileSystemPollWaitSeconds: 0,
    monitoringConfigFile: monitoring,
    frontDoorThreads: threads,
    ...extra,
  };
}

const image = () => reference.images[0]!;

function grpcImageRequest(): Record<string, unknown> {
  return {
    modelSpec: { name: 'cnn' },
    inputs: { image: { dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: 1 }, { size: 28 }, { size: 28 }] }, floatVal: image() } },
  };
}

async function checkPredicts(grpcPort: number, restPort: number): Promise<void> {
  const answer = await grpcPredict(grpcPort, grpcImageRequest());
  const outputs = answer.outputs as Record<string, { int64Val: number[] }>;
  assert.deepEqual(outputs.prediction!.int64Val, [reference.prediction[0]]);
  const rest = await post(restPort, '/v1/models/cnn:predict', JSON.stringify({ instances: [chunk(image(), 28)] }));
  assert.equal(rest.status, 200, rest.text);
  assert.equal((JSON.parse(rest.text) as { predictions: Array<{ prediction: number }> }).predictions[0]!.prediction, reference.prediction[0]);
}

/** A POST whose answer is kept as bytes (the v2 binary-data extension's answers are not text). */
function postBytes(port: number, urlPath: string, body: Buffer, headers: Record<string, string | number>): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: urlPath, headers: { ...headers, 'Content-Length': body.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (part: Buffer) => chunks.push(part));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function chunk(values: number[], size: number): number[][] {
  return Array.from({ length: values.length / size }, (_, i) => values.slice(i * size, (i + 1) * size));
}

function countOf(metrics: string, pattern: RegExp): number {
  return Number(pattern.exec(metrics)?.[1] ?? 0);
}

test('two front-door threads serve gRPC and REST Predict, pass every other call to the main thread, and count each call once', async () => {
  const before = threadsNamed('tfs-front');
  const server = await startServer(await flagsFor(2), { log: () => undefined });
  try {
    assert.equal(threadsNamed('tfs-front') - before, 2, 'two threads named tfs-front');
    const restPort = server.restPort!;
    // Many connections (one client each), so that both threads take some.
    await Promise.all(Array.from({ length: 6 }, () => checkPredicts(server.grpcPort, restPort)));
    // The v2 protocol's ModelInfer runs on the thread too.
    const v2 = new grpc.Client(`127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure());
    try {
      const request = v2Type('ModelInferRequest');
      const bytes = request.encode(request.fromObject({ modelName: 'cnn', inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 28, 28] }], rawInputContents: [new Uint8Array(new Float32Array(image()).buffer)] })).finish();
      const answer = v2Type('ModelInferResponse').decode(await grpcRawCall(v2, '/inference.GRPCInferenceService/ModelInfer', bytes)) as unknown as { outputs: Array<{ name: string }>; rawOutputContents: Uint8Array[] };
      const at = answer.outputs.findIndex((output) => output.name === 'prediction');
      const raw = answer.rawOutputContents[at]!;
      assert.equal(Number(new BigInt64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + 8))[0]), reference.prediction[0]);
    } finally {
      v2.close();
    }
    // And v2 REST infer, JSON and binary-data.
    const v2Json = await post(restPort, '/v2/models/cnn/infer', JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 28, 28], data: image() }], outputs: [{ name: 'prediction' }] }));
    assert.equal(v2Json.status, 200, v2Json.text);
    assert.deepEqual((JSON.parse(v2Json.text) as { outputs: Array<{ data: number[] }> }).outputs[0]!.data, [reference.prediction[0]]);
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 28, 28], parameters: { binary_data_size: 784 * 4 } }], outputs: [{ name: 'prediction', parameters: { binary_data: true } }] }));
    const v2Binary = await postBytes(restPort, '/v2/models/cnn/infer', Buffer.concat([header, Buffer.from(new Float32Array(image()).buffer)]), { 'Inference-Header-Content-Length': header.length });
    assert.equal(v2Binary.status, 200, v2Binary.body.toString());
    assert.equal(v2Binary.headers['content-type'], 'application/octet-stream');
    const jsonLength = Number(v2Binary.headers['inference-header-content-length']);
    const tail = v2Binary.body.subarray(jsonLength);
    assert.equal(tail.length, 8, `an int64 after ${jsonLength} bytes of JSON`);
    assert.equal(Number(tail.readBigInt64LE(0)), reference.prediction[0]);
    // Passed on: metadata (gRPC and REST), model status, health, v2.
    const metadata = await grpcCall(server.grpcPort, '/tensorflow.serving.PredictionService/GetModelMetadata', 'tensorflow.serving.GetModelMetadataRequest', { modelSpec: { name: 'cnn' }, metadataField: ['signature_def'] }, 'tensorflow.serving.GetModelMetadataResponse');
    assert.equal((metadata.modelSpec as { name: string }).name, 'cnn');
    assert.equal((await get(restPort, '/v1/models/cnn/metadata')).status, 200);
    assert.equal((await get(restPort, '/v2/models/cnn/ready')).status, 200);
    assert.equal((await get(restPort, '/readyz')).status, 200);
    // A passed-on failure keeps the main thread's status and message.
    await assert.rejects(
      grpcCall(server.grpcPort, '/tensorflow.serving.PredictionService/GetModelMetadata', 'tensorflow.serving.GetModelMetadataRequest', { modelSpec: { name: 'nope' }, metadataField: ['signature_def'] }, 'tensorflow.serving.GetModelMetadataResponse'),
      (error: grpc.ServiceError) => error.code === grpc.status.NOT_FOUND && /nope/.test(error.details),
    );
    // A Predict the thread refuses before any lease: the model is named, the status is TF Serving's.
    await assert.rejects(grpcPredict(server.grpcPort, { ...grpcImageRequest(), modelSpec: { name: 'missing' } }), (error: grpc.ServiceError) => error.code === grpc.status.NOT_FOUND && /missing/.test(error.details));
    const bad = await post(restPort, '/v1/models/cnn:predict', '{"instances": [[1, 2]]}');
    assert.equal(bad.status, 400, bad.text);
    assert.match(bad.text, /"error"/);

    // 6 + 1 (gRPC) and 6 + 1 (REST) Predicts, 1 + 2 v2 infers (gRPC, REST), 1 + 1 metadata, 1 v2 ready; the failures under their own labels.
    let metrics = '';
    await waitUntil(
      () => `the calls in the metrics:\n${metrics}`,
      async () => {
        metrics = (await get(restPort, '/metrics')).text;
        return countOf(metrics, /:tensorflow:serving:request_count\{model_name="cnn",status="OK"\} (\d+)/) >= 17;
      },
      5000,
    );
    assert.equal(countOf(metrics, /:tensorflow:serving:request_latency_count\{model_name="cnn",API="predict",entrypoint="GRPC"\} (\d+)/), 6);
    assert.equal(countOf(metrics, /:tensorflow:serving:request_latency_count\{model_name="cnn",API="predict",entrypoint="REST"\} (\d+)/), 7);
    assert.equal(countOf(metrics, /:tensorflow:serving:request_latency_count\{model_name="cnn",API="get_model_metadata",entrypoint="GRPC"\} (\d+)/), 1);
    assert.equal(countOf(metrics, /:tensorflow:serving:request_latency_count\{model_name="cnn",API="get_model_metadata",entrypoint="REST"\} (\d+)/), 1);
    assert.equal(countOf(metrics, /:tensorflow:serving:request_count\{model_name="missing",status="NOT_FOUND"\} (\d+)/), 1);
    assert.equal(countOf(metrics, /:tensorflow:serving:request_count\{model_name="cnn",status="INVALID_ARGUMENT"\} (\d+)/), 1);
    // Runs on the threads are timed as runs (decoding and encoding included).
    assert.equal(countOf(metrics, /:tensorflow:serving:request_latency_count\{model_name="cnn",API="model_infer",entrypoint="GRPC"\} (\d+)/), 1);
    assert.equal(countOf(metrics, /:tensorflow:serving:request_latency_count\{model_name="cnn",API="v2_infer",entrypoint="REST"\} (\d+)/), 2);
    assert.equal(countOf(metrics, /:tensorflow:serving:runtime_latency_count\{model_name="cnn",API="predict",runtime="TF1"\} (\d+)/), 16);
  } finally {
    await server.shutdown(1000);
  }
  await waitUntil('the front-door threads end with the server', () => threadsNamed('tfs-front') === before, 5000);
});

test('a front-door thread that ends is replaced, and the ports keep serving meanwhile', async () => {
  const before = threadsNamed('tfs-front');
  const server = await startServer(await flagsFor(2), { log: () => undefined });
  try {
    const [victim] = server.frontDoorThreads();
    await victim!.terminate();
    // The other thread holds the ports while the replacement starts.
    await checkPredicts(server.grpcPort, server.restPort!);
    await waitUntil('a replacement thread', () => server.frontDoorThreads().length === 2 && !server.frontDoorThreads().includes(victim!), 10000);
    await Promise.all(Array.from({ length: 4 }, () => checkPredicts(server.grpcPort, server.restPort!)));
  } finally {
    await server.shutdown(1000);
  }
  await waitUntil('the front-door threads end with the server', () => threadsNamed('tfs-front') === before, 5000);
});

test('a gRPC or REST port already taken fails the start with UNAVAILABLE naming the address, and leaves no thread behind', async () => {
  const before = threadsNamed('tfs-front');
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as net.AddressInfo).port;
  try {
    await rejectsWithCode(startServer(await flagsFor(1, { port }), { log: () => undefined }), 'UNAVAILABLE', new RegExp(`gRPC on 127\\.0\\.0\\.1:${port}`));
    await rejectsWithCode(startServer(await flagsFor(1, { restApiPort: port }), { log: () => undefined }), 'UNAVAILABLE', new RegExp(`HTTP/REST on 127\\.0\\.0\\.1:${port}`));
  } finally {
    taken.close();
  }
  assert.equal(threadsNamed('tfs-front'), before);
});

test('--front_door_threads=0 serves the ports on the main thread, as before', async () => {
  const before = threadsNamed('tfs-front');
  const server = await startServer(await flagsFor(0), { log: () => undefined });
  try {
    assert.equal(threadsNamed('tfs-front'), before);
    assert.deepEqual(server.frontDoorThreads(), []);
    await checkPredicts(server.grpcPort, server.restPort!);
  } finally {
    await server.shutdown(1000);
  }
});

test('a client that cancels a passed-on stream, and one that closes a REST connection mid-request, leave the server serving', async () => {
  const server = await startServer(await flagsFor(1), { log: () => undefined });
  try {
    // grpc.health.v1.Health/Watch is a server stream the thread passes on: cancelled, both hops end.
    const client = new grpc.Client(`127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure());
    const watch = client.makeServerStreamRequest('/grpc.health.v1.Health/Watch', (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0));
    const first = await new Promise<Buffer>((resolve, reject) => {
      watch.once('data', resolve);
      watch.once('error', reject);
    });
    assert.deepEqual([...first], [0x08, 0x01], 'SERVING');
    const ended = new Promise<grpc.ServiceError>((resolve) => watch.once('error', resolve));
    watch.cancel();
    assert.equal((await ended).code, grpc.status.CANCELLED);
    client.close();
    // Half a body, then the connection closes.
    await new Promise<void>((resolve) => {
      const socket = net.connect(server.restPort!, '127.0.0.1', () => {
        socket.write('POST /v1/models/cnn:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"instances": [');
        setTimeout(() => socket.destroy(), 50);
      });
      socket.on('close', () => resolve());
      socket.on('error', () => undefined);
    });
    await checkPredicts(server.grpcPort, server.restPort!);
  } finally {
    await server.shutdown(1000);
  }
});

/** One request on `agent`'s kept-alive connection. */
function agentGet(port: number, agent: http.Agent, urlPath: string): Promise<{ status: number; reused: boolean; connection: string | undefined; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, agent }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket, connection: res.headers.connection, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

for (const threads of [0, 1]) {
  test(`draining (--front_door_threads=${threads}): a request on a connection already open is answered while another is still in flight`, async () => {
    const server = await startServer(await flagsFor(threads), { log: () => undefined });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const probe = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let slow: net.Socket | null = null;
    let shutdown: Promise<void> | null = null;
    try {
      const restPort = server.restPort!;
      assert.equal((await agentGet(restPort, agent, '/v1/models/cnn')).status, 200);
      assert.equal((await agentGet(restPort, probe, '/readyz')).status, 200);
      // A Predict whose body is still on its way keeps the server draining.
      slow = await new Promise<net.Socket>((resolve) => {
        const socket = net.connect(restPort, '127.0.0.1', () => resolve(socket));
      });
      slow.on('error', () => undefined);
      slow.write('POST /v1/models/cnn:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"instances": [');
      await new Promise((resolve) => setTimeout(resolve, 100));
      shutdown = server.shutdown(5000);
      // Past the drain's quiet time: a server with nothing in flight would have closed by now.
      await new Promise((resolve) => setTimeout(resolve, 400));
      const status = await agentGet(restPort, agent, '/v1/models/cnn');
      assert.equal(status.reused, true, 'sent on the connection opened before the drain');
      assert.equal(status.status, 200, status.text);
      assert.equal(status.connection, 'close');
      const ready = await agentGet(restPort, probe, '/readyz');
      assert.equal(ready.reused, true);
      assert.deepEqual([ready.status, ready.text], [503, '{"status": "shutting down"}']);
    } finally {
      slow?.destroy();
      agent.destroy();
      probe.destroy();
      await (shutdown ?? server.shutdown(1000));
    }
  });
}

test('grpc.max_concurrent_streams bounds each client connection, not every call a thread passes on', async () => {
  const server = await startServer(await flagsFor(1, { grpcChannelArguments: 'grpc.max_concurrent_streams=1' }), { log: () => undefined });
  const identity = (b: Buffer) => b;
  const watcher = new grpc.Client(`127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  const checker = new grpc.Client(`127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  try {
    // A passed-on stream that stays open on one client's connection...
    const watch = watcher.makeServerStreamRequest('/grpc.health.v1.Health/Watch', identity, identity, Buffer.alloc(0));
    watch.on('error', () => undefined);
    await new Promise((resolve) => watch.once('data', resolve));
    // ...leaves another client's passed-on call free to run.
    const check = await new Promise<Buffer>((resolve, reject) =>
      checker.makeUnaryRequest('/grpc.health.v1.Health/Check', identity, identity, Buffer.alloc(0), { deadline: Date.now() + 3000 }, (error, value) => (error ? reject(error) : resolve(value!))),
    );
    assert.deepEqual([...check], [0x08, 0x01], 'SERVING');
    watch.cancel();
  } finally {
    watcher.close();
    checker.close();
    await server.shutdown(1000);
  }
});

test('a TMPDIR too deep for a unix socket path still starts the front-door threads, their private sockets in /tmp', async () => {
  const deep = path.join(tempDir('front-doors'), 'd'.repeat(100));
  fs.mkdirSync(deep, { recursive: true });
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = deep;
  let server;
  try {
    server = await startServer(await flagsFor(1), { log: () => undefined });
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
  try {
    // Passed on to the main thread's servers, over the private sockets.
    assert.equal((await get(server.restPort!, '/v1/models/cnn/metadata')).status, 200);
    const status = await grpcCall(server.grpcPort, '/tensorflow.serving.ModelService/GetModelStatus', 'tensorflow.serving.GetModelStatusRequest', { modelSpec: { name: 'cnn' } }, 'tensorflow.serving.GetModelStatusResponse');
    assert.equal((status.modelVersionStatus as Array<{ state: string }>)[0]!.state, 'AVAILABLE');
  } finally {
    await server.shutdown(1000);
  }
});

for (const threads of [0, 1]) {
  test(`draining (--front_door_threads=${threads}): a passed-on gRPC call whose message was still arriving is answered`, async () => {
    const server = await startServer(await flagsFor(threads), { log: () => undefined });
    const session = http2.connect(`http://127.0.0.1:${server.grpcPort}`);
    session.on('error', () => undefined);
    let shutdown: Promise<void> | null = null;
    try {
      const stream = session.request({ ':method': 'POST', ':path': '/tensorflow.serving.ModelService/GetModelStatus', 'content-type': 'application/grpc', te: 'trailers' });
      // GetModelStatusRequest { model_spec { name: "cnn" } }, framed: half of it now, the rest once the drain is under way.
      const frame = Buffer.from([0, 0, 0, 0, 7, 0x0a, 0x05, 0x0a, 0x03, 0x63, 0x6e, 0x6e]);
      stream.write(frame.subarray(0, 6));
      // The status comes in trailers, or in the headers of a trailers-only answer (an error).
      const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => {
        stream.on('response', (headers) => headers['grpc-status'] !== undefined && resolve(headers));
        stream.on('trailers', resolve);
      });
      let body = Buffer.alloc(0);
      stream.on('data', (chunk: Buffer) => (body = Buffer.concat([body, chunk])));
      await new Promise((resolve) => setTimeout(resolve, 100));
      shutdown = server.shutdown(5000);
      await new Promise((resolve) => setTimeout(resolve, 400));
      stream.end(frame.subarray(6));
      const status = await trailers;
      assert.equal(status['grpc-status'], '0', String(status['grpc-message']));
      assert.ok(body.length > 5, 'a GetModelStatusResponse');
    } finally {
      session.destroy();
      await (shutdown ?? server.shutdown(1000));
    }
  });
}
