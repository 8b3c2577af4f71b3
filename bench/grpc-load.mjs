// gRPC Predict load: N concurrent clients (default 64), one 28x28 image per
// request (tensor_content, as tf.make_tensor_proto sends it), against the
// `tfserve` binary with --enable_batching on the seed CNN; and, in the same
// run, the embedded Engine predict() with the same batching parameters and
// concurrency, as the ceiling the front door is compared with.
//
//   node bench/grpc-load.mjs [--clients 64] [--seconds 10] [--model .fixtures/gaofei_cnn]
//
// The server runs as its own process, as users run it, so that the load
// generator does not share its event loop.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
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
  },
});

// One set of batching parameters for both contenders, in TF Serving's file format and as options.
const BATCHING = { maxBatchSize: 64, batchTimeoutMicros: 0, maxEnqueuedBatches: 64 };
const BATCHING_FILE = 'max_batch_size { value: 64 }\nbatch_timeout_micros { value: 0 }\nmax_enqueued_batches { value: 64 }\n';

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
  return { requests: latencies.length, errors, perSecond: latencies.length / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

function show(name, r) {
  console.log(`${name.padEnd(22)} ${r.perSecond.toFixed(0).padStart(7)} req/s   p50 ${r.p50.toFixed(2)} ms   p99 ${r.p99.toFixed(2)} ms   (${r.requests} requests, ${r.errors} errors)`);
}

/** Starts `tfserve` on a free port and resolves with the process and its gRPC port. */
function startServer(batchingFile) {
  const child = spawn(process.execPath, [
    dist('cli.js'),
    '--port=0',
    '--bind_address=127.0.0.1',
    '--model_name=cnn',
    `--model_base_path=${opts.model}`,
    '--enable_batching',
    `--batching_parameters_file=${batchingFile}`,
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let output = '';
    let port = 0;
    child.stdout.on('data', (chunk) => {
      output += chunk;
      port ||= Number(/Running gRPC ModelServer at 127\.0\.0\.1:(\d+)/.exec(output)?.[1] ?? 0);
      if (port && /: AVAILABLE/.test(output)) resolve({ child, port });
    });
    child.once('exit', (code) => reject(new Error(`tfserve exited with ${code}:\n${output}`)));
  });
}

async function main() {
  const clients = Number(opts.clients);
  const seconds = Number(opts.seconds);
  const reference = JSON.parse(fs.readFileSync(path.join(opts.model, 'reference.json'), 'utf8'));
  const image = Float32Array.from(reference.images[0]);

  // Embedded: the Engine with the same batching.
  const { Engine } = await import(dist('index.js'));
  const engine = await Engine.create();
  const model = await engine.load(opts.model, { batching: BATCHING });
  const direct = () => model.predict({ image: { dtype: 'float32', shape: [1, 28, 28], data: image } });
  await drive(clients, 1, direct);
  const embedded = await drive(clients, seconds, direct);
  await engine.close();

  // gRPC against the tfserve binary.
  const batchingFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tfserve-grpc-load-')), 'batching.config');
  fs.writeFileSync(batchingFile, BATCHING_FILE);
  const { child, port } = await startServer(batchingFile);
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
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));

  console.log(`CNN ${path.basename(opts.model)}, 1 image per request, ${clients} concurrent clients, ${seconds} s each, batching ${JSON.stringify(BATCHING)}`);
  show('embedded predict()', embedded);
  show('gRPC Predict (tfserve)', overGrpc);
  console.log(`gRPC / embedded throughput: ${(overGrpc.perSecond / embedded.perSecond).toFixed(2)}`);
}

await main();
