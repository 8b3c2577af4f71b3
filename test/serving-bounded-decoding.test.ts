// Bounded decoding of protobuf requests, straight on the decoders: values are
// counted from the wire before anything is allocated, every tensor and
// example is charged to the request's budget, strings decode packed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import protobuf from 'protobufjs';

import { DecodeBudget } from '../src/serving/decode-limits';
import { decodeExample } from '../src/serving/example';
import { servingType } from '../src/serving/protos';
import { decodeTensorProto } from '../src/serving/tensor-proto';
import { decodeExamplesRequest, decodeMessage, decodeMetadataRequest, decodeMultiInferenceRequest, decodePredictRequest, readBytesField, requestBudget } from '../src/serving/wire';
import { isPackedStrings, packedAt, packedCount, type PackedStrings } from '../src/engine/tensor';
import { throwsWithCode } from './helpers';

const TensorProto = servingType('tensorflow.TensorProto');
const Example = servingType('tensorflow.Example');

function proto(object: Record<string, unknown>): Uint8Array {
  return TensorProto.encode(TensorProto.fromObject(object)).finish();
}

/** A DT_STRING TensorProto of `count` empty string_val, built straight into a buffer. */
function emptyStrings(count: number, dims: number[]): Uint8Array {
  const head = proto({ dtype: 'DT_STRING', tensorShape: { dim: dims.map((size) => ({ size })) } });
  const out = Buffer.alloc(head.length + 2 * count);
  out.set(head);
  for (let i = 0; i < count; i++) out[head.length + 2 * i] = (8 << 3) | 2;
  return out;
}

function predictRequest(inputs: Record<string, Uint8Array>): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | 2).fork().uint32((1 << 3) | 2).string('m').ldelim();
  for (const [key, tensor] of Object.entries(inputs)) w.uint32((2 << 3) | 2).fork().uint32((1 << 3) | 2).string(key).uint32((2 << 3) | 2).bytes(tensor).ldelim();
  return w.finish();
}

function heapAndBuffers(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

describe('bounded decoding', () => {
  test('12 MB of empty string_val for [6000000] decodes packed, fast and in a small multiple of its size', () => {
    const request = predictRequest({ x: emptyStrings(6_000_000, [6_000_000]) });
    const before = heapAndBuffers();
    const started = performance.now();
    const decoded = decodePredictRequest(request, requestBudget(request.length));
    const ms = performance.now() - started;
    const grown = heapAndBuffers() - before;
    const x = decoded.inputs.x!;
    assert.ok(isPackedStrings(x.data));
    assert.equal(packedCount(x.data as PackedStrings), 6_000_000);
    assert.equal((x.data as PackedStrings).bytes.length, 0);
    console.log(`# decoded 6M strings (${request.length} bytes) in ${ms.toFixed(0)} ms, +${(grown / 1e6).toFixed(1)} MB`);
    assert.ok(ms < 1000, `${ms.toFixed(0)} ms`);
    assert.ok(grown < 4 * request.length, `${grown} bytes for a ${request.length}-byte request`);
  });

  test('more values than the shape holds is refused before decoding them', () => {
    const started = performance.now();
    throwsWithCode(() => decodeTensorProto(emptyStrings(6_000_000, [3, 3]), "input 'x'"), 'INVALID_ARGUMENT', /input 'x': string_val has 6000000 values but shape \[3,3\] holds 9/);
    assert.ok(performance.now() - started < 500);
    throwsWithCode(
      () => decodeTensorProto(proto({ dtype: 'DT_INT64', tensorShape: { dim: [{ size: 2 }] }, int64Val: [1, 2, 3] }), "input 'x'"),
      'INVALID_ARGUMENT',
      /int64_val has more values than shape \[2\]/,
    );
  });

  test('the dtype must be known, and the shape pass the shape guard, before values are read', () => {
    throwsWithCode(() => decodeTensorProto(proto({ tensorShape: { dim: [{ size: 3 }] }, stringVal: [Buffer.from('a')] }), "input 'x'"), 'INVALID_ARGUMENT', /DT_INVALID/);
    const rank255 = proto({ dtype: 'DT_FLOAT', tensorShape: { dim: new Array(255).fill({ size: 1 }) } });
    throwsWithCode(() => decodeTensorProto(rank255, "input 'x'"), 'INVALID_ARGUMENT', /input 'x': shape has rank 255/);
    const overflow = proto({ dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: 2 ** 40 }, { size: 2 ** 40 }, { size: 0 }] } });
    throwsWithCode(() => decodeTensorProto(overflow, "input 'x'"), 'INVALID_ARGUMENT', /input 'x': shape \[1099511627776,1099511627776,0\] holds more than 2\^53 elements/);
  });

  test('broadcasts are charged in full; the budget is shared by the inputs of a request', () => {
    const limits = { factor: 1, floorBytes: 4000, maxBytes: 4000 };
    // 1000 floats = 4000 bytes: exactly the limit.
    const fits = proto({ dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: 1000 }] }, floatVal: [1] });
    const budget = new DecodeBudget(0, limits);
    assert.equal((decodeTensorProto(fits, 'a', budget).data as Float32Array)[999], 1);
    assert.equal(budget.spentBytes, 4000);
    throwsWithCode(() => decodeTensorProto(fits, "input 'b'", budget), 'INVALID_ARGUMENT', /input 'b': decoding this request would take 8000 bytes, over its limit of 4000/);
    // Strings: 32 per element plus the bytes the broadcast repeats.
    const strings = proto({ dtype: 'DT_STRING', tensorShape: { dim: [{ size: 100 }] }, stringVal: [Buffer.from('abcd')] });
    const stringBudget = new DecodeBudget(0, limits);
    const decoded = decodeTensorProto(strings, 's', stringBudget);
    assert.equal(stringBudget.spentBytes, 100 * 32 + 400);
    assert.equal(Buffer.from(packedAt(decoded.data as PackedStrings, 99)).toString(), 'abcd');
    // Two inputs of one request draw from one budget (with 256 per entry and 32 for the model_spec name).
    const two = predictRequest({ a: fits, b: fits });
    throwsWithCode(() => decodePredictRequest(two, new DecodeBudget(two.length, { ...limits, floorBytes: 4544, maxBytes: 4544 })), 'INVALID_ARGUMENT', /input 'b': decoding this request would take 8544 bytes, over its limit of 4544/);
  });

  test('floods of tiny inputs or output_filter names are charged per entry and refused early', () => {
    const scalar = proto({ dtype: 'DT_FLOAT' });
    const w = protobuf.Writer.create();
    for (let i = 0; i < 300_000; i++) w.uint32((2 << 3) | 2).fork().uint32((1 << 3) | 2).string(`i${i}`).uint32((2 << 3) | 2).bytes(scalar).ldelim();
    const inputs = w.finish();
    let started = performance.now();
    throwsWithCode(() => decodePredictRequest(inputs), 'INVALID_ARGUMENT', /PredictRequest\.inputs: decoding this request would take \d+ bytes/);
    assert.ok(performance.now() - started < 1000);
    const filter = Buffer.alloc(3 * 1_000_000);
    for (let i = 0; i < 1_000_000; i++) filter.set([0x1a, 0x01, 0x79], 3 * i);
    started = performance.now();
    throwsWithCode(() => decodePredictRequest(filter), 'INVALID_ARGUMENT', /PredictRequest\.output_filter: decoding this request would take \d+ bytes/);
    assert.ok(performance.now() - started < 1000);
    // Kept as sent: predictOn refuses the repeats, as TF Serving does.
    assert.deepEqual(decodePredictRequest(filter.subarray(0, 9)).outputFilter, ['y', 'y', 'y']);
  });

  test('readBytesField (the model name of a failed call, a warmup record) scans 6M occurrences without a view each', () => {
    const message = Buffer.alloc(2 * 6_000_000 + 4);
    for (let i = 0; i < 6_000_000; i++) message[2 * i] = (1 << 3) | 2;
    message.set([(1 << 3) | 2, 2, 0x68, 0x70], 2 * 6_000_000);
    const started = performance.now();
    assert.equal(Buffer.from(readBytesField(message, 1)!).toString(), 'hp');
    // 50 ms here; 1.4 s when a Buffer view was made per occurrence.
    assert.ok(performance.now() - started < 1000, `${(performance.now() - started).toFixed(0)} ms`);
    assert.equal(readBytesField(message, 2), null);
  });

  test('model_spec given twice merges, as protobuf does: later fields win, others are kept', () => {
    const ModelSpec = servingType('tensorflow.serving.ModelSpec');
    const first = ModelSpec.encode(ModelSpec.fromObject({ name: 'a', signatureName: 's' })).finish();
    const second = ModelSpec.encode(ModelSpec.fromObject({ name: 'b', versionLabel: 'l' })).finish();
    const w = protobuf.Writer.create();
    w.uint32((1 << 3) | 2).bytes(first).uint32((1 << 3) | 2).bytes(second);
    assert.deepEqual(decodePredictRequest(w.finish()).modelSpec, { name: 'b', signatureName: 's', versionLabel: 'l' });
  });

  test('GetModelMetadataRequest: a flood of metadata_field names costs no array, an unsupported one is refused at once', () => {
    const w = protobuf.Writer.create();
    w.uint32((1 << 3) | 2).fork().uint32((1 << 3) | 2).string('m').ldelim();
    const head = w.finish();
    const entry = Buffer.from([0x12, 13, ...Buffer.from('signature_def')]);
    const flood = Buffer.concat([head, Buffer.alloc(entry.length * 500_000)]);
    for (let i = 0; i < 500_000; i++) entry.copy(flood, head.length + i * entry.length);
    let started = performance.now();
    assert.deepEqual(decodeMetadataRequest(flood, 'signature_def'), { modelSpec: { name: 'm' }, metadataFields: ['signature_def'] });
    assert.ok(performance.now() - started < 1000);
    const bad = Buffer.concat([flood, Buffer.from([0x12, 1, 0x78]), flood]);
    started = performance.now();
    throwsWithCode(() => decodeMetadataRequest(bad, 'signature_def'), 'INVALID_ARGUMENT', /Metadata field x is not supported \(supported: signature_def\)/);
    assert.ok(performance.now() - started < 1000);
  });

  test('messages decoded by protobufjs are charged per value first: a packed flood in a ReloadConfigRequest is refused', () => {
    const ReloadConfigRequest = servingType('tensorflow.serving.ReloadConfigRequest');
    const versions = [1, 2, 3];
    const small = ReloadConfigRequest.encode(
      ReloadConfigRequest.fromObject({ config: { modelConfigList: { config: [{ name: 'm', basePath: '/x', modelVersionPolicy: { specific: { versions } } }] } } }),
    ).finish();
    assert.ok(decodeMessage<Record<string, unknown>>('tensorflow.serving.ReloadConfigRequest', small).config);
    // Field path config(1) > model_config_list(1) > config(1) > model_version_policy(7) > specific(102) > versions(1), packed: 6M one-byte varints.
    const run = Buffer.alloc(6_000_000, 1);
    const nest = (field: number, body: Uint8Array) => Buffer.concat([protobuf.Writer.create().uint32((field << 3) | 2).uint32(body.length).finish(), body]);
    const flood = nest(1, nest(1, nest(1, Buffer.concat([nest(1, Buffer.from('m')), nest(2, Buffer.from('/x')), nest(7, nest(102, nest(1, run)))]))));
    const started = performance.now();
    throwsWithCode(() => decodeMessage('tensorflow.serving.ReloadConfigRequest', flood), 'INVALID_ARGUMENT', /ReloadConfigRequest: decoding this request would take \d+ bytes/);
    assert.ok(performance.now() - started < 1000);
  });

  test("an input named '__proto__' is an input like any other", () => {
    const decoded = decodePredictRequest(predictRequest({ ['__proto__']: proto({ dtype: 'DT_FLOAT', floatVal: [1] }) }));
    assert.ok(Object.hasOwn(decoded.inputs, '__proto__'));
    assert.deepEqual(Object.keys(decoded.inputs), ['__proto__']);
  });

  test('Classify examples stay serialized, the context merged in (the example wins), charged to the budget', () => {
    const example = (features: Record<string, unknown>) => Example.encode(Example.fromObject({ features: { feature: features } })).finish();
    const ClassificationRequest = servingType('tensorflow.serving.ClassificationRequest');
    const exampleObjects = [{ features: { feature: { x: { floatList: { value: [1] } } } } }, { features: { feature: { y: { int64List: { value: [7] } } } } }];
    const contextObject = { features: { feature: { x: { floatList: { value: [9] } }, c: { bytesList: { value: [Buffer.from('ctx')] } } } } };
    const examples = exampleObjects.map((e) => example(e.features.feature));
    const context = example(contextObject.features.feature);
    const request = ClassificationRequest.encode(
      ClassificationRequest.fromObject({ modelSpec: { name: 'm', signatureName: 's' }, input: { exampleListWithContext: { examples: exampleObjects, context: contextObject } } }),
    ).finish();
    const decoded = decodeExamplesRequest('tensorflow.serving.ClassificationRequest', request);
    assert.deepEqual(decoded.modelSpec, { name: 'm', signatureName: 's' });
    const serialized = (decoded.examples as { serialized: PackedStrings }).serialized;
    assert.equal(packedCount(serialized), 2);
    // Context then example: parsed as one message (protobuf merge, as TF's parser reads it), the example's x wins.
    assert.deepEqual(Buffer.from(packedAt(serialized, 0)), Buffer.concat([context, examples[0]!]));
    assert.deepEqual(Buffer.from(packedAt(serialized, 1)), Buffer.concat([context, examples[1]!]));
    assert.deepEqual(decodeExample(packedAt(serialized, 1)).y, { kind: 'int64', values: [7n] });
    // 2000 empty examples with a 10 KB context: 20 MB once merged, over a 16 MiB floor.
    const big = ClassificationRequest.encode(
      ClassificationRequest.fromObject({
        modelSpec: { name: 'm' },
        input: { exampleListWithContext: { examples: new Array(2000).fill({}), context: { features: { feature: { c: { bytesList: { value: [Buffer.alloc(10_000)] } } } } } } },
      }),
    ).finish();
    throwsWithCode(() => decodeExamplesRequest('tensorflow.serving.ClassificationRequest', big), 'INVALID_ARGUMENT', /input\.example_list_with_context\.examples\[\d+\]: decoding this request would take/);
  });

  test('MultiInference: tasks decoded, examples packed; oneof switches clear the list set before', () => {
    const MultiInferenceRequest = servingType('tensorflow.serving.MultiInferenceRequest');
    const Input = servingType('tensorflow.serving.Input');
    const ex = { features: { feature: { x: { floatList: { value: [2] } } } } };
    const head = MultiInferenceRequest.encode(
      MultiInferenceRequest.fromObject({ tasks: [{ modelSpec: { name: 'm', signatureName: 'a' }, methodName: 'tensorflow/serving/regress' }] }),
    ).finish();
    // input set twice: first an example_list of 3, then one with context of 1: the oneof keeps the last kind.
    const first = Input.encode(Input.fromObject({ exampleList: { examples: [ex, ex, ex] } })).finish();
    const second = Input.encode(Input.fromObject({ exampleListWithContext: { examples: [ex] } })).finish();
    const w = protobuf.Writer.create();
    w.uint32((2 << 3) | 2).bytes(first).uint32((2 << 3) | 2).bytes(second);
    const decoded = decodeMultiInferenceRequest(Buffer.concat([head, w.finish()]));
    assert.deepEqual(decoded.tasks, [{ modelSpec: { name: 'm', signatureName: 'a' }, methodName: 'tensorflow/serving/regress' }]);
    assert.equal(packedCount((decoded.examples as { serialized: PackedStrings }).serialized), 1);
  });
});
