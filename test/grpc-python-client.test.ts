// TF Serving's own Python client (tensorflow-serving-api, tf.make_tensor_proto,
// tf.make_ndarray) against tfserve's gRPC server, exactly as TF Serving users
// write it: half_plus_two (Predict, Classify, Regress, GetModelMetadata,
// GetModelStatus) and the seed CNN, which answers `prediction` and `softmax`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';

import { startGrpcServer, type GrpcServer } from '../src/server/grpc';
import type { ModelManager } from '../src/serving/model-manager';
import { fixture, freePort, needsTfServingData, readJson, repoRoot, spawnCli, tfServingModel, waitForOutput } from './helpers';
import { modelConfig, testManager } from './manager-helpers';

const run = promisify(execFile);
const skip = needsTfServingData();

let manager: ModelManager;
let server: GrpcServer;
let python: string;

before(async () => {
  // Both tests need the client venv: creates it if needed and installs scripts/requirements-clients.txt (no-op once stamped).
  const env = await run(process.execPath, [path.join(repoRoot, 'scripts', 'python-env.mjs'), '--clients'], { timeout: 600_000 });
  python = env.stdout.trim().split('\n').pop()!;
  // Only the first test needs TF Serving's half_plus_two, served in-process.
  if (skip) return;
  manager = testManager();
  await manager.setConfig([modelConfig('half_plus_two', tfServingModel('saved_model_half_plus_two_cpu')), modelConfig('gaofei_cnn', fixture('gaofei_cnn'))]);
  server = await startGrpcServer({ manager, address: '127.0.0.1:0' });
});

after(async () => {
  await server?.close(1000);
  await manager?.close();
});

interface ClientOutput {
  half_plus_two: {
    predict: { y: number[][]; float_val: number[]; version: number; signature_name: string };
    classify: Array<Array<[string, number]>>;
    regress: number[];
    regress_version: number;
    metadata: { version: number; type_url: string; signatures: string[]; serving_default_x: string };
    status: Array<{ version: number; state: string; error_code: number; error_message: string }>;
    unknown_model: { code: string; details: string };
  };
  cnn: { prediction: number[]; softmax: number[][]; version: number };
}

test('the tensorflow-serving-api Python client gets what TF Serving would answer', { skip, timeout: 120_000 }, async () => {
  const reference = path.join(fixture('gaofei_cnn'), 'reference.json');
  const script = path.join(repoRoot, 'test', 'clients', 'tf_serving_client.py');
  const { stdout } = await run(python, [script, `127.0.0.1:${server.port}`, 'half_plus_two', 'gaofei_cnn', reference], { timeout: 110_000 });
  const out = JSON.parse(stdout.trim().split('\n').pop()!) as ClientOutput;

  const hp = out.half_plus_two;
  assert.deepEqual(hp.predict, { y: [[2.5], [3], [4.5]], float_val: [2.5, 3, 4.5], version: 123, signature_name: 'serving_default' });
  assert.deepEqual(hp.classify, [[['', 3]]]);
  assert.deepEqual(hp.regress, [3, 4]);
  assert.equal(hp.regress_version, 123);
  assert.deepEqual(hp.metadata, {
    version: 123,
    type_url: 'type.googleapis.com/tensorflow.serving.SignatureDefMap',
    signatures: ['classify_x_to_y', 'regress_x2_to_y3', 'regress_x_to_y', 'regress_x_to_y2', 'serving_default'],
    serving_default_x: 'x:0',
  });
  assert.deepEqual(hp.status, [{ version: 123, state: 'AVAILABLE', error_code: 0, error_message: '' }]);
  assert.equal(hp.unknown_model.code, 'NOT_FOUND');
  assert.match(hp.unknown_model.details, /no_such_model/);

  const ref = readJson<{ prediction: number[]; softmax: number[][] }>(reference);
  assert.deepEqual(out.cnn.prediction, ref.prediction.slice(0, 4));
  out.cnn.softmax.forEach((row, i) => row.forEach((p, k) => assert.ok(Math.abs(p - ref.softmax[i]![k]!) < 1e-5, `softmax[${i}][${k}]`)));
  assert.equal(out.cnn.version, 0);
});

// Needs only the gaofei_cnn fixture and the client venv, not TF Serving's test data.
test('`npx tfserve --port=P --model_base_path=<dir>/gaofei_cnn` answers the article\'s client unchanged', { timeout: 120_000 }, async () => {
  const port = await freePort();
  // As the reference article starts tensorflow_model_server; bound to loopback for the test.
  const server = spawnCli([`--port=${port}`, `--model_base_path=${fixture('gaofei_cnn')}`, '--bind_address=127.0.0.1'], { viaNpx: true });
  try {
    await waitForOutput(server, /'default' version 0: AVAILABLE/, 100_000);
    const reference = path.join(fixture('gaofei_cnn'), 'reference.json');
    const script = path.join(repoRoot, 'test', 'clients', 'tf_serving_client.py');
    // No --model_name: TF Serving calls the model "default", and so does tfserve.
    const { stdout } = await run(python, [script, `127.0.0.1:${port}`, '-', 'default', reference], { timeout: 110_000 });
    const out = JSON.parse(stdout.trim().split('\n').pop()!) as ClientOutput;
    const ref = readJson<{ prediction: number[]; softmax: number[][] }>(reference);
    assert.deepEqual(out.cnn.prediction, ref.prediction.slice(0, 4));
    out.cnn.softmax.forEach((row, i) => row.forEach((p, k) => assert.ok(Math.abs(p - ref.softmax[i]![k]!) < 1e-5, `softmax[${i}][${k}]`)));
  } finally {
    if (server.child.exitCode === null && server.child.signalCode === null) {
      process.kill(-server.child.pid!, 'SIGTERM');
      await server.exited;
    }
  }
});
