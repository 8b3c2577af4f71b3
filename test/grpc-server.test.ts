// The gRPC front door with a real @grpc/grpc-js client: TF Serving's golden
// answers, every service and method, and bad requests that must get their
// status code while the server keeps serving.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import * as grpc from '@grpc/grpc-js';

import { startGrpcServer, type GrpcRequestInfo, type GrpcServer } from '../src/server/grpc';
import type { ModelManager } from '../src/serving/model-manager';
import { servingType } from '../src/serving/protos';
import { fixture, needsTfServingData, readJson, tfServingData, tfServingModel } from './helpers';
import { modelConfig, testManager } from './manager-helpers';

const skip = needsTfServingData();

type Obj = Record<string, unknown>;

class Client {
  readonly raw: grpc.Client;
  constructor(port: number) {
    this.raw = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
      'grpc.max_send_message_length': -1,
      'grpc.max_receive_message_length': -1,
    });
  }

  callBytes(method: string, request: Uint8Array): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.raw.makeUnaryRequest(
        method,
        (b: Uint8Array) => Buffer.from(b),
        (b: Buffer) => b,
        request,
        (error, response) => (error ? reject(error) : resolve(response!)),
      );
    });
  }

  async call(method: string, requestType: string, request: Obj, responseType: string): Promise<Obj> {
    const RequestType = servingType(requestType);
    const bytes = await this.callBytes(method, RequestType.encode(RequestType.fromObject(request)).finish());
    const ResponseType = servingType(responseType);
    return ResponseType.toObject(ResponseType.decode(bytes), { longs: String, enums: String, defaults: true }) as Obj;
  }

  predict(request: Obj): Promise<Obj> {
    return this.call('/tensorflow.serving.PredictionService/Predict', 'tensorflow.serving.PredictRequest', request, 'tensorflow.serving.PredictResponse');
  }
}

async function rejectsGrpc(promise: Promise<unknown>, code: number, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: grpc.ServiceError) => {
    assert.equal(error.code, code, `${error.code} ${error.details}`);
    assert.match(error.details, pattern);
    return true;
  });
}

const floatInput = (values: number[], shape: number[]) => ({ dtype: 'DT_FLOAT', tensorShape: { dim: shape.map((size) => ({ size })) }, floatVal: values });
const exampleX = (x: number) => ({ features: { feature: { x: { floatList: { value: [x] } } } } });

function snakeKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(snakeKeys);
  if (value && typeof value === 'object' && !(value instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), snakeKeys(v)]));
  }
  return value;
}

describe('gRPC server', { skip }, () => {
  let manager: ModelManager;
  let server: GrpcServer;
  let client: Client;
  const calls: GrpcRequestInfo[] = [];

  before(async () => {
    manager = testManager();
    // TF Serving's metadata golden file was recorded for a model named "default".
    await manager.setConfig([
      modelConfig('default', tfServingModel('saved_model_half_plus_two_cpu')),
      modelConfig('versions', tfServingModel('saved_model_half_plus_two_2_versions'), { versionPolicy: { kind: 'all' }, versionLabels: { stable: 123, canary: 124 } }),
      modelConfig('cnn', fixture('gaofei_cnn')),
    ]);
    server = await startGrpcServer({ manager, address: '127.0.0.1:0', maxMessageBytes: 4 * 1024 * 1024, onRequest: (info) => calls.push(info) });
    client = new Client(server.port);
  });

  after(async () => {
    client?.raw.close();
    await server?.close(1000);
    await manager?.close();
  });

  test('Predict: TF Serving golden value, model_spec echoed with the version served', async () => {
    // Exactly TF Serving's golden request: x = DT_FLOAT [1], although the signature says [-1,1].
    const response = await client.predict({ modelSpec: { name: 'default' }, inputs: { x: floatInput([2], [1]) }, outputFilter: ['y'] });
    const y = (response.outputs as Record<string, Obj>).y!;
    assert.deepEqual(y.floatVal, [3]);
    assert.equal(y.dtype, 'DT_FLOAT');
    assert.deepEqual(y.tensorShape, { dim: [{ size: '1', name: '' }], unknownRank: false });
    assert.deepEqual(response.modelSpec, { name: 'default', version: { value: '123' }, signatureName: 'serving_default' });
    assert.deepEqual(calls.at(-1), { ...calls.at(-1)!, service: 'tensorflow.serving.PredictionService', method: 'Predict', model: 'default', code: 'OK' });
  });

  test('Predict: versions and labels choose the servable; tensor_content inputs; int64 outputs', async () => {
    for (const [spec, version] of [
      [{ name: 'versions' }, '124'],
      [{ name: 'versions', version: { value: 123 } }, '123'],
      [{ name: 'versions', versionLabel: 'canary' }, '124'],
      [{ name: 'versions', versionLabel: 'stable' }, '123'],
    ] as const) {
      const response = await client.predict({ modelSpec: spec, inputs: { x: floatInput([1, 2, 5], [3, 1]) } });
      assert.equal((response.modelSpec as { version: { value: string } }).version.value, version, JSON.stringify(spec));
      assert.deepEqual((response.outputs as Record<string, Obj>).y!.floatVal, [2.5, 3, 4.5]);
    }
    const ref = readJson<{ images: number[][]; prediction: number[]; softmax: number[][] }>(path.join(fixture('gaofei_cnn'), 'reference.json'));
    const images = Float32Array.from(ref.images.slice(0, 8).flat());
    const response = await client.predict({
      modelSpec: { name: 'cnn', signatureName: 'serving_default' },
      inputs: { image: { dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: 8 }, { size: 28 }, { size: 28 }] }, tensorContent: Buffer.from(images.buffer) } },
    });
    const outputs = response.outputs as Record<string, Obj>;
    assert.deepEqual(outputs.prediction!.int64Val, ref.prediction.slice(0, 8).map(String));
    assert.equal(outputs.prediction!.dtype, 'DT_INT64');
    const softmax = outputs.softmax!.floatVal as number[];
    softmax.forEach((p, i) => assert.ok(Math.abs(p - ref.softmax[Math.floor(i / 10)]![i % 10]!) < 1e-5));
    assert.equal((response.modelSpec as { version: { value: string } }).version.value, '0');
  });

  test('Classify, Regress, MultiInference: TF Serving golden values', async () => {
    const classify = await client.call(
      '/tensorflow.serving.PredictionService/Classify',
      'tensorflow.serving.ClassificationRequest',
      { modelSpec: { name: 'default', signatureName: 'classify_x_to_y' }, input: { exampleList: { examples: [exampleX(2)] } } },
      'tensorflow.serving.ClassificationResponse',
    );
    assert.deepEqual(classify.result, { classifications: [{ classes: [{ label: '', score: 3 }] }] });
    assert.deepEqual(classify.modelSpec, { name: 'default', version: { value: '123' }, signatureName: 'classify_x_to_y' });

    const regress = await client.call(
      '/tensorflow.serving.PredictionService/Regress',
      'tensorflow.serving.RegressionRequest',
      {
        modelSpec: { name: 'default', signatureName: 'regress_x_to_y' },
        input: { exampleListWithContext: { examples: [exampleX(2), {}], context: exampleX(4) } },
      },
      'tensorflow.serving.RegressionResponse',
    );
    // The second example takes x from the context.
    assert.deepEqual(regress.result, { regressions: [{ value: 3 }, { value: 4 }] });

    const multi = await client.call(
      '/tensorflow.serving.PredictionService/MultiInference',
      'tensorflow.serving.MultiInferenceRequest',
      {
        tasks: [
          { modelSpec: { name: 'default', signatureName: 'regress_x_to_y' }, methodName: 'tensorflow/serving/regress' },
          { modelSpec: { name: 'default', signatureName: 'classify_x_to_y' }, methodName: 'tensorflow/serving/classify' },
        ],
        input: { exampleList: { examples: [exampleX(2), exampleX(4)] } },
      },
      'tensorflow.serving.MultiInferenceResponse',
    );
    const results = multi.results as Obj[];
    assert.deepEqual(results[0]!.regressionResult, { regressions: [{ value: 3 }, { value: 4 }] });
    assert.deepEqual(results[1]!.classificationResult, { classifications: [{ classes: [{ label: '', score: 3 }] }, { classes: [{ label: '', score: 4 }] }] });
    assert.deepEqual(results[1]!.modelSpec, { name: 'default', version: { value: '123' }, signatureName: 'classify_x_to_y' });
  });

  test("GetModelMetadata matches TF Serving's answer field for field", async () => {
    const bytes = await client.callBytes(
      '/tensorflow.serving.PredictionService/GetModelMetadata',
      servingType('tensorflow.serving.GetModelMetadataRequest').encode({ modelSpec: { name: 'default' }, metadataField: ['signature_def'] }).finish(),
    );
    const Response = servingType('tensorflow.serving.GetModelMetadataResponse');
    const response = Response.toObject(Response.decode(bytes), { longs: String, defaults: true }) as { modelSpec: Obj; metadata: Record<string, { type_url: string; value: Uint8Array }> };
    const any = response.metadata.signature_def!;
    assert.equal(any.type_url, 'type.googleapis.com/tensorflow.serving.SignatureDefMap');
    const SignatureDefMap = servingType('tensorflow.serving.SignatureDefMap');
    const signatureDefMap = snakeKeys(SignatureDefMap.toObject(SignatureDefMap.decode(any.value), { longs: String, enums: String, defaults: true }));
    const golden = readJson<{ model_spec: Obj; metadata: { signature_def: unknown } }>(path.join(tfServingData, 'half_plus_two_model_metadata.json'));
    assert.deepEqual(signatureDefMap, golden.metadata.signature_def);
    assert.deepEqual(snakeKeys(response.modelSpec), { name: 'default', signature_name: '', version: { value: golden.model_spec.version } });

    await rejectsGrpc(
      client.call('/tensorflow.serving.PredictionService/GetModelMetadata', 'tensorflow.serving.GetModelMetadataRequest', { modelSpec: { name: 'default' } }, 'tensorflow.serving.GetModelMetadataResponse'),
      grpc.status.INVALID_ARGUMENT,
      /at least one metadata_field/,
    );
    await rejectsGrpc(
      client.call('/tensorflow.serving.PredictionService/GetModelMetadata', 'tensorflow.serving.GetModelMetadataRequest', { modelSpec: { name: 'default' }, metadataField: ['graph'] }, 'tensorflow.serving.GetModelMetadataResponse'),
      grpc.status.INVALID_ARGUMENT,
      /Metadata field graph is not supported/,
    );
  });

  test('ModelService: GetModelStatus and HandleReloadConfigRequest', async () => {
    const status = (name: string, extra: Obj = {}) =>
      client.call('/tensorflow.serving.ModelService/GetModelStatus', 'tensorflow.serving.GetModelStatusRequest', { modelSpec: { name, ...extra } }, 'tensorflow.serving.GetModelStatusResponse');
    assert.deepEqual(await status('default'), { modelVersionStatus: [{ version: '123', state: 'AVAILABLE', status: { errorCode: 'OK', errorMessage: '' } }] });
    assert.deepEqual(((await status('versions', { versionLabel: 'stable' })).modelVersionStatus as Obj[]).map((s) => s.version), ['123']);
    assert.deepEqual(((await status('versions')).modelVersionStatus as Obj[]).map((s) => s.version), ['124', '123']);
    await rejectsGrpc(status('nope'), grpc.status.NOT_FOUND, /Could not find any versions of model nope/);

    const reload = (models: Obj[]) =>
      client.call(
        '/tensorflow.serving.ModelService/HandleReloadConfigRequest',
        'tensorflow.serving.ReloadConfigRequest',
        { config: { modelConfigList: { config: models } } },
        'tensorflow.serving.ReloadConfigResponse',
      );
    const current = [
      { name: 'default', basePath: tfServingModel('saved_model_half_plus_two_cpu'), modelPlatform: 'tensorflow' },
      {
        name: 'versions',
        basePath: tfServingModel('saved_model_half_plus_two_2_versions'),
        modelPlatform: 'tensorflow',
        modelVersionPolicy: { all: {} },
        versionLabels: { stable: 123, canary: 124 },
      },
      { name: 'cnn', basePath: fixture('gaofei_cnn'), modelPlatform: 'tensorflow' },
    ];
    const added = { name: 'tf2', basePath: tfServingModel('saved_model_half_plus_two_tf2_cpu'), modelPlatform: 'tensorflow' };
    assert.deepEqual(await reload([...current, added]), { status: { errorCode: 'OK', errorMessage: '' } });
    assert.equal(((await status('tf2')).modelVersionStatus as Obj[])[0]!.state, 'AVAILABLE');
    const tf2 = await client.predict({ modelSpec: { name: 'tf2' }, inputs: { x: floatInput([4], [1]) } });
    assert.deepEqual((tf2.outputs as Record<string, Obj>).y!.floatVal, [4]);
    assert.deepEqual(await reload(current), { status: { errorCode: 'OK', errorMessage: '' } });
    await rejectsGrpc(client.predict({ modelSpec: { name: 'tf2' }, inputs: { x: floatInput([4], [1]) } }), grpc.status.NOT_FOUND, /no model named 'tf2'/);
    await rejectsGrpc(reload([{ name: 'x' }]), grpc.status.INVALID_ARGUMENT, /model 'x' has no base_path/);
    assert.equal(manager.modelNames().length, 3, 'a refused reload changes nothing');
  });

  test('grpc.health.v1.Health: overall and per model', async () => {
    const check = (service: string) =>
      client.call('/grpc.health.v1.Health/Check', 'grpc.health.v1.HealthCheckRequest', { service }, 'grpc.health.v1.HealthCheckResponse');
    assert.deepEqual(await check(''), { status: 'SERVING' });
    assert.deepEqual(await check('cnn'), { status: 'SERVING' });
    await rejectsGrpc(check('nope'), grpc.status.NOT_FOUND, /unknown service or model 'nope'/);
    const Request = servingType('grpc.health.v1.HealthCheckRequest');
    const Response = servingType('grpc.health.v1.HealthCheckResponse');
    const stream = client.raw.makeServerStreamRequest(
      '/grpc.health.v1.Health/Watch',
      (b: Uint8Array) => Buffer.from(b),
      (b: Buffer) => b,
      Request.encode({ service: 'default' }).finish(),
    );
    const first = await new Promise<Buffer>((resolve, reject) => {
      stream.once('data', resolve);
      stream.once('error', reject);
    });
    assert.deepEqual(Response.toObject(Response.decode(first), { enums: String }), { status: 'SERVING' });
    stream.on('error', () => undefined); // the cancellation below ends it with CANCELLED
    stream.cancel();
  });

  test('bad requests get their status code and the server keeps serving', async () => {
    const good = { modelSpec: { name: 'default' }, inputs: { x: floatInput([2], [1, 1]) } };
    const cases: Array<[string, Promise<unknown>, number, RegExp]> = [
      ['malformed protobuf', client.callBytes('/tensorflow.serving.PredictionService/Predict', Uint8Array.from([0x0a, 0xff, 0x01])), grpc.status.INVALID_ARGUMENT, /malformed PredictRequest/],
      ['malformed classify', client.callBytes('/tensorflow.serving.PredictionService/Classify', Uint8Array.from([0x12, 0x09, 0x01])), grpc.status.INVALID_ARGUMENT, /malformed ClassificationRequest/],
      ['no model name', client.predict({ inputs: good.inputs }), grpc.status.INVALID_ARGUMENT, /model_spec.name is missing/],
      ['unknown model', client.predict({ ...good, modelSpec: { name: 'nope' } }), grpc.status.NOT_FOUND, /Servable not found for request: Latest\(nope\)/],
      ['unknown version', client.predict({ ...good, modelSpec: { name: 'default', version: { value: 7 } } }), grpc.status.NOT_FOUND, /Specific\(default, 7\).*available: 123/],
      ['unknown label', client.predict({ ...good, modelSpec: { name: 'versions', versionLabel: 'beta' } }), grpc.status.INVALID_ARGUMENT, /Unrecognized servable version label: beta/],
      ['unknown signature', client.predict({ ...good, modelSpec: { name: 'default', signatureName: 'nope' } }), grpc.status.FAILED_PRECONDITION, /Serving signature key "nope" not found/],
      ['wrong dtype', client.predict({ ...good, inputs: { x: { dtype: 'DT_INT32', tensorShape: { dim: [{ size: 1 }, { size: 1 }] }, intVal: [2] } } }), grpc.status.INVALID_ARGUMENT, /input 'x' has dtype int32 but signature 'serving_default' expects float32/],
      // Shapes are left to TF, as in TF Serving: the CNN's reshape refuses 2 values.
      ['wrong shape', client.predict({ modelSpec: { name: 'cnn' }, inputs: { image: floatInput([1, 2], [1, 2]) } }), grpc.status.INVALID_ARGUMENT, /reshape/i],
      ['missing input', client.predict({ modelSpec: { name: 'default', signatureName: 'regress_x2_to_y3' }, inputs: { x: floatInput([1], [1, 1]) } }), grpc.status.INVALID_ARGUMENT, /unknown input 'x'|missing input/],
      ['no inputs for a signature that takes some', client.predict({ modelSpec: { name: 'default' } }), grpc.status.INVALID_ARGUMENT, /missing input 'x'/],
      ['unknown output', client.predict({ ...good, outputFilter: ['z'] }), grpc.status.INVALID_ARGUMENT, /unknown output 'z'/],
      ['repeated output alias', client.predict({ ...good, outputFilter: ['y', 'y'] }), grpc.status.INVALID_ARGUMENT, /duplicate output tensor alias: y/],
      ['bad tensor', client.predict({ ...good, inputs: { x: floatInput([1, 2, 3], [1, 1]) } }), grpc.status.INVALID_ARGUMENT, /input 'x': float_val has more values/],
      [
        'empty batch',
        client.call('/tensorflow.serving.PredictionService/Classify', 'tensorflow.serving.ClassificationRequest', { modelSpec: { name: 'default', signatureName: 'classify_x_to_y' }, input: { exampleList: {} } }, 'tensorflow.serving.ClassificationResponse'),
        grpc.status.INVALID_ARGUMENT,
        /Input is empty/,
      ],
      [
        'classify on a regress signature',
        client.call('/tensorflow.serving.PredictionService/Classify', 'tensorflow.serving.ClassificationRequest', { modelSpec: { name: 'default', signatureName: 'regress_x_to_y' }, input: { exampleList: { examples: [exampleX(1)] } } }, 'tensorflow.serving.ClassificationResponse'),
        grpc.status.INVALID_ARGUMENT,
        /neither a 'classes' nor a 'scores' output/,
      ],
      [
        'oversized message',
        client.predict({ ...good, inputs: { x: { dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: 1100000 }, { size: 1 }] }, tensorContent: Buffer.alloc(4400000) } } }),
        grpc.status.RESOURCE_EXHAUSTED,
        /larger than max/,
      ],
    ];
    // All requests are in flight at once; settle them together so none rejects unobserved.
    await Promise.all(
      cases.map(([what, promise, code, pattern]) =>
        rejectsGrpc(promise, code, pattern).catch((error: Error) => {
          throw new Error(`${what}: ${error.message}`);
        }),
      ),
    );
    const response = await client.predict(good);
    assert.deepEqual((response.outputs as Record<string, Obj>).y!.floatVal, [3]);
    const failed = calls.filter((c) => c.code !== 'OK').map((c) => c.code);
    assert.ok(failed.includes('NOT_FOUND') && failed.includes('INVALID_ARGUMENT') && failed.includes('FAILED_PRECONDITION'), failed.join(', '));
  });

  test('failed calls are counted under the model they name, wherever the request carries it', async () => {
    const multi = { tasks: [{ modelSpec: { name: 'default', signatureName: 'nope' }, methodName: 'tensorflow/serving/classify' }], input: { exampleList: { examples: [exampleX(1)] } } };
    await assert.rejects(client.call('/tensorflow.serving.PredictionService/MultiInference', 'tensorflow.serving.MultiInferenceRequest', multi, 'tensorflow.serving.MultiInferenceResponse'));
    assert.deepEqual(calls.at(-1), { ...calls.at(-1)!, method: 'MultiInference', model: 'default' });
    assert.notEqual(calls.at(-1)!.code, 'OK');
    const reload = { config: { modelConfigList: { config: [{ name: 'x', basePath: '/nowhere', modelPlatform: 'pytorch' }] } } };
    await assert.rejects(client.call('/tensorflow.serving.ModelService/HandleReloadConfigRequest', 'tensorflow.serving.ReloadConfigRequest', reload, 'tensorflow.serving.ReloadConfigResponse'));
    assert.deepEqual(calls.at(-1), { ...calls.at(-1)!, method: 'HandleReloadConfigRequest', model: '' });
    assert.notEqual(calls.at(-1)!.code, 'OK');
  });
});
