// The request hot path: front-door jobs (src/server/hot-path) run by the
// engine's workers (EngineModel.runJob, engine-jobs.ts, job-outbox.ts), and
// the main thread's model_spec read that picks the version first.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

import { newSharedFlag } from '../src/engine/cancellation';
import { Engine, type EngineModel } from '../src/engine/engine';
import { CallAbort } from '../src/server/call-abort';
import { startGrpcServer, type GrpcServer } from '../src/server/grpc';
import type { GrpcJobPayload } from '../src/server/hot-path/target';
import { JOBS_MODULE } from '../src/server/hot-path/run';
import { DEFAULT_DECODE_LIMITS } from '../src/serving/decode-limits';
import type { ModelManager } from '../src/serving/model-manager';
import { servingType } from '../src/serving/protos';
import { decodePredictModelSpec, decodePredictRequest } from '../src/serving/wire';
import { needsTfServingData, rejectsWithCode, tempDir, tfServingModel } from './helpers';
import { modelConfig, testManager } from './manager-helpers';

const skip = needsTfServingData();
const PredictRequest = servingType('tensorflow.serving.PredictRequest');
const PredictResponse = servingType('tensorflow.serving.PredictResponse');

function predictBytes(name: string, x: number[], extra: Record<string, unknown> = {}): Uint8Array {
  return PredictRequest.encode(
    PredictRequest.fromObject({
      modelSpec: { name, ...extra },
      inputs: { x: { dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: x.length }, { size: 1 }] }, floatVal: x } },
    }),
  ).finish();
}

type Decoded = { modelSpec: { name: string; version?: { value: string } }; outputs: Record<string, { floatVal: number[] }> };
const decodeResponse = (bytes: Uint8Array) => PredictResponse.toObject(PredictResponse.decode(bytes), { longs: String }) as Decoded;

function payload(bytes: Uint8Array, version: number): GrpcJobPayload {
  return { bytes, limits: DEFAULT_DECODE_LIMITS, maxResponseBytes: 1 << 20, target: { name: 'hp', version, methodNameCheck: false } };
}

test('model_spec read alone equals the whole decode, occurrences merged as protobuf merges them', () => {
  // model_spec in two pieces (name first, then version and signature), around the inputs.
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | 2).fork().uint32((1 << 3) | 2).string('first').ldelim();
  w.uint32((2 << 3) | 2).fork().uint32((1 << 3) | 2).string('x').uint32((2 << 3) | 2).fork().uint32((1 << 3) | 0).int32(1).ldelim().ldelim();
  w.uint32((1 << 3) | 2).fork().uint32((1 << 3) | 2).string('hp').uint32((2 << 3) | 2).fork().uint32((1 << 3) | 0).int64(7).ldelim().uint32((3 << 3) | 2).string('sig').ldelim();
  const bytes = w.finish();
  const alone = decodePredictModelSpec(bytes);
  assert.deepEqual(alone, { name: 'hp', version: 7, signatureName: 'sig' });
  assert.deepEqual(alone, decodePredictRequest(bytes).modelSpec);
  // Malformed: model_spec with a varint wire type, and a truncated message.
  assert.throws(() => decodePredictModelSpec(Uint8Array.of((1 << 3) | 0, 1)), /model_spec|field 1 has wire type 0/);
  assert.throws(() => decodePredictModelSpec(Uint8Array.of((2 << 3) | 2, 50, 1)), (e: Error & { code?: string }) => e.code === 'INVALID_ARGUMENT');
});

test('CallAbort makes its signal and flag on demand, aborted if the call already was', () => {
  const early = new CallAbort();
  early.abort();
  assert.equal(early.signal.aborted, true);
  assert.equal(Atomics.load(early.cancelFlag, 0), 1);
  const late = new CallAbort();
  const { signal, cancelFlag } = late;
  assert.equal(signal.aborted, false);
  assert.equal(Atomics.load(cancelFlag, 0), 0);
  late.abort();
  late.abort();
  assert.equal(signal.aborted, true);
  assert.equal(Atomics.load(cancelFlag, 0), 1);
});

describe('engine jobs', { skip }, () => {
  let pooled: Engine;
  let inline: Engine;
  let onPool: EngineModel;
  let onMain: EngineModel;

  before(async () => {
    pooled = await Engine.create({ workers: 1, jobs: JOBS_MODULE });
    inline = await Engine.create({ workers: 0, jobs: JOBS_MODULE });
    onPool = await pooled.load(tfServingModel('saved_model_half_plus_two_cpu'));
    onMain = await inline.load(tfServingModel('saved_model_half_plus_two_cpu'));
  });

  after(async () => {
    await pooled?.close();
    await inline?.close();
  });

  test('a gRPC Predict job answers the same bytes on a worker and on the main thread', async () => {
    const request = predictBytes('hp', [1, 2, 3]);
    const [fromWorker, fromMain] = await Promise.all([onPool.runJob('grpcPredict', payload(request.slice(), 123)), onMain.runJob('grpcPredict', payload(request.slice(), 123))]);
    assert.ok(fromWorker instanceof Uint8Array);
    assert.deepEqual(Buffer.from(fromWorker), Buffer.from(fromMain as Uint8Array));
    const response = decodeResponse(fromWorker);
    assert.deepEqual(response.outputs.y!.floatVal, [2.5, 3, 3.5]);
    assert.equal(response.modelSpec.name, 'hp');
    assert.equal(response.modelSpec.version!.value, '123');
  });

  test('more concurrent jobs than one group holds: every caller gets its own answer', async () => {
    const count = 150;
    const answers = await Promise.all(Array.from({ length: count }, (_, i) => onPool.runJob('grpcPredict', payload(predictBytes('hp', [i]), 123))));
    answers.forEach((bytes, i) => assert.deepEqual(decodeResponse(bytes as Uint8Array).outputs.y!.floatVal, [i / 2 + 2]));
  });

  test('bad requests fail with their own status, the others in the group still answer', async () => {
    const good = onPool.runJob('grpcPredict', payload(predictBytes('hp', [4]), 123));
    const truncated = onPool.runJob('grpcPredict', payload(predictBytes('hp', [4]).subarray(0, 20).slice(), 123));
    const unknownInput = onPool.runJob('grpcPredict', payload(PredictRequest.encode(PredictRequest.fromObject({ modelSpec: { name: 'hp' }, inputs: { nope: { dtype: 'DT_FLOAT', floatVal: [1] } } })).finish(), 123));
    await rejectsWithCode(truncated, 'INVALID_ARGUMENT', /PredictRequest/);
    await rejectsWithCode(unknownInput, 'INVALID_ARGUMENT', /unknown input 'nope'/);
    assert.deepEqual(decodeResponse((await good) as Uint8Array).outputs.y!.floatVal, [4]);
  });

  test('a payload that cannot go to a worker fails its own job only, not its group', async () => {
    const good = onPool.runJob('grpcPredict', payload(predictBytes('hp', [8]), 123));
    const uncloneable = onPool.runJob('grpcPredict', { ...payload(predictBytes('hp', [1]), 123), extra: () => 1 });
    await rejectsWithCode(uncloneable, 'INVALID_ARGUMENT', /cannot be sent to a worker/);
    assert.deepEqual(decodeResponse((await good) as Uint8Array).outputs.y!.floatVal, [6]);
    // The same buffer named for transfer by two jobs of one group: it moves once, both jobs read it.
    const shared = predictBytes('hp', [6]).slice();
    const twice = [0, 1].map(() => onPool.runJob('grpcPredict', payload(shared, 123), { transfer: [shared.buffer as ArrayBuffer] }));
    for (const answer of await Promise.all(twice)) assert.deepEqual(decodeResponse(answer as Uint8Array).outputs.y!.floatVal, [5]);
  });

  test('unknown jobs, given-up callers and unloaded versions are refused', async () => {
    await rejectsWithCode(onPool.runJob('noSuchJob', {}), 'UNIMPLEMENTED', /no job 'noSuchJob'/);
    await rejectsWithCode(onPool.runJob('__proto__', {}), 'UNIMPLEMENTED');
    await rejectsWithCode(onPool.runJob('grpcPredict', payload(predictBytes('hp', [1]), 123), { signal: AbortSignal.abort() }), 'CANCELLED');
    // A caller's own cancel flag, already set: the run never starts, on a worker or on the main thread.
    const given = newSharedFlag();
    Atomics.store(given, 0, 1);
    await rejectsWithCode(onPool.runJob('grpcPredict', payload(predictBytes('hp', [1]), 123), { cancel: given }), 'CANCELLED');
    await rejectsWithCode(onMain.runJob('grpcPredict', payload(predictBytes('hp', [1]), 123), { cancel: given }), 'CANCELLED');
    await rejectsWithCode(onPool.runJob('grpcPredict', {}, { cancel: given, timeoutMs: 5 }), 'INVALID_ARGUMENT', /not both/);
    const engine = await Engine.create({ workers: 1 });
    try {
      const model = await engine.load(tfServingModel('saved_model_half_plus_two_cpu'));
      // An engine without a job module has no jobs.
      await rejectsWithCode(model.runJob('grpcPredict', payload(predictBytes('hp', [1]), 123)), 'UNIMPLEMENTED');
      await model.unload();
      await rejectsWithCode(model.runJob('grpcPredict', {}), 'FAILED_PRECONDITION', /unloaded/);
    } finally {
      await engine.close();
    }
  });

  test('engine worker threads are named for per-thread accounting', { skip: process.platform !== 'linux' }, async () => {
    await onPool.runJob('grpcPredict', payload(predictBytes('hp', [1]), 123));
    const names = fs.readdirSync(`/proc/${process.pid}/task`).map((tid) => {
      try {
        return fs.readFileSync(`/proc/${process.pid}/task/${tid}/comm`, 'utf8').trim();
      } catch {
        return '';
      }
    });
    assert.ok(names.includes('tfs-engine'), names.join(', '));
  });
});

describe('gRPC Predict on engine workers resolves the version on the main thread', { skip }, () => {
  let engine: Engine;
  let manager: ModelManager;
  let server: GrpcServer;
  let client: grpc.Client;
  let base: string;

  before(async () => {
    // Two versions of half_plus_two (the same export under two numbers): the answer names the one leased.
    base = tempDir('tfserve-hot-path-');
    for (const version of ['1', '2']) fs.symlinkSync(path.join(tfServingModel('saved_model_half_plus_two_cpu'), '00000123'), path.join(base, version));
    engine = await Engine.create({ workers: 1, jobs: JOBS_MODULE });
    manager = testManager({ loader: (basePath, options) => engine.load(basePath, options) });
    await manager.setConfig([modelConfig('hp', base, { versionPolicy: { kind: 'all' }, versionLabels: { canary: 2 } })]);
    server = await startGrpcServer({ manager, address: '127.0.0.1:0' });
    client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  });

  after(async () => {
    client?.close();
    await server?.close(1000);
    await manager?.close();
    await engine?.close();
  });

  const call = (request: Uint8Array) =>
    new Promise<Buffer>((resolve, reject) =>
      client.makeUnaryRequest('/tensorflow.serving.PredictionService/Predict', (b: Uint8Array) => Buffer.from(b), (b: Buffer) => b, request, (error, response) => (error ? reject(error) : resolve(response!))),
    );

  test('version, label and latest pick the version the answer names', async () => {
    const byVersion = decodeResponse(await call(predictBytes('hp', [1], { version: { value: 1 } })));
    const byLabel = decodeResponse(await call(predictBytes('hp', [1], { versionLabel: 'canary' })));
    const latest = decodeResponse(await call(predictBytes('hp', [1])));
    assert.deepEqual([byVersion.modelSpec.version!.value, byLabel.modelSpec.version!.value, latest.modelSpec.version!.value], ['1', '2', '2']);
    assert.deepEqual(byVersion.outputs.y!.floatVal, [2.5]);
  });

  test('an unknown model or version is refused on the main thread, before any worker', async () => {
    await assert.rejects(call(predictBytes('nope', [1])), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
    await assert.rejects(call(predictBytes('hp', [1], { version: { value: 9 } })), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
    await assert.rejects(call(Uint8Array.of((1 << 3) | 0, 1)), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT);
  });

  test('a gzip-compressed Predict that fails on the worker is still counted under its model', async () => {
    // grpc-js hands a decompressed message over as a buffer of its own
    // (not a view): moving it to the worker would leave call.request empty
    // for the failure's model name.
    const seen: Array<{ model: string; code: string }> = [];
    const counted = await startGrpcServer({ manager, address: '127.0.0.1:0', onRequest: (info) => seen.push({ model: info.model, code: info.code }) });
    const gzipClient = new grpc.Client(`127.0.0.1:${counted.port}`, grpc.credentials.createInsecure(), { 'grpc.default_compression_algorithm': 2 });
    try {
      const big = PredictRequest.encode(
        PredictRequest.fromObject({ modelSpec: { name: 'hp' }, inputs: { nope: { dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: 4096 }] }, floatVal: Array.from({ length: 4096 }, (_, i) => i * 0.37) } } }),
      ).finish();
      const error = await new Promise<grpc.ServiceError>((resolve, reject) =>
        gzipClient.makeUnaryRequest('/tensorflow.serving.PredictionService/Predict', (b: Uint8Array) => Buffer.from(b), (b: Buffer) => b, big, (e) => (e ? resolve(e) : reject(new Error('answered OK')))),
      );
      assert.equal(error.code, grpc.status.INVALID_ARGUMENT, error.details);
      assert.match(error.details, /nope/);
      assert.deepEqual(seen, [{ model: 'hp', code: 'INVALID_ARGUMENT' }]);
    } finally {
      gzipClient.close();
      await counted.close(1000);
    }
  });

  test('a version unloaded by a config change is no longer served; the other keeps serving', async () => {
    await manager.setConfig([modelConfig('hp', base, { versionPolicy: { kind: 'specific', versions: [1] } })]);
    await assert.rejects(call(predictBytes('hp', [1], { version: { value: 2 } })), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
    assert.equal(decodeResponse(await call(predictBytes('hp', [3]))).modelSpec.version!.value, '1');
  });
});
