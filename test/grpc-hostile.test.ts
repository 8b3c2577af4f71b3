// Hostile gRPC requests against a real server on 127.0.0.1, sent as
// hand-built bytes with the real @grpc/grpc-js client: shapes TensorFlow
// aborts on, requests that would expand to huge tensors, millions of tiny
// strings, names that are Object.prototype's, malformed protobuf. Each is
// answered with its status code, quickly, and the server keeps serving.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

import { startGrpcServer, type GrpcServer } from '../src/server/grpc';
import type { ModelManager } from '../src/serving/model-manager';
import { servingType } from '../src/serving/protos';
import { fixture, needsTfServingData, repoRoot, tfServingModel } from './helpers';
import { grpcRawCall } from './grpc-helpers';
import { modelConfig, testManager } from './manager-helpers';
import { Engine } from '../src/engine/engine';
import { JOBS_MODULE } from '../src/server/hot-path/run';

const skip = needsTfServingData();
const run = promisify(execFile);

const PREDICT = '/tensorflow.serving.PredictionService/Predict';
const CLASSIFY = '/tensorflow.serving.PredictionService/Classify';
const METADATA = '/tensorflow.serving.PredictionService/GetModelMetadata';
const STATUS = '/tensorflow.serving.ModelService/GetModelStatus';
const DT_FLOAT = 1;
const DT_STRING = 7;

const call = grpcRawCall;

/** Calls, expects `code` and a message matching `pattern` within `withinMs`. */
async function refused(client: grpc.Client, method: string, request: Uint8Array, code: grpc.status, pattern: RegExp, withinMs = 2000): Promise<number> {
  const started = performance.now();
  const error = await call(client, method, request).then(
    () => assert.fail(`${method} answered OK; expected ${grpc.status[code]} ${pattern}`),
    (e: grpc.ServiceError) => e,
  );
  const ms = performance.now() - started;
  assert.equal(error.code, code, `${grpc.status[error.code]}: ${error.details}`);
  assert.match(error.details, pattern);
  assert.ok(ms < withinMs, `answered after ${ms.toFixed(0)} ms (limit ${withinMs})`);
  return ms;
}

// --- hand-built messages ---------------------------------------------------

interface TensorSpec {
  dtype: number;
  dims: number[];
  floatVal?: number[];
}

function tensorBytes(spec: TensorSpec): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | 0).int32(spec.dtype);
  w.uint32((2 << 3) | 2).fork();
  for (const size of spec.dims) w.uint32((2 << 3) | 2).fork().uint32((1 << 3) | 0).int64(size).ldelim();
  w.ldelim();
  if (spec.floatVal) {
    w.uint32((5 << 3) | 2).fork();
    for (const v of spec.floatVal) w.float(v);
    w.ldelim();
  }
  return w.finish();
}

interface Spec {
  name: string;
  signatureName?: string;
  versionLabel?: string;
}

function modelSpecBytes(spec: Spec): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | 2).string(spec.name);
  if (spec.signatureName !== undefined) w.uint32((3 << 3) | 2).string(spec.signatureName);
  if (spec.versionLabel !== undefined) w.uint32((4 << 3) | 2).string(spec.versionLabel);
  return w.finish();
}

function predictBytes(spec: Spec, inputs: Array<[string, Uint8Array]>, outputFilter: string[] = []): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | 2).bytes(modelSpecBytes(spec));
  for (const [alias, tensor] of inputs) w.uint32((2 << 3) | 2).fork().uint32((1 << 3) | 2).string(alias).uint32((2 << 3) | 2).bytes(tensor).ldelim();
  for (const alias of outputFilter) w.uint32((3 << 3) | 2).string(alias);
  return w.finish();
}

/** half_plus_two's x = [[1], [2]]. */
const goodX = (): Uint8Array => tensorBytes({ dtype: DT_FLOAT, dims: [2, 1], floatVal: [1, 2] });
const goodPredict = (): Uint8Array => predictBytes({ name: 'hp' }, [['x', goodX()]]);

async function answersGood(client: grpc.Client): Promise<void> {
  const PredictResponse = servingType('tensorflow.serving.PredictResponse');
  const response = PredictResponse.toObject(PredictResponse.decode(await call(client, PREDICT, goodPredict()))) as { outputs: Record<string, { floatVal: number[] }> };
  assert.deepEqual(response.outputs.y!.floatVal, [2.5, 3]);
}

/** A TensorProto of `count` empty string_val with the given dims, built straight into a buffer. */
function manyEmptyStrings(count: number, dims: number[]): Uint8Array {
  const head = tensorBytes({ dtype: DT_STRING, dims });
  const out = Buffer.alloc(head.length + 2 * count);
  out.set(head);
  for (let i = 0; i < count; i++) out[head.length + 2 * i] = (8 << 3) | 2;
  return out;
}

function classifyBytes(spec: Spec, examples: Uint8Array[], context?: Uint8Array): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | 2).bytes(modelSpecBytes(spec));
  w.uint32((2 << 3) | 2).fork();
  w.uint32(((context ? 2 : 1) << 3) | 2).fork();
  for (const example of examples) w.uint32((1 << 3) | 2).bytes(example);
  if (context) w.uint32((2 << 3) | 2).bytes(context);
  w.ldelim();
  w.ldelim();
  return w.finish();
}

const Example = servingType('tensorflow.Example');
const exampleX = (x: number) => Example.encode(Example.fromObject({ features: { feature: { x: { floatList: { value: [x] } } } } })).finish();

// Twice: handlers on this thread (a servable without an engine), and the
// server's hot path, where the request's bytes go to an engine worker that
// decodes, validates, runs and encodes (src/server/hot-path).
for (const mode of ['in-process', 'engine workers'] as const)
describe(`hostile gRPC requests (${mode})`, { skip }, () => {
  let engine: Engine | null = null;
  let manager: ModelManager;
  let server: GrpcServer;
  let small: GrpcServer;
  let client: grpc.Client;
  let smallClient: grpc.Client;

  before(async () => {
    const workerEngine = mode === 'engine workers' ? await Engine.create({ workers: 1, jobs: JOBS_MODULE }) : null;
    engine = workerEngine;
    manager = workerEngine ? testManager({ loader: (basePath, options) => workerEngine.load(basePath, options) }) : testManager();
    await manager.setConfig([
      modelConfig('hp', tfServingModel('saved_model_half_plus_two_cpu'), { versionLabels: { stable: 123 } }),
      modelConfig('dtypes', fixture('dtypes')),
    ]);
    server = await startGrpcServer({ manager, address: '127.0.0.1:0' });
    // One with a small message limit, for responses larger than it.
    small = await startGrpcServer({ manager, address: '127.0.0.1:0', maxMessageBytes: 64 * 1024 });
    const options = { 'grpc.max_send_message_length': -1, 'grpc.max_receive_message_length': -1 };
    client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure(), options);
    smallClient = new grpc.Client(`127.0.0.1:${small.port}`, grpc.credentials.createInsecure(), options);
  });

  after(async () => {
    client?.close();
    smallClient?.close();
    await server?.close(1000);
    await small?.close(1000);
    await manager?.close();
    await engine?.close();
  });

  test('shapes TensorFlow would abort on: rank 255, products past int64, negative dims', async () => {
    const rank255 = predictBytes({ name: 'hp' }, [['x', tensorBytes({ dtype: DT_FLOAT, dims: new Array(255).fill(1), floatVal: [1] })]]);
    await refused(client, PREDICT, rank255, grpc.status.INVALID_ARGUMENT, /input 'x': shape has rank 255; TensorFlow accepts at most 254/);
    const overflow = predictBytes({ name: 'hp' }, [['x', tensorBytes({ dtype: DT_FLOAT, dims: [2 ** 40, 2 ** 40, 0] })]]);
    await refused(client, PREDICT, overflow, grpc.status.INVALID_ARGUMENT, /input 'x': shape \[1099511627776,1099511627776,0\] holds more than 2\^53/);
    const negative = predictBytes({ name: 'hp' }, [['x', tensorBytes({ dtype: DT_FLOAT, dims: [2, -3] })]]);
    await refused(client, PREDICT, negative, grpc.status.INVALID_ARGUMENT, /input 'x': tensor_shape dimension 1 is -3/);
    await answersGood(client);
  });

  test('a 30-byte broadcast request is refused at decode, not expanded', async () => {
    const broadcast = predictBytes({ name: 'hp' }, [['x', tensorBytes({ dtype: DT_FLOAT, dims: [5592405, 3], floatVal: [1] })]]);
    assert.ok(broadcast.length < 40, `${broadcast.length} bytes`);
    // 16777215 floats (67108860 bytes), the inputs entry (256), the model_spec name (32).
    await refused(client, PREDICT, broadcast, grpc.status.INVALID_ARGUMENT, /input 'x': decoding this request would take 67109148 bytes, over its limit of 16777216 .*--request_decode_factor/, 500);
    await answersGood(client);
  });

  test('a tiny string broadcast (the fuzzer\'s hang: [5592405,3] DT_STRING, a few string_val) is refused by the budget at once', async () => {
    // A few short strings, the last repeated over 16777215 elements: 16777215 x 32 bytes of
    // bookkeeping, 6 + 16777212 x 3 bytes of strings, the inputs entry (256), the model_spec (2 x 32).
    const strings = [...tensorBytes({ dtype: DT_STRING, dims: [5592405, 3] })];
    for (const s of ['a', 'bb', 'ccc']) strings.push((8 << 3) | 2, s.length, ...Buffer.from(s));
    const request = predictBytes({ name: 'hp', signatureName: 'regress_x_to_y' }, [['inputs', Uint8Array.from(strings)]]);
    assert.ok(request.length < 100, `${request.length} bytes`);
    await refused(client, PREDICT, request, grpc.status.INVALID_ARGUMENT, /input 'inputs': decoding this request would take 587202842 bytes, over its limit of 16777216 /, 500);
    await answersGood(client);
  });

  test('6M empty string_val for a [3,3] tensor is refused in milliseconds', async () => {
    const request = predictBytes({ name: 'dtypes', signatureName: 'string' }, [['x', manyEmptyStrings(6_000_000, [3, 3])]]);
    assert.ok(request.length > 12_000_000);
    const ms = await refused(client, PREDICT, request, grpc.status.INVALID_ARGUMENT, /input 'x': string_val has 6000000 values but shape \[3,3\] holds 9/, 3000);
    console.log(`# 12 MB of string_val for [3,3]: refused in ${ms.toFixed(0)} ms (transfer included)`);
    await answersGood(client);
  });

  test('6M empty strings for a [2000000,3] string input: answered, or refused by the budget, within seconds', async () => {
    const request = predictBytes({ name: 'dtypes', signatureName: 'string' }, [['x', manyEmptyStrings(6_000_000, [2_000_000, 3])]], ['length']);
    const started = performance.now();
    const outcome = await call(client, PREDICT, request).then(
      (bytes) => ({ ok: bytes }),
      (error: grpc.ServiceError) => ({ error }),
    );
    const ms = performance.now() - started;
    if ('ok' in outcome) {
      const PredictResponse = servingType('tensorflow.serving.PredictResponse');
      const response = PredictResponse.toObject(PredictResponse.decode(outcome.ok), { longs: Number }) as { outputs: Record<string, { tensorShape: { dim: Array<{ size: number }> }; intVal?: number[] }> };
      const length = response.outputs.length!;
      assert.deepEqual(length.tensorShape.dim.map((d) => d.size), [2_000_000, 3]);
      assert.ok((length.intVal ?? []).every((v) => v === 0));
    } else {
      assert.equal(outcome.error.code, grpc.status.INVALID_ARGUMENT, outcome.error.details);
      assert.match(outcome.error.details, /--request_decode_factor/);
    }
    console.log(`# 6M strings for [2000000,3]: ${'ok' in outcome ? 'answered' : 'refused'} in ${ms.toFixed(0)} ms`);
    assert.ok(ms < 15_000, `took ${ms.toFixed(0)} ms`);
    await answersGood(client);
  });

  test("names that are Object.prototype's: signatures, aliases, models, labels", async () => {
    for (const name of ['__proto__', 'constructor', 'toString']) {
      const x = goodX();
      await refused(client, PREDICT, predictBytes({ name: 'hp', signatureName: name }, [['x', x]]), grpc.status.FAILED_PRECONDITION, new RegExp(`Serving signature key "${name}" not found`));
      await refused(client, PREDICT, predictBytes({ name: 'hp' }, [['x', x]], [name]), grpc.status.INVALID_ARGUMENT, new RegExp(`unknown output '${name}'`));
      await refused(client, PREDICT, predictBytes({ name: 'hp' }, [['x', x], [name, x]]), grpc.status.INVALID_ARGUMENT, new RegExp(`unknown input '${name}'`));
      await refused(client, PREDICT, predictBytes({ name }, [['x', x]]), grpc.status.NOT_FOUND, new RegExp(`no model named '${name}'`));
      await refused(client, PREDICT, predictBytes({ name: 'hp', versionLabel: name }, [['x', x]]), grpc.status.INVALID_ARGUMENT, new RegExp(`Unrecognized servable version label: ${name} for model 'hp' \\(labels: stable\\)`));
      await refused(client, STATUS, modelSpecRequest({ name: 'hp', versionLabel: name }), grpc.status.INVALID_ARGUMENT, new RegExp(`Unrecognized servable version label: ${name}`));
      await refused(client, STATUS, modelSpecRequest({ name }), grpc.status.NOT_FOUND, new RegExp(`model ${name}`));
      await refused(client, CLASSIFY, classifyBytes({ name: 'hp', signatureName: name }, [exampleX(1)]), grpc.status.FAILED_PRECONDITION, new RegExp(`Serving signature key "${name}" not found`));
    }
    await answersGood(client);
  });

  test('truncated messages are INVALID_ARGUMENT at every cut', async () => {
    const messages: Array<[string, Uint8Array]> = [
      [PREDICT, goodPredict()],
      [CLASSIFY, classifyBytes({ name: 'hp', signatureName: 'classify_x_to_y' }, [exampleX(1), exampleX(2)])],
      [METADATA, metadataRequest('hp')],
      [STATUS, modelSpecRequest({ name: 'hp' })],
    ];
    for (const [method, bytes] of messages) {
      await call(client, method, bytes); // whole: answered
      for (let cut = 0; cut < bytes.length; cut++) {
        await refused(client, method, bytes.subarray(0, cut), grpc.status.INVALID_ARGUMENT, /./);
      }
    }
    await answersGood(client);
  });

  test('wrong wire types, bad UTF-8, invalid wire types and field 0 are INVALID_ARGUMENT', async () => {
    const badUtf8 = Buffer.from([0xc3, 0x28]);
    const cases: Array<[string, Uint8Array, RegExp]> = [
      // model_spec as a varint
      [PREDICT, Uint8Array.from([0x08, 0x01]), /malformed PredictRequest: field 1 has wire type 0/],
      [STATUS, Uint8Array.from([0x08, 0x01]), /malformed GetModelStatusRequest\.modelSpec: wire type varint, expected length-delimited/],
      // model name not UTF-8
      [PREDICT, Buffer.concat([Uint8Array.from([0x0a, 0x04, 0x0a, 0x02]), badUtf8]), /ModelSpec\.name is not valid UTF-8/],
      [METADATA, Buffer.concat([Uint8Array.from([0x0a, 0x04, 0x0a, 0x02]), badUtf8]), /ModelSpec\.name is not valid UTF-8/],
      // an input alias, an output filter not UTF-8
      [PREDICT, Buffer.concat([predictBytes({ name: 'hp' }, []), Uint8Array.from([0x12, 0x04, 0x0a, 0x02]), badUtf8]), /PredictRequest\.inputs key is not valid UTF-8/],
      [PREDICT, Buffer.concat([goodPredict(), Uint8Array.from([0x1a, 0x02]), badUtf8]), /PredictRequest\.output_filter is not valid UTF-8/],
      // wire type 7, field number 0, an unterminated group
      [PREDICT, Buffer.concat([goodPredict(), Uint8Array.from([0x0f])]), /malformed PredictRequest/],
      [PREDICT, Buffer.concat([goodPredict(), Uint8Array.from([0x00, 0x00])]), /malformed PredictRequest: invalid field number 0/],
      [STATUS, Uint8Array.from([0x0b, 0x10, 0x01]), /malformed GetModelStatusRequest/],
      // a TensorProto whose float_val is cut mid-value, a tensor_shape dim as a fixed64
      [PREDICT, predictBytes({ name: 'hp' }, [['x', Uint8Array.from([0x08, 0x01, 0x2a, 0x03, 0, 0, 0x80])]]), /input 'x'.*float_val is truncated/],
      // an Example whose feature name is not UTF-8
      [CLASSIFY, classifyBytes({ name: 'hp' }, [Buffer.concat([Uint8Array.from([0x0a, 0x08, 0x0a, 0x06, 0x0a, 0x02]), badUtf8, Uint8Array.from([0x12, 0x00])])]), /examples\[0\]: a feature name is not valid UTF-8/],
      // a feature with no value list
      [CLASSIFY, classifyBytes({ name: 'hp' }, [Uint8Array.from([0x0a, 0x07, 0x0a, 0x05, 0x0a, 0x01, 0x78, 0x12, 0x00])]), /examples\[0\]: feature 'x' has no value list/],
    ];
    for (const [method, bytes, pattern] of cases) await refused(client, method, bytes, grpc.status.INVALID_ARGUMENT, pattern);
    await answersGood(client);
  });

  test('examples that would expand past the budget (a large context merged into many examples) are refused', async () => {
    const context = Example.encode(Example.fromObject({ features: { feature: { pad: { bytesList: { value: [Buffer.alloc(100_000)] } } } } })).finish();
    const empties = Array.from({ length: 2000 }, () => new Uint8Array(0));
    const request = classifyBytes({ name: 'hp', signatureName: 'classify_x_to_y' }, empties, context);
    await refused(client, CLASSIFY, request, grpc.status.INVALID_ARGUMENT, /input\.example_list_with_context\.examples\[\d+\]: decoding this request would take/, 1000);
    // With context and examples a sensible size: answered as TF Serving does.
    const ClassificationResponse = servingType('tensorflow.serving.ClassificationResponse');
    const ok = ClassificationResponse.toObject(ClassificationResponse.decode(await call(client, CLASSIFY, classifyBytes({ name: 'hp', signatureName: 'classify_x_to_y' }, [exampleX(2), exampleX(4)])))) as {
      result: { classifications: Array<{ classes: Array<{ score: number }> }> };
    };
    assert.deepEqual(ok.result.classifications.map((c) => c.classes[0]!.score), [3, 4]);
    // The context merges under each example: the example's own x wins, as in TF Serving.
    const merged = ClassificationResponse.toObject(
      ClassificationResponse.decode(await call(client, CLASSIFY, classifyBytes({ name: 'hp', signatureName: 'classify_x_to_y' }, [exampleX(2), new Uint8Array(0)], exampleX(100)))),
    ) as { result: { classifications: Array<{ classes: Array<{ score: number }> }> } };
    assert.deepEqual(merged.result.classifications.map((c) => c.classes[0]!.score), [3, 52]);
  });

  test('a response larger than the message limit is refused before it is built, naming its size and the flag', async () => {
    // 20 bytes of request broadcast to 20000 floats (within the decode floor): 80 KB answer, 64 KiB limit.
    const request = predictBytes({ name: 'hp' }, [['x', tensorBytes({ dtype: DT_FLOAT, dims: [20000, 1], floatVal: [1] })]]);
    await refused(smallClient, PREDICT, request, grpc.status.RESOURCE_EXHAUSTED, /the PredictResponse would be \d{5} bytes, more than the 65536 .*--grpc_max_message_bytes/);
    await answersGood(smallClient);
  });

  test('the response limit is the send limit in effect: grpc.max_send_message_length from the channel arguments replaces the flag\'s', async () => {
    const request = predictBytes({ name: 'hp' }, [['x', tensorBytes({ dtype: DT_FLOAT, dims: [20000, 1], floatVal: [1] })]]);
    for (const [sendLimit, answered] of [[-1, true], [1024 * 1024, true], [32 * 1024, false]] as const) {
      const channelOptions = { 'grpc.max_send_message_length': sendLimit };
      const limited = await startGrpcServer({ manager, address: '127.0.0.1:0', maxMessageBytes: 64 * 1024, channelOptions });
      const limitedClient = new grpc.Client(`127.0.0.1:${limited.port}`, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1 });
      try {
        if (answered) assert.ok((await call(limitedClient, PREDICT, request)).length > 64 * 1024);
        else await refused(limitedClient, PREDICT, request, grpc.status.RESOURCE_EXHAUSTED, /the PredictResponse would be \d{5} bytes, more than the 32768 /);
      } finally {
        limitedClient.close();
        await limited.close(1000);
      }
    }
  });

  test('the tensorflow-serving-api Python client sending a rank-255 shape gets INVALID_ARGUMENT, then a good answer', { timeout: 180_000 }, async () => {
    const env = await run(process.execPath, [path.join(repoRoot, 'scripts', 'python-env.mjs'), '--clients'], { timeout: 600_000 });
    const python = env.stdout.trim().split('\n').pop()!;
    const script = path.join(repoRoot, 'test', 'clients', 'hostile_client.py');
    const { stdout } = await run(python, [script, `127.0.0.1:${server.port}`, 'hp'], { timeout: 170_000 });
    const out = JSON.parse(stdout.trim().split('\n').pop()!) as { rank255: { code: string; details: string; ms: number }; good: number[] };
    assert.equal(out.rank255.code, 'INVALID_ARGUMENT');
    assert.match(out.rank255.details, /input 'x': shape has rank 255/);
    assert.ok(out.rank255.ms < 2000, `${out.rank255.ms} ms`);
    assert.deepEqual(out.good, [2.5, 3]);
  });
});

function modelSpecRequest(spec: Spec): Uint8Array {
  return protobuf.Writer.create().uint32((1 << 3) | 2).bytes(modelSpecBytes(spec)).finish();
}

function metadataRequest(name: string): Uint8Array {
  return protobuf.Writer.create().uint32((1 << 3) | 2).bytes(modelSpecBytes({ name })).uint32((2 << 3) | 2).string('signature_def').finish();
}
