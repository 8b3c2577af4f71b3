// The Open Inference Protocol v2 in detail, against real servers on
// 127.0.0.1: gRPC's typed InferTensorContents for every datatype that has a
// field (int8 negatives as 10-byte varints, int64/uint64 past 2^53, BYTES
// with NULs) through the dtypes fixture's identity signatures, ModelMetadata
// and the signature mapping, REST's flat and nested data, mixed binary and
// JSON outputs, and the request id.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import * as grpc from '@grpc/grpc-js';

import { type GrpcServer, startGrpcServer } from '../src/server/grpc';
import { ServerMetrics } from '../src/server/metrics';
import { type RestServer, startRestServer } from '../src/server/rest';
import type { ModelManager } from '../src/serving/model-manager';
import { v2Type } from '../src/serving/v2/grpc-wire';
import { fixture, needsTfServingData, tfServingModel } from './helpers';
import { grpcRawCall } from './grpc-helpers';
import { modelConfig, testManager } from './manager-helpers';
import { get, httpRequest, post } from './rest-helpers';

const skip = needsTfServingData();

let manager: ModelManager;
let grpcServer: GrpcServer;
let rest: RestServer;
let client: grpc.Client;
const metrics = new ServerMetrics({ processMetrics: false });

before(async () => {
  if (skip) return;
  manager = testManager();
  await manager.setConfig([modelConfig('half_plus_two', tfServingModel('saved_model_half_plus_two_cpu')), modelConfig('dtypes', fixture('dtypes'))]);
  grpcServer = await startGrpcServer({ manager, address: '127.0.0.1:0', onRequest: metrics.grpcRecorder() });
  rest = await startRestServer({ manager, host: '127.0.0.1', port: 0, timeoutMs: 0, maxBodyBytes: 1 << 20, metrics });
  client = new grpc.Client(`127.0.0.1:${grpcServer.port}`, grpc.credentials.createInsecure());
});

after(async () => {
  client?.close();
  await grpcServer?.close(1000);
  await rest?.close(1000);
  await manager?.close();
});

function call(method: string, request: Uint8Array): Promise<Buffer> {
  return grpcRawCall(client, `/inference.GRPCInferenceService/${method}`, request);
}

function encode(type: string, object: Record<string, unknown>): Uint8Array {
  const t = v2Type(type);
  return t.encode(t.fromObject(object)).finish();
}

interface InferResponse {
  modelName: string;
  modelVersion: string;
  id: string;
  outputs: Array<{ name: string; datatype: string; shape: Array<{ toString(): string }> }>;
  rawOutputContents: Uint8Array[];
}

async function inferContents(signature: string, datatype: string, contents: Record<string, unknown>): Promise<{ datatype: string; shape: number[]; raw: Buffer }> {
  const answer = await call(
    'ModelInfer',
    encode('ModelInferRequest', {
      modelName: 'dtypes',
      id: `typed-${signature}`,
      parameters: { signature_name: { stringParam: signature } },
      inputs: [{ name: 'x', datatype, shape: [1, 3], contents }],
      outputs: [{ name: 'y' }],
    }),
  );
  const response = v2Type('ModelInferResponse').decode(answer) as unknown as InferResponse;
  assert.equal(response.id, `typed-${signature}`);
  assert.equal(response.modelVersion, '1');
  const raw = response.rawOutputContents[0]!;
  return { datatype: response.outputs[0]!.datatype, shape: response.outputs[0]!.shape.map((d) => Number(d.toString())), raw: Buffer.from(raw) };
}

describe('v2 gRPC: typed InferTensorContents', { skip }, () => {
  test('every datatype with a contents field round-trips through identity', async () => {
    const cases: Array<[string, string, Record<string, unknown>, (raw: Buffer) => unknown[], unknown[]]> = [
      ['int8', 'INT8', { intContents: [-128, -1, 127] }, (r) => Array.from(new Int8Array(r.buffer, r.byteOffset, 3)), [-128, -1, 127]],
      ['int16', 'INT16', { intContents: [-32768, 7, 32767] }, (r) => [r.readInt16LE(0), r.readInt16LE(2), r.readInt16LE(4)], [-32768, 7, 32767]],
      ['int32', 'INT32', { intContents: [-(2 ** 31), 0, 2 ** 31 - 1] }, (r) => [r.readInt32LE(0), r.readInt32LE(4), r.readInt32LE(8)], [-(2 ** 31), 0, 2 ** 31 - 1]],
      ['uint8', 'UINT8', { uintContents: [0, 128, 255] }, (r) => Array.from(r.subarray(0, 3)), [0, 128, 255]],
      ['uint32', 'UINT32', { uintContents: [0, 2 ** 31, 2 ** 32 - 1] }, (r) => [r.readUInt32LE(0), r.readUInt32LE(4), r.readUInt32LE(8)], [0, 2 ** 31, 2 ** 32 - 1]],
      ['int64', 'INT64', { int64Contents: ['-9223372036854775808', '9007199254740993', '-3'] }, (r) => [r.readBigInt64LE(0), r.readBigInt64LE(8), r.readBigInt64LE(16)], [-(2n ** 63n), 2n ** 53n + 1n, -3n]],
      ['uint64', 'UINT64', { uint64Contents: ['18446744073709551615', '0', '9007199254740993'] }, (r) => [r.readBigUInt64LE(0), r.readBigUInt64LE(8), r.readBigUInt64LE(16)], [2n ** 64n - 1n, 0n, 2n ** 53n + 1n]],
      ['float32', 'FP32', { fp32Contents: [1.5, -0.25, 3e38] }, (r) => [r.readFloatLE(0), r.readFloatLE(4), r.readFloatLE(8)], [1.5, -0.25, Math.fround(3e38)]],
      ['float64', 'FP64', { fp64Contents: [Math.PI, -1e300, 0] }, (r) => [r.readDoubleLE(0), r.readDoubleLE(8), r.readDoubleLE(16)], [Math.PI, -1e300, 0]],
      ['bool', 'BOOL', { boolContents: [true, false, true] }, (r) => Array.from(r.subarray(0, 3)), [1, 0, 1]],
    ];
    for (const [signature, datatype, contents, read, expected] of cases) {
      const out = await inferContents(signature, datatype, contents);
      assert.equal(out.datatype, datatype, signature);
      assert.deepEqual(out.shape, [1, 3], signature);
      assert.deepEqual(read(out.raw), expected, signature);
    }
    // BYTES: answered as 4-byte little-endian lengths + bytes.
    const out = await inferContents('string', 'BYTES', { bytesContents: [Buffer.from('a\u0000b'), Buffer.alloc(0), Buffer.from([0xff, 0xfe])] });
    assert.equal(out.datatype, 'BYTES');
    assert.deepEqual([...out.raw], [3, 0, 0, 0, 0x61, 0, 0x62, 0, 0, 0, 0, 2, 0, 0, 0, 0xff, 0xfe]);
  });

  test('ModelMetadata and ModelReady follow the signature mapping', async () => {
    const meta = v2Type('ModelMetadataResponse').toObject(v2Type('ModelMetadataResponse').decode(await call('ModelMetadata', encode('ModelMetadataRequest', { name: 'half_plus_two' }))), { longs: Number });
    assert.deepEqual(meta, {
      name: 'half_plus_two',
      versions: ['123'],
      platform: 'tensorflow_savedmodel',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 1] }],
      outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 1] }],
    });
    // dtypes has no serving_default: no inputs or outputs to list by default.
    const dtypes = v2Type('ModelMetadataResponse').toObject(v2Type('ModelMetadataResponse').decode(await call('ModelMetadata', encode('ModelMetadataRequest', { name: 'dtypes', version: '1' }))), { arrays: true });
    assert.deepEqual([dtypes.inputs, dtypes.outputs], [[], []]);
    const ready = (name: string, version = '') => call('ModelReady', encode('ModelReadyRequest', { name, version })).then((b) => v2Type('ModelReadyResponse').toObject(v2Type('ModelReadyResponse').decode(b)).ready === true);
    assert.equal(await ready('half_plus_two'), true);
    assert.equal(await ready('half_plus_two', '123'), true);
    assert.equal(await ready('half_plus_two', '7'), false);
    await assert.rejects(ready('nope'), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
    // A signature the model does not have.
    await assert.rejects(
      call('ModelInfer', encode('ModelInferRequest', { modelName: 'dtypes', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], contents: { fp32Contents: [1, 2, 3] } }] })),
      (e: grpc.ServiceError) => e.code === grpc.status.FAILED_PRECONDITION && /Serving signature key "serving_default" not found .*'signature_name' parameter/.test(e.details),
    );
  });
});

describe('v2 REST: data layouts, outputs, metadata', { skip }, () => {
  const infer = (body: unknown) => post(rest.port, '/v2/models/dtypes/infer', JSON.stringify(body));

  test('flat and nested data are the same tensor; the id comes back', async () => {
    const request = (data: unknown) => ({ id: 'r1', parameters: { signature_name: 'int32' }, inputs: [{ name: 'x', datatype: 'INT32', shape: [2, 3], data }], outputs: [{ name: 'doubled' }] });
    const flat = await infer(request([1, 2, 3, 4, 5, 6]));
    const nested = await infer(request([[1, 2, 3], [4, 5, 6]]));
    assert.equal(flat.status, 200, flat.text);
    assert.equal(flat.text, nested.text);
    assert.deepEqual(JSON.parse(flat.text), { model_name: 'dtypes', model_version: '1', id: 'r1', outputs: [{ name: 'doubled', datatype: 'INT32', shape: [2, 3], data: [2, 4, 6, 8, 10, 12] }] });
  });

  test('binary and JSON outputs in one answer (binary_data per output, binary_data_output for the rest)', async () => {
    const body = JSON.stringify({
      parameters: { signature_name: 'float32', binary_data_output: true },
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }],
      outputs: [{ name: 'y', parameters: { binary_data: false } }, { name: 'doubled' }],
    });
    // Read as bytes: the answer is JSON followed by raw floats.
    const answer = await new Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: rest.port, method: 'POST', path: '/v2/models/dtypes/infer', headers: { 'Content-Length': Buffer.byteLength(body) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.end(body);
    });
    const length = Number(answer.headers['inference-header-content-length']);
    assert.equal(answer.headers['content-type'], 'application/octet-stream');
    const json = JSON.parse(answer.body.subarray(0, length).toString('utf8'));
    assert.deepEqual(json.outputs, [
      { name: 'y', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] },
      { name: 'doubled', datatype: 'FP32', shape: [1, 3], parameters: { binary_data_size: 12 } },
    ]);
    const raw = answer.body.subarray(length);
    assert.deepEqual([raw.readFloatLE(0), raw.readFloatLE(4), raw.readFloatLE(8)], [2, 4, 6]);
  });

  test('metadata, readiness and the server\'s description', async () => {
    const meta = JSON.parse((await get(rest.port, '/v2/models/dtypes/versions/1?signature_name=uint64')).text);
    assert.deepEqual(meta.inputs, [{ name: 'x', datatype: 'UINT64', shape: [-1, 3] }]);
    assert.deepEqual(JSON.parse((await get(rest.port, '/v2/models/dtypes')).text).inputs, []);
    const server = JSON.parse((await get(rest.port, '/v2')).text);
    assert.equal(server.name, 'tfserve');
    assert.deepEqual(server.extensions, ['binary_tensor_data', 'parameters']);
    assert.deepEqual(JSON.parse((await get(rest.port, '/v2/health/ready')).text), { ready: true });
    assert.deepEqual(JSON.parse((await get(rest.port, '/v2/models/half_plus_two/ready')).text), { ready: true });
    // Complex outputs have no v2 datatype: named in the error.
    const complex = await infer({ parameters: { signature_name: 'complex64' }, inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] });
    assert.equal(complex.status, 400);
    assert.match(JSON.parse(complex.text).error, /input 'x' is DT_COMPLEX64, which the v2 protocol has no datatype for/);
    const wrongMethod = await httpRequest(rest.port, 'DELETE', '/v2/models/dtypes');
    assert.equal(wrongMethod.status, 400);
    assert.match(JSON.parse(wrongMethod.text).error, /this endpoint takes GET/);
  });
});

test('v2 requests are counted in the Prometheus metrics like TF Serving\'s, failures too', { skip }, async () => {
  await post(rest.port, '/v2/models/half_plus_two/infer', JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1], data: [1] }] }));
  await post(rest.port, '/v2/models/half_plus_two/infer', JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP64', shape: [1, 1], data: [1] }] }));
  await call('ModelInfer', encode('ModelInferRequest', { modelName: 'half_plus_two', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1] }], rawInputContents: [new Uint8Array(new Float32Array([1]).buffer)] }));
  const text = await metrics.exposition();
  assert.match(text, /:tensorflow:serving:request_latency_count\{model_name="half_plus_two",API="v2_infer",entrypoint="REST"\} 2/);
  assert.match(text, /:tensorflow:serving:request_latency_count\{model_name="half_plus_two",API="model_infer",entrypoint="GRPC"\} [1-9]/);
  assert.match(text, /:tensorflow:serving:request_count\{model_name="half_plus_two",status="INVALID_ARGUMENT"\} [1-9]/);
});
