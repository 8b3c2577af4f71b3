// gRPC Predict load: N concurrent clients (default 64), one 28x28 image per
// request (tensor_content, as tf.make_tensor_proto sends it), against tfserve's
// gRPC server on the seed CNN; and, in the same run, the embedded predict()
// with the same concurrency, as the ceiling the front door is compared with.
//
//   node bench/grpc-load.mjs [--clients 64] [--seconds 10] [--model .fixtures/gaofei_cnn]
//
// The server runs in a child process so that the load generator does not
// share its event loop.
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import grpc from '@grpc/grpc-js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const dist = (p) => path.join(repo, 'dist', 'src', p);

const { values: opts } = parseArgs({
  options: {
    clients: { type: 'string', default: '64' },
    seconds: { type: 'string', default: '10' },
    model: { type: 'string', default: path.join(repo, '.fixtures', 'gaofei_cnn') },
    serve: { type: 'boolean', default: false },
  },
});

async function makeManager() {
  const { loadModel } = await import(dist('index.js'));
  const { ModelManager } = await import(dist('serving/model-manager.js'));
  const manager = new ModelManager({
    loader: (basePath, options) => loadModel(basePath, options),
    fileSystemPollWaitSeconds: 0,
    enableModelWarmup: false,
    allowVersionLabelsForUnavailableModels: false,
  });
  await manager.setConfig([{ name: 'cnn', basePath: opts.model, modelPlatform: 'tensorflow', versionPolicy: { kind: 'latest', numVersions: 1 }, versionLabels: {} }]);
  return manager;
}

if (opts.serve) {
  // Child: the server.
  const manager = await makeManager();
  const { startGrpcServer } = await import(dist('server/grpc.js'));
  const server = await startGrpcServer({ manager, address: '127.0.0.1:0' });
  process.send({ port: server.port });
  process.on('message', async () => {
    await server.close(1000);
    await manager.close();
    process.exit(0);
  });
} else {
  await main();
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Runs `clients` loops of `call` for `seconds`; returns throughput and latency percentiles. */
async function drive(clients, seconds, call) {
  const latencies = [];
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < deadline) {
        const t = performance.now();
        try {
          await call();
          latencies.push(performance.now() - t);
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    perSecond: latencies.length / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

function show(name, r) {
  console.log(`${name.padEnd(22)} ${r.perSecond.toFixed(0).padStart(7)} req/s   p50 ${r.p50.toFixed(2)} ms   p99 ${r.p99.toFixed(2)} ms   (${r.requests} requests, ${r.errors} errors)`);
}

async function main() {
  const clients = Number(opts.clients);
  const seconds = Number(opts.seconds);
  const { readFileSync } = await import('node:fs');
  const reference = JSON.parse(readFileSync(path.join(opts.model, 'reference.json'), 'utf8'));
  const image = Float32Array.from(reference.images[0]);

  // Embedded predict(), same concurrency.
  const manager = await makeManager();
  const { predict } = await import(dist('serving/inference.js'));
  const lease = manager.acquire({ name: 'cnn' });
  const direct = () => lease.servable.predict({ image: { dtype: 'float32', shape: [1, 28, 28], data: image } });
  await drive(clients, 1, direct); // warm up
  const embedded = await drive(clients, seconds, direct);
  const viaManager = await drive(clients, seconds, () =>
    predict(manager, { modelSpec: { name: 'cnn' }, inputs: { image: { dtype: 'float32', shape: [1, 28, 28], data: image } } }),
  );
  lease.release();
  await manager.close();

  // gRPC, server in a child process.
  const child = fork(fileURLToPath(import.meta.url), ['--serve', '--model', opts.model], { stdio: 'inherit' });
  const { port } = await new Promise((resolve) => child.once('message', resolve));
  const { servingType } = await import(dist('serving/protos.js'));
  const PredictRequest = servingType('tensorflow.serving.PredictRequest');
  const request = PredictRequest.encode(
    PredictRequest.fromObject({
      modelSpec: { name: 'cnn', signatureName: 'serving_default' },
      inputs: { image: { dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: 1 }, { size: 28 }, { size: 28 }] }, tensorContent: Buffer.from(image.buffer) } },
    }),
  ).finish();
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const call = () =>
    new Promise((resolve, reject) =>
      client.makeUnaryRequest('/tensorflow.serving.PredictionService/Predict', (b) => Buffer.from(b), (b) => b, request, (error, response) =>
        error ? reject(error) : resolve(response),
      ),
    );
  await drive(clients, 1, call);
  const overGrpc = await drive(clients, seconds, call);
  client.close();
  child.send('stop');
  await new Promise((resolve) => child.once('exit', resolve));

  console.log(`CNN ${path.basename(opts.model)}, 1 image per request, ${clients} concurrent clients, ${seconds} s each`);
  show('embedded predict()', embedded);
  show('inference.predict()', viaManager);
  show('gRPC Predict', overGrpc);
  console.log(`gRPC / embedded throughput: ${(overGrpc.perSecond / embedded.perSecond).toFixed(2)}`);
}
