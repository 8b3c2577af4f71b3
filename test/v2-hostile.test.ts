// Hostile Open Inference Protocol v2 requests against real servers on
// 127.0.0.1 (grpc-js with hand-built bytes, node:http with hand-built
// bodies): shapes TensorFlow aborts on, counts that do not match shapes,
// binary sections that lie about their sizes, malformed protobuf, floods of
// parameters, Object.prototype's names. Each is answered 400 /
// INVALID_ARGUMENT (404 / NOT_FOUND for unknown models) naming what was
// wrong, and the servers keep serving.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

import { type GrpcServer, startGrpcServer } from '../src/server/grpc';
import { type RestServer, startRestServer } from '../src/server/rest';
import type { ModelManager } from '../src/serving/model-manager';
import { decodeInferRequest, v2Type } from '../src/serving/v2/grpc-wire';
import { requestBudget } from '../src/serving/wire';
import { assertClose, fixture, needsTfServingData, readJson, tfServingModel } from './helpers';
import { grpcRawCall } from './grpc-helpers';
import { modelConfig, testManager } from './manager-helpers';
import { get, post } from './rest-helpers';

const skip = needsTfServingData();
const INFER = '/inference.GRPCInferenceService/ModelInfer';

let manager: ModelManager;
let grpcServer: GrpcServer;
let rest: RestServer;
let client: grpc.Client;

before(async () => {
  if (skip) return;
  manager = testManager();
  await manager.setConfig([
    modelConfig('half_plus_two', tfServingModel('saved_model_half_plus_two_cpu')),
    modelConfig('dtypes', fixture('dtypes')),
    modelConfig('gaofei_cnn', fixture('gaofei_cnn')),
  ]);
  grpcServer = await startGrpcServer({ manager, address: '127.0.0.1:0' });
  rest = await startRestServer({ manager, host: '127.0.0.1', port: 0, timeoutMs: 0, maxBodyBytes: 64 * 1024 * 1024 });
  client = new grpc.Client(`127.0.0.1:${grpcServer.port}`, grpc.credentials.createInsecure());
});

after(async () => {
  client?.close();
  await grpcServer?.close(1000);
  await rest?.close(1000);
  await manager?.close();
});

function call(method: string, request: Uint8Array): Promise<Buffer> {
  return grpcRawCall(client, method, request);
}

async function refused(request: Uint8Array, code: grpc.status, pattern: RegExp, withinMs = 2000): Promise<void> {
  const started = performance.now();
  const error = await call(INFER, request).then(
    () => assert.fail(`ModelInfer answered OK; expected ${grpc.status[code]} ${pattern}`),
    (e: grpc.ServiceError) => e,
  );
  assert.equal(error.code, code, `${grpc.status[error.code]}: ${error.details}`);
  assert.match(error.details, pattern);
  const ms = performance.now() - started;
  assert.ok(ms < withinMs, `answered after ${ms.toFixed(0)} ms`);
}

interface InputObject {
  name: string;
  datatype: string;
  shape: Array<number | string>;
  contents?: Record<string, unknown>;
}

function inferRequest(inputs: InputObject[], raw?: Uint8Array[], extra: Record<string, unknown> = {}): Uint8Array {
  const type = v2Type('ModelInferRequest');
  return type.encode(type.fromObject({ modelName: 'half_plus_two', inputs, ...(raw ? { rawInputContents: raw } : {}), ...extra })).finish();
}

function floats(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

/** y = x/2 + 2 still answers: the server survived what came before. */
async function stillServes(): Promise<void> {
  const answer = await call(INFER, inferRequest([{ name: 'x', datatype: 'FP32', shape: [2, 1] }], [floats([2, 4])]));
  const response = v2Type('ModelInferResponse').decode(answer) as unknown as { rawOutputContents: Uint8Array[] };
  const raw = response.rawOutputContents[0]!;
  assert.deepEqual(Array.from(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))), [3, 4]);
  const rest2 = await post(rest.port, '/v2/models/half_plus_two/infer', JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1], data: [6] }] }));
  assert.equal(rest2.status, 200, rest2.text);
  assert.deepEqual(JSON.parse(rest2.text).outputs[0].data, [5]);
}

describe('v2 gRPC: hostile ModelInfer requests', { skip }, () => {
  test('shapes TF would abort on: rank 255, negative dims, products past 2^53', async () => {
    await refused(inferRequest([{ name: 'x', datatype: 'FP32', shape: new Array(255).fill(1) }], [floats([1])]), grpc.status.INVALID_ARGUMENT, /input 'x': shape has rank 255/);
    await refused(inferRequest([{ name: 'x', datatype: 'FP32', shape: ['-1', 1] }], [floats([1])]), grpc.status.INVALID_ARGUMENT, /input 'x': shape\[0\] is -1/);
    await refused(inferRequest([{ name: 'x', datatype: 'FP32', shape: [2 ** 40, 2 ** 40, 0] }], [floats([])]), grpc.status.INVALID_ARGUMENT, /input 'x': shape .* more than 2\^53/);
    await stillServes();
  });

  test('counts that do not match the shape are refused before anything is allocated', async () => {
    // A billion elements declared, 4 bytes given.
    await refused(inferRequest([{ name: 'x', datatype: 'FP32', shape: [1e9, 1] }], [floats([1])]), grpc.status.INVALID_ARGUMENT, /input 'x': 4 bytes of raw data, but shape \[1000000000,1\] of float32 needs 4000000000/);
    await refused(inferRequest([{ name: 'x', datatype: 'FP32', shape: [1e9, 1], contents: { fp32Contents: [1] } }]), grpc.status.INVALID_ARGUMENT, /input 'x': fp32_contents has 1 values, but shape \[1000000000,1\] holds 1000000000/);
    await refused(inferRequest([{ name: 'x', datatype: 'FP32', shape: [1, 1] }], [floats([1]), floats([2])]), grpc.status.INVALID_ARGUMENT, /2 raw_input_contents for 1 inputs/);
    await refused(inferRequest([{ name: 'x', datatype: 'FP32', shape: [1, 1], contents: { intContents: [1] } }]), grpc.status.INVALID_ARGUMENT, /input 'x': contents of a FP32 tensor go in fp32_contents/);
    await stillServes();
  });

  test('datatypes: unknown ones, FP16 without raw data, integers out of range, malformed BYTES', async () => {
    await refused(inferRequest([{ name: 'x', datatype: 'FP128', shape: [1, 1] }], [floats([1])]), grpc.status.INVALID_ARGUMENT, /input 'x': unsupported datatype 'FP128'/);
    await refused(inferRequest([{ name: 'x', datatype: 'FP16', shape: [1, 1], contents: { fp32Contents: [1] } }]), grpc.status.INVALID_ARGUMENT, /input 'x': FP16 has no InferTensorContents field/);
    await refused(
      inferRequest([{ name: 'x', datatype: 'INT8', shape: [1, 3], contents: { intContents: [1, 300, -1] } }], undefined, { parameters: { signature_name: { stringParam: 'int8' } }, modelName: 'dtypes' }),
      grpc.status.INVALID_ARGUMENT,
      /input 'x': int_contents\[1\] is 300, out of range for INT8/,
    );
    // A BYTES element whose 4-byte length points past the end of the data.
    const lying = new Uint8Array([5, 0, 0, 0, 0x61]);
    await refused(
      inferRequest([{ name: 'x', datatype: 'BYTES', shape: [1, 3] }], [lying], { parameters: { signature_name: { stringParam: 'string' } }, modelName: 'dtypes' }),
      grpc.status.INVALID_ARGUMENT,
      /input 'x': BYTES element 0 says 5 bytes, but only 1 are left/,
    );
    await stillServes();
  });

  test('malformed protobuf, floods of parameters, and Object.prototype\'s names', async () => {
    const good = inferRequest([{ name: 'x', datatype: 'FP32', shape: [1, 1] }], [floats([1])]);
    await refused(good.subarray(0, good.length - 3), grpc.status.INVALID_ARGUMENT, /malformed ModelInferRequest/);
    // model_name (field 1) sent as a varint.
    await refused(new Uint8Array([0x08, 0x01]), grpc.status.INVALID_ARGUMENT, /malformed ModelInferRequest.modelName: wire type varint/);
    // Invalid UTF-8 in model_name.
    await refused(Buffer.from([0x0a, 0x02, 0xc3, 0x28]), grpc.status.INVALID_ARGUMENT, /modelName is not valid UTF-8/);
    // 150k tiny parameters: each becomes a JS entry, so they are charged to the decode budget.
    const writer = protobuf.Writer.create();
    writer.uint32((1 << 3) | 2).string('half_plus_two');
    for (let i = 0; i < 150_000; i++) {
      writer.uint32((4 << 3) | 2).fork();
      writer.uint32((1 << 3) | 2).string(String(i));
      writer.ldelim();
    }
    await refused(writer.finish(), grpc.status.INVALID_ARGUMENT, /ModelInferRequest.parameters: decoding this request would take/, 5000);
    await refused(inferRequest([{ name: '__proto__', datatype: 'FP32', shape: [1, 1] }], [floats([1])]), grpc.status.INVALID_ARGUMENT, /input '__proto__' is not an input of model 'half_plus_two'/);
    await refused(inferRequest([{ name: 'x', datatype: 'FP32', shape: [1, 1] }], [floats([1])], { outputs: [{ name: 'constructor' }] }), grpc.status.INVALID_ARGUMENT, /output 'constructor' is not an output/);
    await refused(inferRequest([{ name: 'x', datatype: 'FP32', shape: [1, 1] }], [floats([1])], { modelName: 'toString' }), grpc.status.NOT_FOUND, /toString/);
    await stillServes();
  });
});

describe('v2 gRPC wire: empty tensors without contents', () => {
  test('a 0-element input of every contents kind decodes to an empty tensor (no contents field at all)', () => {
    for (const [datatype, shape] of [['BYTES', [0]], ['BYTES', [2, 0]], ['FP32', [0]], ['INT64', [3, 0]]] as const) {
      const bytes = inferRequest([{ name: 'x', datatype, shape: [...shape] }]);
      const request = decodeInferRequest(bytes, requestBudget(bytes.length));
      const tensor = request.inputs[0]!.tensor;
      assert.deepEqual(tensor.shape, shape, datatype);
      if (datatype === 'BYTES') assert.deepEqual(tensor.data, { bytes: new Uint8Array(0), offsets: new Uint32Array(1) });
      else assert.equal((tensor.data as ArrayLike<unknown>).length, 0, datatype);
    }
  });
});

describe('v2 REST: hostile infer bodies', { skip }, () => {
  const infer = (body: string | Buffer, headers?: Record<string, string | number>, model = 'half_plus_two') => post(rest.port, `/v2/models/${model}/infer`, body, headers);
  const refusedRest = async (body: string | Buffer, status: number, pattern: RegExp, headers?: Record<string, string | number>) => {
    const answer = await infer(body, headers);
    assert.equal(answer.status, status, answer.text);
    assert.match((JSON.parse(answer.text) as { error: string }).error, pattern);
  };
  const x = (extra: Record<string, unknown>) => JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1], data: [1], ...extra }] });

  test('shapes, counts and datatypes', async () => {
    await refusedRest(x({ shape: new Array(255).fill(1) }), 400, /input 'x': shape has rank 255/);
    await refusedRest(x({ shape: [-1, 1] }), 400, /input 'x': shape\[0\] is -1/);
    await refusedRest(x({ shape: [1e9, 1] }), 400, /input 'x': 'data' holds 1 elements, but shape \[1000000000,1\] needs 1000000000/);
    await refusedRest(x({ datatype: 'COMPLEX' }), 400, /input 'x': unsupported datatype 'COMPLEX'/);
    await refusedRest(x({ data: ['a'] }), 400, /input 'x': .*not of expected type: float/);
    await refusedRest(x({ data: [[1, 2], [3]] }), 400, /input 'x': Encountered list at unexpected size/);
    await refusedRest(JSON.stringify({ inputs: [{ name: '__proto__', datatype: 'FP32', shape: [1, 1], data: [1] }] }), 400, /input '__proto__' is not an input/);
    await refusedRest(JSON.stringify({ inputs: {} }), 400, /'inputs' must be a list/);
    await refusedRest('{"inputs": [' + '['.repeat(400) + ']'.repeat(400) + ']}', 400, /Nesting deeper than 300/);
    await stillServes();
  });

  test('the binary-data extension: sizes that lie, left-over bytes, headers that are not numbers', async () => {
    const header = x({ data: undefined, parameters: { binary_data_size: 8 } });
    const body = (json: string, binary: Uint8Array) => Buffer.concat([Buffer.from(json), binary]);
    await refusedRest(body(header, floats([1])), 400, /input 'x': 'binary_data_size' is 8, but only 4 bytes of binary data are left/, { 'Inference-Header-Content-Length': header.length });
    const four = x({ data: undefined, parameters: { binary_data_size: 4 } });
    await refusedRest(body(four, floats([1, 2])), 400, /4 bytes of binary data follow the JSON header that no input's 'binary_data_size' accounts for/, { 'Inference-Header-Content-Length': four.length });
    await refusedRest(body(four, floats([1])), 400, /Inference-Header-Content-Length is 99999/, { 'Inference-Header-Content-Length': 99999 });
    await refusedRest(body(four, floats([1])), 400, /Inference-Header-Content-Length '-3' is not a byte count/, { 'Inference-Header-Content-Length': '-3' });
    await refusedRest(body(x({ parameters: { binary_data_size: 4 } }), floats([1])), 400, /both 'data' and 'binary_data_size'/, { 'Inference-Header-Content-Length': x({ parameters: { binary_data_size: 4 } }).length });
    // And the extension working: binary in, binary out.
    const answer = await infer(body(four, floats([6])), { 'Inference-Header-Content-Length': four.length });
    assert.equal(answer.status, 200, answer.text);
    assert.match(answer.text, /"data": \[5\.0\]/);
    await stillServes();
  });

  test('routes: unknown paths, methods and models', async () => {
    assert.equal((await get(rest.port, '/v2/nothing')).status, 404);
    assert.equal((await get(rest.port, '/v2/models/half_plus_two/infer')).status, 400);
    assert.equal((await post(rest.port, '/v2/models/nope/infer', '{}')).status, 404);
    assert.equal((await get(rest.port, '/v2/models/nope/ready')).status, 404);
    assert.equal((await get(rest.port, '/v2/models/half_plus_two/versions/7/ready')).status, 400);
    assert.equal((await get(rest.port, '/v2/models/half_plus_two/versions/123/ready')).status, 200);
    assert.equal((await get(rest.port, '/v2/models/half_plus_two/versions/abc')).status, 400);
    assert.equal((await get(rest.port, '/v2/health/live')).status, 200);
    await stillServes();
  });
});

describe('v2 REST: large bodies and answers go through the REST codec\'s workers', { skip }, () => {
  test('answers of 16Ki elements or more are written by a worker: JSON, binary, and BYTES', async () => {
    const rows = 6000;
    const values = Array.from({ length: rows * 3 }, (_, i) => i - 9000);
    const request = (outputs: unknown[]) => JSON.stringify({ parameters: { signature_name: 'int32' }, inputs: [{ name: 'x', datatype: 'INT32', shape: [rows, 3], data: values }], outputs });
    const json = await post(rest.port, '/v2/models/dtypes/infer', request([{ name: 'doubled' }, { name: 'y' }]));
    assert.equal(json.status, 200, json.text.slice(0, 300));
    const answer = JSON.parse(json.text) as { outputs: Array<{ name: string; shape: number[]; data: number[] }> };
    assert.deepEqual(answer.outputs.map((o) => [o.name, o.shape]), [['doubled', [rows, 3]], ['y', [rows, 3]]]);
    assert.deepEqual(answer.outputs[0]!.data, values.map((v) => 2 * v));
    assert.deepEqual(answer.outputs[1]!.data, values);
    const words = Array.from({ length: rows * 3 }, (_, i) => `w${i}`);
    const strings = await post(rest.port, '/v2/models/dtypes/infer', JSON.stringify({ parameters: { signature_name: 'string' }, inputs: [{ name: 'x', datatype: 'BYTES', shape: [rows, 3], data: words }], outputs: [{ name: 'upper' }] }));
    assert.equal(strings.status, 200, strings.text.slice(0, 300));
    assert.deepEqual((JSON.parse(strings.text) as { outputs: Array<{ data: string[] }> }).outputs[0]!.data, words.map((w) => w.toUpperCase()));
  });

  test('64 CNN images as JSON (~400 KB) and as binary data give TF\'s reference outputs', async () => {
    const ref = readJson<{ images: number[][]; prediction: number[]; softmax: number[][] }>(path.join(fixture('gaofei_cnn'), 'reference.json'));
    const shape = [ref.images.length, 28, 28];
    const check = (text: string) => {
      const answer = JSON.parse(text) as { outputs: Array<{ name: string; shape: number[]; data: number[] }> };
      const byName = new Map(answer.outputs.map((o) => [o.name, o]));
      assert.deepEqual(byName.get('prediction')!.data, ref.prediction);
      assertClose(byName.get('softmax')!.data, ref.softmax.flat(), 1e-5, 'softmax');
    };
    const json = JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape, data: ref.images }] });
    assert.ok(json.length > 64 * 1024);
    const answer = await post(rest.port, '/v2/models/gaofei_cnn/infer', json);
    assert.equal(answer.status, 200, answer.text.slice(0, 300));
    check(answer.text);
    const header = JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape, parameters: { binary_data_size: ref.images.flat().length * 4 } }] });
    const binary = await post(rest.port, '/v2/models/gaofei_cnn/infer', Buffer.concat([Buffer.from(header), floats(ref.images.flat())]), {
      'Inference-Header-Content-Length': header.length,
      'Content-Type': 'application/octet-stream',
    });
    assert.equal(binary.status, 200, binary.text.slice(0, 300));
    check(binary.text);
  });
});
