// gRPC Predict load: N concurrent clients (default 64), one 28x28 image per
// request (tensor_content, as tf.make_tensor_proto sends it), against the
// `tfserve` binary with --enable_batching on the seed CNN; and, in the same
// run, the embedded Engine predict() with the same batching parameters and
// concurrency, as the ceiling the front door is compared with.
//
//   npm run bench:grpc -- [--clients 64] [--seconds 10] [--model .fixtures/gaofei_cnn]
//
// The server runs as its own process, as users run it, so that the load
// generator does not share its event loop.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import grpc from '@grpc/grpc-js';

import { SWEEP_BATCHING } from './contenders/tfserve.mjs';
import { closedLoop } from './lib/closed-loop.mjs';
import { FIXTURES_DIR, REPO_ROOT } from './lib/paths.mjs';

const dist = (p) => path.join(REPO_ROOT, 'dist', 'src', p);

const { values: opts } = parseArgs({
  options: {
    clients: { type: 'string', default: '64' },
    seconds: { type: 'string', default: '10' },
    model: { type: 'string', default: path.join(FIXTURES_DIR, 'gaofei_cnn') },
  },
});

// The same batching for both, as options and in TF Serving's file format
// (maxBatchSize 64 -> `max_batch_size { value: 64 }`).
const BATCHING_FILE = Object.entries(SWEEP_BATCHING)
  .map(([key, value]) => `${key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)} { value: ${value} }\n`)
  .join('');
const WARMUP_SECONDS = 1;

/** `clients` closed-loop callers of `call` for `seconds` after the warm-up; failed calls are counted, not thrown. */
async function drive(clients, seconds, call) {
  let errors = 0;
  const counted = () => call().catch(() => {
    errors++;
  });
  const result = await closedLoop({ concurrency: clients, batch: 1, seconds, warmupSeconds: WARMUP_SECONDS, call: counted });
  return { ...result, errors };
}

function show(name, r) {
  const ms = (us) => (us / 1000).toFixed(2);
  console.log(`${name.padEnd(22)} ${r.examplesPerSecond.toFixed(0).padStart(7)} req/s   p50 ${ms(r.latencyUs.p50)} ms   p99 ${ms(r.latencyUs.p99)} ms   (${r.calls} requests, ${r.errors} errors)`);
}

async function measureEmbedded(clients, seconds, image) {
  const { Engine } = await import(dist('index.js'));
  const engine = await Engine.create();
  try {
    const model = await engine.load(opts.model, { batching: SWEEP_BATCHING });
    return await drive(clients, seconds, () => model.predict({ image: { dtype: 'float32', shape: [1, 28, 28], data: image } }));
  } finally {
    await engine.close();
  }
}

/** Resolves with the gRPC port once the `tfserve` child reports the model AVAILABLE. */
function serverPort(child) {
  return new Promise((resolve, reject) => {
    let output = '';
    let port = 0;
    child.stdout.on('data', (chunk) => {
      output += chunk;
      port ||= Number(/Running gRPC ModelServer at 127\.0\.0\.1:(\d+)/.exec(output)?.[1] ?? 0);
      if (port && /: AVAILABLE/.test(output)) resolve(port);
    });
    child.once('exit', (code) => reject(new Error(`tfserve exited with ${code}:\n${output}`)));
  });
}

async function stopServer(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

async function measureGrpc(clients, seconds, image) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfserve-grpc-load-'));
  let child = null;
  let client = null;
  try {
    const batchingFile = path.join(dir, 'batching.config');
    fs.writeFileSync(batchingFile, BATCHING_FILE);
    child = spawn(process.execPath, [
      dist('cli.js'),
      '--port=0',
      '--bind_address=127.0.0.1',
      '--model_name=cnn',
      `--model_base_path=${opts.model}`,
      '--enable_batching',
      `--batching_parameters_file=${batchingFile}`,
    ], { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await serverPort(child);
    const { servingType } = await import(dist('serving/protos.js'));
    const PredictRequest = servingType('tensorflow.serving.PredictRequest');
    const request = PredictRequest.encode(
      PredictRequest.fromObject({
        modelSpec: { name: 'cnn', signatureName: 'serving_default' },
        inputs: { image: { dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: 1 }, { size: 28 }, { size: 28 }] }, tensorContent: Buffer.from(image.buffer) } },
      }),
    ).finish();
    client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const call = () =>
      new Promise((resolve, reject) =>
        client.makeUnaryRequest('/tensorflow.serving.PredictionService/Predict', (b) => Buffer.from(b), (b) => b, request, (error, response) =>
          error ? reject(error) : resolve(response),
        ),
      );
    return await drive(clients, seconds, call);
  } finally {
    client?.close();
    if (child) await stopServer(child);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const clients = Number(opts.clients);
  const seconds = Number(opts.seconds);
  const reference = JSON.parse(fs.readFileSync(path.join(opts.model, 'reference.json'), 'utf8'));
  const image = Float32Array.from(reference.images[0]);

  const embedded = await measureEmbedded(clients, seconds, image);
  const overGrpc = await measureGrpc(clients, seconds, image);

  console.log(`CNN ${path.basename(opts.model)}, 1 image per request, ${clients} concurrent clients, ${seconds} s each, batching ${JSON.stringify(SWEEP_BATCHING)}`);
  show('embedded predict()', embedded);
  show('gRPC Predict (tfserve)', overGrpc);
  console.log(`gRPC / embedded throughput: ${(overGrpc.examplesPerSecond / embedded.examplesPerSecond).toFixed(2)}`);
}

await main();
