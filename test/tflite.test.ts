// TFLite models (--prefer_tflite_model) through LiteRT: TF Serving's own
// .tflite test models served over gRPC and REST, their signatures as TF
// Serving makes them, bad input answered while the server keeps serving, and
// the clear errors for a missing library or a model LiteRT cannot run.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import * as grpc from '@grpc/grpc-js';

import { readFlexStringMap } from '../src/engine/tflite/flexbuffer';
import { litertLibraryPath } from '../src/engine/tflite/library';
import { TfliteModel } from '../src/engine/tflite/model';
import { DEFAULT_FLAGS } from '../src/server/flags';
import { type ServingServer, startServer } from '../src/server/server';
import { fixture, freePort, rejectsWithCode, repoRoot, tempDir } from './helpers';
import { grpcPredict } from './grpc-helpers';
import { get, post } from './rest-helpers';

const testdata = path.resolve(repoRoot, '..', 'shared', 'tf_serving_suite', 'tensorflow_serving', 'servables', 'tensorflow', 'testdata');
const skip = fs.existsSync(testdata) ? false : `TF Serving's suite testdata not found at ${testdata}`;
const model = (name: string) => path.join(testdata, name);
/** A shared library that is not LiteRT and that nothing else in the process maps. */
const NOT_LITERT = '/usr/lib/x86_64-linux-gnu/libbz2.so.1';

type Obj = Record<string, unknown>;


const predict = (port: number, request: Obj): Promise<Obj> => grpcPredict(port, request);

const floats = (values: number[], shape: number[]) => ({ dtype: 'DT_FLOAT', tensorShape: { dim: shape.map((size) => ({ size })) }, floatVal: values });

async function rejectsGrpc(promise: Promise<unknown>, code: grpc.status, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: grpc.ServiceError) => {
    assert.equal(error.code, code, `${error.code} ${error.details}`);
    assert.match(error.details, pattern);
    return true;
  });
}

describe('TFLite models over gRPC and REST', { skip }, () => {
  let server: ServingServer;
  let dir: string;

  before(async () => {
    dir = tempDir('tflite');
    const configFile = path.join(dir, 'models.config');
    const entry = (name: string, base: string) => `  config { name: "${name}" base_path: "${base}" model_platform: "tensorflow" }`;
    fs.writeFileSync(
      configFile,
      `model_config_list {\n${entry('plain', model('saved_model_half_plus_two_tflite'))}\n${entry('sigdef', model('saved_model_half_plus_two_tflite_with_sigdef'))}\n` +
        // No model.tflite in this one: --prefer_tflite_model falls back to the SavedModel.
        `${entry('digits', fixture('gaofei_cnn'))}\n}\n`,
    );
    server = await startServer(
      { ...DEFAULT_FLAGS, port: 0, restApiPort: await freePort(), bindAddress: '127.0.0.1', modelConfigFile: configFile, preferTfliteModel: true, fileSystemPollWaitSeconds: 0 },
      { log: () => undefined },
    );
    await server.loaded;
  });

  after(async () => {
    await server?.shutdown(1000);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('Predict on a model without SignatureDefs: serving_default over its tensors, resized to the request', async () => {
    const answer = await predict(server.grpcPort, { modelSpec: { name: 'plain' }, inputs: { x: floats([2], [1]) } });
    assert.deepEqual(answer.modelSpec, { name: 'plain', version: { value: 123 }, signatureName: 'serving_default' });
    const y = (answer.outputs as Record<string, Obj>).y!;
    assert.equal(y.dtype, 'DT_FLOAT');
    assert.deepEqual(y.floatVal, [3]);
    assert.deepEqual(y.tensorShape, { dim: [{ size: 1, name: '' }], unknownRank: false });
    // The model's input is [1,1]; a batch of 3 is resized to, as TF Serving does.
    const batch = await predict(server.grpcPort, { modelSpec: { name: 'plain' }, inputs: { x: floats([1, 2, 3], [3, 1]) } });
    const yb = (batch.outputs as Record<string, Obj>).y!;
    assert.deepEqual(yb.floatVal, [2.5, 3, 3.5]);
    assert.deepEqual((yb.tensorShape as { dim: Array<{ size: number }> }).dim.map((d) => d.size), [3, 1]);
  });

  test("Predict on a model with SignatureDefs: aliases map to the model's tensors", async () => {
    const answer = await predict(server.grpcPort, { modelSpec: { name: 'sigdef', signatureName: 'serving_default' }, inputs: { x: floats([4], [1]) }, outputFilter: ['y'] });
    assert.deepEqual((answer.outputs as Record<string, Obj>).y!.floatVal, [4]);
    // The tensor's own name is not an alias of the signature.
    await rejectsGrpc(predict(server.grpcPort, { modelSpec: { name: 'sigdef' }, inputs: { tflite_input: floats([4], [1]) } }), grpc.status.INVALID_ARGUMENT, /unknown input 'tflite_input'/);
    await rejectsGrpc(predict(server.grpcPort, { modelSpec: { name: 'sigdef', signatureName: 'other' }, inputs: { x: floats([4], [1]) } }), grpc.status.FAILED_PRECONDITION, /Serving signature key "other" not found/);
  });

  test('REST predict and metadata', async () => {
    const rest = server.restPort!;
    const rows = await post(rest, '/v1/models/sigdef:predict', JSON.stringify({ instances: [[1.0], [2.0]] }));
    assert.equal(rows.status, 200, rows.text);
    assert.deepEqual(JSON.parse(rows.text), { predictions: [[2.5], [3]] });
    const columns = await post(rest, '/v1/models/plain/versions/123:predict', JSON.stringify({ inputs: { x: [[6.0]] } }));
    assert.equal(columns.status, 200, columns.text);
    assert.deepEqual(JSON.parse(columns.text), { outputs: [[5]] });
    // Metadata shows the SignatureDef with its tensor name fixed ("tflite_input:0" -> "tflite_input"), as TF Serving's.
    const meta = await get(rest, '/v1/models/sigdef/metadata');
    assert.equal(meta.status, 200, meta.text);
    const def = JSON.parse(meta.text).metadata.signature_def.signature_def.serving_default;
    assert.equal(def.method_name, 'tensorflow/serving/predict');
    assert.equal(def.inputs.x.name, 'tflite_input');
    assert.equal(def.inputs.x.dtype, 'DT_FLOAT');
    assert.equal(def.outputs.y.name, 'y');
    const plain = JSON.parse((await get(rest, '/v1/models/plain/metadata')).text).metadata.signature_def.signature_def.serving_default;
    assert.deepEqual(plain.inputs.x.tensor_shape.dim.map((d: { size: string }) => Number(d.size)), [1, 1]);
  });

  test('bad input is refused with a clear error and the model keeps serving', async () => {
    const port = server.grpcPort;
    await rejectsGrpc(
      predict(port, { modelSpec: { name: 'plain' }, inputs: { x: { dtype: 'DT_INT32', tensorShape: { dim: [{ size: 1 }] }, intVal: [2] } } }),
      grpc.status.INVALID_ARGUMENT,
      /input 'x' has dtype int32 but signature 'serving_default' expects float32/,
    );
    await rejectsGrpc(
      predict(port, { modelSpec: { name: 'plain' }, inputs: { x: floats([1], new Array(9).fill(1)) } }),
      grpc.status.INVALID_ARGUMENT,
      /rank 9, more than the 8 dimensions LiteRT tensors can have/,
    );
    await rejectsGrpc(predict(port, { modelSpec: { name: 'plain' }, inputs: {} }), grpc.status.INVALID_ARGUMENT, /missing input 'x'/);
    const bad = await post(server.restPort!, '/v1/models/plain:predict', JSON.stringify({ inputs: { x: [['a']] } }));
    assert.equal(bad.status, 400, bad.text);
    const answer = await predict(port, { modelSpec: { name: 'plain' }, inputs: { x: floats([10], [1]) } });
    assert.deepEqual((answer.outputs as Record<string, Obj>).y!.floatVal, [7]);
  });

  test('concurrent predicts run off the event loop and each gets its own answer', async () => {
    const values = Array.from({ length: 24 }, (_, i) => i);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    try {
      const answers = await Promise.all(values.map((v) => predict(server.grpcPort, { modelSpec: { name: 'plain' }, inputs: { x: floats([v, v], [2, 1]) } })));
      answers.forEach((answer, i) => assert.deepEqual((answer.outputs as Record<string, Obj>).y!.floatVal, [values[i]! / 2 + 2, values[i]! / 2 + 2]));
    } finally {
      clearInterval(timer);
    }
    assert.ok(ticks > 0);
    // The SavedModel beside them (no model.tflite) still serves.
    const digits = await post(server.restPort!, '/v1/models/digits:predict', JSON.stringify({ instances: [Array.from({ length: 28 }, () => new Array(28).fill(0))] }));
    assert.equal(digits.status, 200, digits.text);
  });
});

describe('TFLite load errors', { skip }, () => {
  test('a missing LiteRT library is FAILED_PRECONDITION saying how to provision it', async () => {
    const saved = process.env.TFSERVE_LITERT_LIBRARY;
    process.env.TFSERVE_LITERT_LIBRARY = path.join(tempDir('nolib'), 'libLiteRt.so');
    try {
      await rejectsWithCode(TfliteModel.open('plain', 123, path.join(model('saved_model_half_plus_two_tflite'), '00000123')), 'FAILED_PRECONDITION', /libLiteRt\.so .*is not at .*scripts\/litert\.mjs/);
    } finally {
      if (saved === undefined) delete process.env.TFSERVE_LITERT_LIBRARY;
      else process.env.TFSERVE_LITERT_LIBRARY = saved;
    }
  });

  test('a library that is not LiteRT is FAILED_PRECONDITION naming the missing function (fresh process)', async () => {
    // The library is opened once per process, so this runs in a child.
    const script = `require(${JSON.stringify(path.join(repoRoot, 'dist', 'src', 'engine', 'tflite', 'model.js'))}).TfliteModel.open('m', 1, ${JSON.stringify(path.join(model('saved_model_half_plus_two_tflite'), '00000123'))})
      .then(() => console.log('loaded'), (e) => console.log(e.code + ': ' + e.message));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { env: { ...process.env, TFSERVE_LITERT_LIBRARY: process.execPath }, timeout: 60_000 });
    assert.match(stdout, /FAILED_PRECONDITION: cannot load .*model\.tflite: (cannot open the LiteRT library|the LiteRT library .* does not export LiteRtCreateEnvironment)/);
  });

  test('a shared library without LiteRT\'s functions is closed again, and the real one loads after it (fresh process)', { skip: fs.existsSync(NOT_LITERT) ? false : `${NOT_LITERT} not found` }, async () => {
    const script = `const { TfliteModel } = require(${JSON.stringify(path.join(repoRoot, 'dist', 'src', 'engine', 'tflite', 'model.js'))});
      const fs = require('fs');
      const mapped = () => fs.readFileSync('/proc/self/maps', 'utf8').includes('libbz2');
      const dir = ${JSON.stringify(path.join(model('saved_model_half_plus_two_tflite'), '00000123'))};
      (async () => {
        const before = mapped();
        process.env.TFSERVE_LITERT_LIBRARY = ${JSON.stringify(NOT_LITERT)};
        const failed = await TfliteModel.open('m', 1, dir).then(() => 'loaded', (e) => e.code + ': ' + e.message);
        const after = mapped();
        process.env.TFSERVE_LITERT_LIBRARY = ${JSON.stringify(litertLibraryPath())};
        const m = await TfliteModel.open('m', 1, dir);
        await m.unload();
        console.log(JSON.stringify({ before, failed, after, retried: 'loaded' }));
      })().catch((e) => console.log(JSON.stringify({ error: String(e) })));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { timeout: 60_000 });
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as { before: boolean; failed: string; after: boolean; retried: string };
    assert.equal(result.before, false, 'libbz2 must not be mapped before the test');
    assert.match(result.failed, /^FAILED_PRECONDITION: .*does not export LiteRtCreateEnvironment/);
    assert.equal(result.after, false, 'the library that is not LiteRT stays mapped');
    assert.equal(result.retried, 'loaded');
  });

  test('runs queue per model: those started before unload all answer, in order; later ones are refused', async () => {
    const plain = await TfliteModel.open('plain', 123, path.join(model('saved_model_half_plus_two_tflite'), '00000123'));
    const values = Array.from({ length: 12 }, (_, i) => i);
    const started = values.map((v) => plain.predict({ x: { shape: [1, 1], data: new Float32Array([v]) } }));
    const unloaded = plain.unload();
    await rejectsWithCode(plain.predict({ x: { shape: [1, 1], data: new Float32Array([1]) } }), 'FAILED_PRECONDITION', /unloaded/);
    const answers = await Promise.all(started);
    answers.forEach((answer, i) => assert.deepEqual([...(answer.y!.data as Float32Array)], [values[i]! / 2 + 2]));
    await unloaded;
  });

  test('a file that is not a TFLite model, and a model with ops LiteRT lacks, fail at load', async () => {
    const dir = tempDir('badtflite');
    try {
      fs.writeFileSync(path.join(dir, 'model.tflite'), 'not a flatbuffer at all');
      await rejectsWithCode(TfliteModel.open('bad', 1, dir), 'INVALID_ARGUMENT', /cannot read .*model\.tflite as a TFLite model/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    // TF Serving's parse_example_tflite needs its ParseExample custom op.
    await rejectsWithCode(TfliteModel.open('pe', 123, path.join(model('parse_example_tflite'), '00000123')), 'INTERNAL', /cannot prepare signature/);
  });
});

test('FlexBuffer maps of strings (TF Serving\'s signature_defs_metadata) are read with every offset checked', () => {
  // {"k": "v"}: key, string, keys vector, map (keys offset, keys width, size, value, type), root (offset, type, width).
  const valid = Uint8Array.from([0x6b, 0, 1, 0x76, 0, 1, 6, 1, 1, 1, 7, 0x14, 2, 0x24, 1]);
  assert.deepEqual([...readFlexStringMap(valid)].map(([k, v]) => [k, Buffer.from(v).toString()]), [['k', 'v']]);
  // Every truncation and every single-byte corruption either parses or throws our error, never anything else.
  for (let end = 0; end < valid.length; end++) {
    assert.throws(() => readFlexStringMap(valid.subarray(0, end)), /malformed FlexBuffer/, `first ${end} bytes`);
  }
  for (let i = 0; i < valid.length; i++) {
    for (const value of [0, 1, 0x7f, 0xff]) {
      const bad = Uint8Array.from(valid);
      bad[i] = value;
      try {
        readFlexStringMap(bad);
      } catch (error) {
        assert.match((error as Error).message, /^malformed FlexBuffer/, `byte ${i} = ${value}`);
      }
    }
  }
});
