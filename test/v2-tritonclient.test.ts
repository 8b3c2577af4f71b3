// Triton's own Python client (tritonclient.http and tritonclient.grpc, as
// its users write it) against tfserve's Open Inference Protocol v2 front
// doors, served in-process on the same ports as TF Serving's API: metadata,
// health, half_plus_two, the seed CNN (TF's reference outputs), int64 past
// 2^53, BYTES (binary and JSON), FP16, BOOL, the binary-data extension, the
// errors (404/NOT_FOUND, 400/INVALID_ARGUMENT naming the input) and
// ModelStreamInfer.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';

import { type GrpcServer, startGrpcServer } from '../src/server/grpc';
import { type RestServer, startRestServer } from '../src/server/rest';
import type { ModelManager } from '../src/serving/model-manager';
import { assertClose, fixture, needsTfServingData, readJson, repoRoot, tfServingModel } from './helpers';
import { modelConfig, testManager } from './manager-helpers';

const run = promisify(execFile);
const skip = needsTfServingData();

let manager: ModelManager;
let grpcServer: GrpcServer;
let rest: RestServer;
let python: string;

before(async () => {
  if (skip) return;
  const env = await run(process.execPath, [path.join(repoRoot, 'scripts', 'python-env.mjs'), '--clients'], { timeout: 600_000 });
  python = env.stdout.trim().split('\n').pop()!;
  manager = testManager();
  await manager.setConfig([
    modelConfig('half_plus_two', tfServingModel('saved_model_half_plus_two_cpu')),
    modelConfig('gaofei_cnn', fixture('gaofei_cnn')),
    modelConfig('dtypes', fixture('dtypes')),
  ]);
  grpcServer = await startGrpcServer({ manager, address: '127.0.0.1:0' });
  rest = await startRestServer({ manager, host: '127.0.0.1', port: 0, timeoutMs: 0, maxBodyBytes: 64 * 1024 * 1024 });
});

after(async () => {
  await grpcServer?.close(1000);
  await rest?.close(1000);
  await manager?.close();
});

type Outputs = Record<string, [number[], unknown]>;
interface Inferred {
  version: string;
  outputs: Outputs;
}
interface Failure {
  status: string;
  message: string;
}
interface Session {
  meta: {
    live: boolean;
    ready: boolean;
    model_ready: boolean;
    server: { name: string; extensions: string[] };
    model: { name: string; versions: string[]; platform: string; inputs: Array<{ name: string; datatype: string; shape: Array<number | string> }>; outputs: Array<{ name: string; datatype: string; shape: Array<number | string> }> };
  };
  hp: Inferred;
  hp_default_outputs: Inferred;
  hp_json?: Inferred;
  errors: Record<'unknown_model' | 'wrong_datatype' | 'wrong_shape' | 'unknown_output', Failure>;
  cnn: Inferred;
  cnn_json?: Inferred;
  int64: Inferred;
  bytes: Inferred;
  bytes_json?: Inferred;
  fp16: Inferred;
  bool: Inferred;
  stream?: Array<{ id?: string; y?: number[][]; error?: string }>;
}

const int64Input = [
  [2n ** 53n + 1n, -5n, 7n],
  [-(2n ** 62n), 0n, 2n ** 40n],
];
// Python's bytes as the client's latin-1 rendering: b"\xff\x00z" -> "\u00ff\u0000z".
const words = [
  ['abc', 'Hello', ''],
  ['tf serve', '\u00ff\u0000z', 'MiXeD'],
];

test('tritonclient (http and grpc) gets TF\'s outputs from tfserve\'s v2 front doors', { skip, timeout: 300_000 }, async () => {
  const reference = path.join(fixture('gaofei_cnn'), 'reference.json');
  const script = path.join(repoRoot, 'test', 'clients', 'triton_client.py');
  const { stdout } = await run(python, [script, `127.0.0.1:${rest.port}`, `127.0.0.1:${grpcServer.port}`, 'half_plus_two', 'gaofei_cnn', reference, 'dtypes'], { timeout: 240_000 });
  const out = JSON.parse(stdout.trim().split('\n').pop()!) as { http: Session; grpc: Session };
  const ref = readJson<{ prediction: number[]; softmax: number[][] }>(reference);

  for (const protocol of ['http', 'grpc'] as const) {
    const s = out[protocol];
    const at = (what: string) => `${protocol}: ${what}`;
    // Health and metadata. gRPC's JSON prints int64 shapes as strings.
    assert.deepEqual([s.meta.live, s.meta.ready, s.meta.model_ready], [true, true, true], at('health'));
    assert.equal(s.meta.server.name, 'tfserve');
    assert.ok(s.meta.server.extensions.includes('binary_tensor_data'), at('extensions'));
    const dims = (shape: Array<number | string>) => shape.map(Number);
    assert.deepEqual({ ...s.meta.model, inputs: s.meta.model.inputs.map((t) => ({ ...t, shape: dims(t.shape) })), outputs: s.meta.model.outputs.map((t) => ({ ...t, shape: dims(t.shape) })) }, {
      name: 'half_plus_two',
      versions: ['123'],
      platform: 'tensorflow_savedmodel',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 1] }],
      outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 1] }],
    });

    // half_plus_two: y = x / 2 + 2, binary (default) and JSON, named outputs and all of them.
    const hp = { version: '123', outputs: { y: [[3, 1], [[2.5], [3], [4.5]]] } };
    assert.deepEqual(s.hp, hp, at('half_plus_two'));
    assert.deepEqual(s.hp_default_outputs, hp, at('half_plus_two, default outputs'));
    if (protocol === 'http') assert.deepEqual(s.hp_json, hp, at('half_plus_two, JSON'));

    // The seed CNN against TF's reference outputs (the first 4 images); prediction is INT64.
    for (const [name, cnn] of [['binary', s.cnn], ['json', s.cnn_json]] as const) {
      if (!cnn) continue;
      assert.equal(cnn.version, '0');
      assert.deepEqual(cnn.outputs.prediction, [[4], ref.prediction.slice(0, 4).map(String)], at(`cnn ${name} prediction`));
      const [shape, softmax] = cnn.outputs.softmax as [number[], number[][]];
      assert.deepEqual(shape, [4, 10]);
      softmax.forEach((row, i) => assertClose(row, ref.softmax[i]!, 1e-5, at(`cnn ${name} softmax[${i}]`)));
    }

    // INT64 past 2^53, exactly (decimal strings from the client), through TF's identity and x + x.
    const asText = (rows: bigint[][], f: (v: bigint) => bigint) => rows.map((row) => row.map((v) => BigInt.asIntN(64, f(v)).toString()));
    assert.deepEqual(s.int64.outputs.y, [[2, 3], asText(int64Input, (v) => v)], at('int64 y'));
    assert.deepEqual(s.int64.outputs.doubled, [[2, 3], asText(int64Input, (v) => 2n * v)], at('int64 doubled'));

    // BYTES: binary strings (a NUL and 0xff too) through identity, upper() and length().
    const upper = (w: string) => w.replace(/[a-z]/g, (c) => c.toUpperCase());
    assert.deepEqual(s.bytes.outputs.y, [[2, 3], words], at('bytes y'));
    assert.deepEqual(s.bytes.outputs.upper, [[2, 3], words.map((row) => row.map(upper))], at('bytes upper'));
    assert.deepEqual(s.bytes.outputs.length, [[2, 3], words.map((row) => row.map((w) => w.length))], at('bytes length'));
    if (protocol === 'http') {
      // JSON strings are UTF-8: "é" is 2 bytes, and TF's upper() leaves it as it is.
      assert.deepEqual(s.bytes_json!.outputs.length, [[2, 3], [[3, 5, 0], [8, 2, 5]]], at('bytes JSON length'));
      assert.deepEqual(s.bytes_json!.outputs.upper, [[2, 3], [['ABC', 'HELLO', ''], ['TF SERVE', 'é', 'MIXED']]], at('bytes JSON upper'));
    }

    // FP16 (raw only: it has no typed contents) and BOOL.
    assert.deepEqual(s.fp16.outputs.doubled, [[1, 3], [[1, -4, 2001]]], at('fp16'));
    assert.deepEqual(s.bool.outputs.not, [[1, 3], [[false, true, false]]], at('bool'));

    // Errors: the status, and a message naming what was wrong.
    const notFound = protocol === 'http' ? '404' : 'StatusCode.NOT_FOUND';
    const invalid = protocol === 'http' ? '400' : 'StatusCode.INVALID_ARGUMENT';
    assert.equal(s.errors.unknown_model.status, notFound, at('unknown model'));
    assert.match(s.errors.unknown_model.message, /no_such_model/);
    assert.equal(s.errors.wrong_datatype.status, invalid, at('wrong datatype'));
    assert.match(s.errors.wrong_datatype.message, /input 'x' has datatype FP64, but the model expects FP32/);
    assert.equal(s.errors.wrong_shape.status, invalid, at('wrong shape'));
    assert.match(s.errors.wrong_shape.message, /input 'x' has shape \[3\]/);
    assert.equal(s.errors.unknown_output.status, invalid, at('unknown output'));
    assert.match(s.errors.unknown_output.message, /output 'nope'/);
  }

  // ModelStreamInfer: answers in order, a bad request answered in error_message without ending the stream.
  assert.deepEqual(out.grpc.stream, [
    { id: '0', y: [[2.5]] },
    { id: '1', y: [[3]] },
    { id: '2', y: [[3.5]] },
    { error: "input 'x' has datatype FP64, but the model expects FP32" },
  ]);
});
