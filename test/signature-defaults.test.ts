// SignatureDef.defaults: a Predict that leaves out an input the signature
// has a default for gets the default, over gRPC and REST, as TF Serving's
// predict_util does; an input without a default is still required.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as grpc from '@grpc/grpc-js';

import { loadModel } from '../src/engine/model';
import { DEFAULT_FLAGS } from '../src/server/flags';
import { type ServingServer, startServer } from '../src/server/server';
import { grpcPredict } from './grpc-helpers';
import { fixture, freePort } from './helpers';
import { post } from './rest-helpers';

type Obj = Record<string, unknown>;

const predict = (port: number, request: Obj) => grpcPredict(port, request, { enums: String, defaults: true });

const floats = (values: number[], shape: number[]) => ({ dtype: 'DT_FLOAT', tensorShape: { dim: shape.map((size) => ({ size })) }, floatVal: values });
const int32 = (value: number) => ({ dtype: 'DT_INT32', tensorShape: {}, intVal: [value] });
const y = (answer: Obj) => (answer.outputs as Record<string, { floatVal: number[] }>).y!.floatVal;

describe('SignatureDef.defaults', () => {
  let server: ServingServer;

  before(async () => {
    server = await startServer(
      { ...DEFAULT_FLAGS, port: 0, restApiPort: await freePort(), bindAddress: '127.0.0.1', modelName: 'defaults', modelBasePath: fixture('signature_defaults'), fileSystemPollWaitSeconds: 0 },
      { log: () => undefined },
    );
    await server.loaded;
  });

  after(async () => {
    await server?.shutdown(1000);
  });

  test('the signature carries its defaults as serialized TensorProtos', async () => {
    const model = await loadModel(fixture('signature_defaults'));
    try {
      const signature = model.signatures.serving_default!;
      assert.deepEqual(Object.keys(signature.defaults ?? {}), ['scale']);
      assert.deepEqual(Object.keys(signature.inputs), ['offset', 'scale', 'x']);
    } finally {
      await model.unload();
    }
  });

  test('gRPC: a left-out input with a default gets it; a given one wins', async () => {
    const port = server.grpcPort;
    assert.deepEqual(y(await predict(port, { modelSpec: { name: 'defaults' }, inputs: { x: floats([1, 2], [2]), offset: int32(1) } })), [3, 5]);
    assert.deepEqual(y(await predict(port, { modelSpec: { name: 'defaults' }, inputs: { x: floats([1, 2], [2]), offset: int32(0), scale: floats([10], []) } })), [10, 20]);
    // Repeated: the default is decoded afresh for each request.
    assert.deepEqual(y(await predict(port, { modelSpec: { name: 'defaults' }, inputs: { x: floats([4], [1]), offset: int32(0) } })), [8]);
  });

  test('gRPC: an input without a default is still required', async () => {
    await assert.rejects(predict(server.grpcPort, { modelSpec: { name: 'defaults' }, inputs: { x: floats([1], [1]) } }), (error: grpc.ServiceError) => {
      assert.equal(error.code, grpc.status.INVALID_ARGUMENT);
      assert.match(error.details, /missing input 'offset'/);
      return true;
    });
  });

  test('REST: columnar inputs may leave the defaulted input out', async () => {
    const rest = server.restPort!;
    const columnar = await post(rest, '/v1/models/defaults:predict', JSON.stringify({ inputs: { x: [1.5, 2], offset: 1 } }));
    assert.equal(columnar.status, 200, columnar.text);
    assert.deepEqual(JSON.parse(columnar.text), { outputs: [4, 5] });
    const missing = await post(rest, '/v1/models/defaults:predict', JSON.stringify({ inputs: { x: [1.5, 2] } }));
    assert.equal(missing.status, 400, missing.text);
    assert.match(missing.text, /missing input 'offset'/);
  });
});
