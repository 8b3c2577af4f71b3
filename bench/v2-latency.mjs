// What the Open Inference Protocol v2 front doors cost beside TF Serving's:
// sequential requests (one in flight) to one `tfserve` process, the same
// tensors as TF Serving's /v1 :predict and Predict and as v2 infer (JSON and
// binary-data REST, ModelInfer with raw_input_contents), on half_plus_two
// (3 floats) and the seed CNN (one 28x28 image). Prints p50 / p99 per door.
//
//   node bench/v2-latency.mjs [--requests 2000]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

import grpc from '@grpc/grpc-js';

import { freePort } from '../scripts/free-port.mjs';
import { FIXTURES_DIR, REPO_ROOT, TF_SERVING_TESTDATA } from './lib/paths.mjs';

const require = createRequire(import.meta.url);
const { servingType } = require(path.join(REPO_ROOT, 'dist', 'src', 'serving', 'protos.js'));
const { v2Type } = require(path.join(REPO_ROOT, 'dist', 'src', 'serving', 'v2', 'grpc-wire.js'));

const { values: opts } = parseArgs({ options: { requests: { type: 'string', default: '2000' } } });
const N = Number(opts.requests);

const [grpcPort, restPort] = [await freePort(), await freePort()];
const config = `model_config_list {
  config { name: "half_plus_two" base_path: "${path.join(TF_SERVING_TESTDATA, 'saved_model_half_plus_two_cpu')}" model_platform: "tensorflow" }
  config { name: "cnn" base_path: "${path.join(FIXTURES_DIR, 'gaofei_cnn')}" model_platform: "tensorflow" }
}`;
const configFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tfserve-v2-bench-')), 'models.config');
fs.writeFileSync(configFile, config);
const server = spawn(process.execPath, [path.join(REPO_ROOT, 'dist', 'src', 'cli.js'), `--port=${grpcPort}`, `--rest_api_port=${restPort}`, `--model_config_file=${configFile}`, '--bind_address=127.0.0.1'], { stdio: ['ignore', 'pipe', 'inherit'] });
await new Promise((resolve, reject) => {
  let out = '';
  server.stdout.on('data', (d) => {
    out += d;
    if (out.includes("'cnn' version 0: AVAILABLE") && out.includes("'half_plus_two' version 123: AVAILABLE")) resolve();
  });
  server.on('exit', () => reject(new Error(`tfserve exited:\n${out}`)));
});

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function post(pathname, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: restPort, method: 'POST', path: pathname, agent, headers: { 'Content-Length': body.length, ...headers } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}
const client = new grpc.Client(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
function call(method, body) {
  return new Promise((resolve, reject) => client.makeUnaryRequest(method, (b) => b, (b) => b, body, (e, r) => (e ? reject(e) : resolve(r))));
}

async function measure(send) {
  for (let i = 0; i < 200; i++) await send();
  const times = [];
  for (let i = 0; i < N; i++) {
    const t = process.hrtime.bigint();
    await send();
    times.push(Number(process.hrtime.bigint() - t) / 1e3);
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(N * 0.5)], p99: times[Math.floor(N * 0.99)] };
}

const cases = [];
for (const [model, input, alias, shape, values] of [
  ['half_plus_two', 'x', 'y', [3, 1], [1, 2, 5]],
  ['cnn', 'image', 'softmax', [1, 28, 28], Array.from({ length: 784 }, (_, i) => (i % 255) / 255)],
]) {
  const raw = Buffer.from(new Float32Array(values).buffer);
  const v1Json = Buffer.from(JSON.stringify({ inputs: { [input]: shape.length === 2 ? values.map((v) => [v]) : [Array.from({ length: 28 }, (_, r) => values.slice(r * 28, r * 28 + 28))] } }));
  const v2Json = Buffer.from(JSON.stringify({ inputs: [{ name: input, datatype: 'FP32', shape, data: values }], outputs: [{ name: alias }] }));
  const header = Buffer.from(JSON.stringify({ inputs: [{ name: input, datatype: 'FP32', shape, parameters: { binary_data_size: raw.length } }], outputs: [{ name: alias, parameters: { binary_data: true } }] }));
  const v2Binary = Buffer.concat([header, raw]);
  const predict = Buffer.from(servingType('tensorflow.serving.PredictRequest').encode({ modelSpec: { name: model }, inputs: { [input]: { dtype: 1, tensorShape: { dim: shape.map((size) => ({ size })) }, tensorContent: raw } }, outputFilter: [alias] }).finish());
  const infer = Buffer.from(v2Type('ModelInferRequest').encode({ modelName: model, inputs: [{ name: input, datatype: 'FP32', shape }], outputs: [{ name: alias }], rawInputContents: [raw] }).finish());
  cases.push(
    [model, 'REST /v1 :predict (JSON)', () => post(`/v1/models/${model}:predict`, v1Json)],
    [model, 'REST /v2 infer (JSON)', () => post(`/v2/models/${model}/infer`, v2Json)],
    [model, 'REST /v2 infer (binary data)', () => post(`/v2/models/${model}/infer`, v2Binary, { 'Inference-Header-Content-Length': header.length })],
    [model, 'gRPC Predict (tensor_content)', () => call('/tensorflow.serving.PredictionService/Predict', predict)],
    [model, 'gRPC ModelInfer (raw_input_contents)', () => call('/inference.GRPCInferenceService/ModelInfer', infer)],
  );
}
console.log(`| model | door | p50 µs | p99 µs |\n| --- | --- | --- | --- |`);
for (const [model, door, send] of cases) {
  const { p50, p99 } = await measure(send);
  console.log(`| ${model} | ${door} | ${p50.toFixed(0)} | ${p99.toFixed(0)} |`);
}
client.close();
agent.destroy();
server.kill('SIGTERM');
fs.rmSync(path.dirname(configFile), { recursive: true, force: true });
