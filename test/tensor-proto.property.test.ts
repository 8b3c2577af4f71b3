// Property-based tests of the TensorProto codec (fast-check): arbitrary
// valid tensors, written by protobufjs (an encoder independent of ours) or by
// ours, decode to the right values; arbitrary mutations of their bytes decode
// or are refused INVALID_ARGUMENT, never anything else, and never allocate
// past the request's budget; sizes computed for responses are exact.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import fc from 'fast-check';

import { DTYPES, type DType, dtypeInfo } from '../src/engine/dtypes';
import { TfServeError } from '../src/engine/errors';
import { DecodeBudget } from '../src/serving/decode-limits';
import { servingType } from '../src/serving/protos';
import { type DecodedTensor, decodeTensorProto, encodeTensorProto, tensorProtoSize } from '../src/serving/tensor-proto';
import { decodeExamplesRequest, decodeMultiInferenceRequest, decodePredictRequest, encodePredictResponse, predictResponseSize } from '../src/serving/wire';
import { type AnyTensor, type PackedStrings, isPackedStrings, packedAt, packedCount } from '../src/engine/tensor';

const TensorProto = servingType('tensorflow.TensorProto');
const RUNS = 300;

/** One tensor element as plain values (complex: a [re, im] pair). */
type Value = number | bigint | boolean | Uint8Array | [number, number];

const f32 = (v: number) => Math.fround(v);

/** Arbitrary element of a dtype, in the form protobufjs's *_val fields take. */
function valueOf(dtype: DType): fc.Arbitrary<Value> {
  switch (dtype) {
    case 'float32':
      return fc.float({ noNaN: true }).map(f32);
    case 'float64':
      return fc.double({ noNaN: true });
    case 'int32':
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case 'int16':
      return fc.integer({ min: -32768, max: 32767 });
    case 'int8':
      return fc.integer({ min: -128, max: 127 });
    case 'uint8':
      return fc.integer({ min: 0, max: 255 });
    case 'uint16':
    case 'float16':
    case 'bfloat16':
      return fc.integer({ min: 0, max: 65535 });
    case 'uint32':
      return fc.integer({ min: 0, max: 2 ** 32 - 1 });
    case 'int64':
      return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    case 'uint64':
      return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
    case 'bool':
      return fc.boolean();
    case 'string':
      return fc.uint8Array({ maxLength: 12 });
    case 'complex64':
      return fc.tuple(fc.float({ noNaN: true }).map(f32), fc.float({ noNaN: true }).map(f32));
    case 'complex128':
      return fc.tuple(fc.double({ noNaN: true }), fc.double({ noNaN: true }));
  }
}

/** protobufjs field (camelCase) carrying each dtype's values. */
const VAL_FIELD: Record<DType, string> = {
  float32: 'floatVal',
  float64: 'doubleVal',
  int32: 'intVal',
  int16: 'intVal',
  int8: 'intVal',
  uint8: 'intVal',
  uint16: 'intVal',
  int64: 'int64Val',
  uint32: 'uint32Val',
  uint64: 'uint64Val',
  bool: 'boolVal',
  string: 'stringVal',
  float16: 'halfVal',
  bfloat16: 'halfVal',
  complex64: 'scomplexVal',
  complex128: 'dcomplexVal',
};

interface Case {
  dtype: DType;
  shape: number[];
  /** The values given in the *_val field: the whole tensor, or a prefix TF fills with the last. */
  given: Value[];
}

const shapeArb = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 });

/** A valid case: a dtype, a shape, and 0..n values (0 = zeros, fewer = last repeated). */
const caseArb: fc.Arbitrary<Case> = fc
  .tuple(fc.constantFrom(...DTYPES), shapeArb)
  .chain(([dtype, shape]) => {
    const elements = shape.reduce((a, b) => a * b, 1);
    return fc.array(valueOf(dtype), { maxLength: elements }).map((given) => ({ dtype, shape, given }));
  });

/** The tensor TF makes of a case: the values, the last one repeated, or zeros. */
function expected(c: Case): unknown[] {
  const elements = c.shape.reduce((a, b) => a * b, 1);
  const zero: Value = c.dtype === 'string' ? new Uint8Array(0) : c.dtype === 'bool' ? false : c.dtype.endsWith('64') && c.dtype.includes('int') ? 0n : 0;
  const fill: Value = c.given.length > 0 ? c.given[c.given.length - 1]! : c.dtype.startsWith('complex') ? [0, 0] : zero;
  const all = Array.from({ length: elements }, (_, i) => (i < c.given.length ? c.given[i]! : fill));
  return all.flatMap((v) => normalize(c.dtype, v));
}

function normalize(dtype: DType, v: Value): unknown[] {
  if (Array.isArray(v)) return v;
  if (v instanceof Uint8Array) return [Buffer.from(v).toString('hex')];
  if (typeof v === 'boolean') return [v ? 1 : 0];
  if (dtype === 'int64' || dtype === 'uint64') return [BigInt(v)];
  return [v];
}

function decodedValues(tensor: DecodedTensor): unknown[] {
  if (isPackedStrings(tensor.data)) {
    const packed = tensor.data as PackedStrings;
    return Array.from({ length: packedCount(packed) }, (_, i) => Buffer.from(packedAt(packed, i)).toString('hex'));
  }
  return Array.from(tensor.data as ArrayLike<unknown>);
}

/** The case written by protobufjs. */
function protobufjsBytes(c: Case): Uint8Array {
  const values = c.dtype.startsWith('complex') ? (c.given as Array<[number, number]>).flat() : c.given.map((v) => (typeof v === 'bigint' ? v.toString() : v));
  const object = {
    dtype: dtypeInfo(c.dtype).tfEnum,
    tensorShape: { dim: c.shape.map((size) => ({ size })) },
    [VAL_FIELD[c.dtype]]: values,
  };
  return TensorProto.encode(TensorProto.fromObject(object)).finish();
}

/** The whole tensor of a case as an engine output (what our encoder writes). */
function fullTensor(c: Case): AnyTensor {
  const values = expected(c);
  const info = dtypeInfo(c.dtype);
  if (c.dtype === 'string') return { dtype: 'string', shape: c.shape, data: values.map((hex) => Buffer.from(hex as string, 'hex')) };
  const Array_ = info.array! as unknown as { from(values: unknown[]): AnyTensor['data'] };
  return { dtype: c.dtype, shape: c.shape, data: Array_.from(values) } as AnyTensor;
}

/** Bytes the decoded data itself holds. */
function decodedBytes(tensor: DecodedTensor): number {
  if (isPackedStrings(tensor.data)) return (tensor.data as PackedStrings).bytes.byteLength + (tensor.data as PackedStrings).offsets.byteLength;
  return (tensor.data as ArrayBufferView).byteLength;
}

describe('TensorProto properties', () => {
  test('valid TensorProtos written by protobufjs decode to the values TF makes of them', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const decoded = decodeTensorProto(protobufjsBytes(c), "input 'x'");
        assert.equal(decoded.dtype, c.dtype);
        assert.deepEqual(decoded.shape, c.shape);
        assert.deepEqual(decodedValues(decoded), expected(c));
      }),
      { numRuns: RUNS },
    );
  });

  test('our encoder round-trips in both encodings, and tensorProtoSize is its exact length', () => {
    fc.assert(
      fc.property(caseArb, fc.constantFrom('typed' as const, 'content' as const), (c, encoding) => {
        const tensor = fullTensor(c);
        const bytes = encodeTensorProto(tensor, encoding);
        assert.equal(tensorProtoSize(tensor, encoding), bytes.length);
        const decoded = decodeTensorProto(bytes, 'x');
        assert.deepEqual(decodedValues(decoded), expected(c));
        // Re-encoding what was decoded (packed strings included) gives the same bytes.
        assert.deepEqual(encodeTensorProto(decoded, encoding), bytes);
      }),
      { numRuns: RUNS },
    );
  });

  test('predictResponseSize is the exact length of the PredictResponse', () => {
    const spec = fc.record({ name: fc.string({ maxLength: 8 }), version: fc.integer({ min: 0, max: 2 ** 40 }), signatureName: fc.string({ maxLength: 8 }) });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string({ maxLength: 6 }), caseArb), { maxLength: 3 }), spec, (outputs, modelSpec) => {
        const result = { modelSpec, outputs: Object.fromEntries(outputs.map(([alias, c]) => [alias, fullTensor(c)])) };
        assert.equal(predictResponseSize(result), encodePredictResponse(result).length);
      }),
      { numRuns: RUNS },
    );
  });

  test('mutated bytes decode or are refused INVALID_ARGUMENT, within the budget', () => {
    // A budget small enough that mutated shapes and counts run into it.
    const limit = 4096;
    fc.assert(
      fc.property(caseArb, mutationsArb, (c, mutations) => {
        const bytes = mutate(protobufjsBytes(c), mutations);
        const budget = new DecodeBudget(0, { factor: 1, floorBytes: limit, maxBytes: limit });
        let decoded: DecodedTensor;
        try {
          decoded = decodeTensorProto(bytes, "input 'x'", budget);
        } catch (error) {
          assert.ok(error instanceof TfServeError, `not a TfServeError: ${String(error)}`);
          assert.equal(error.code, 'INVALID_ARGUMENT', error.message);
          assert.match(error.message, /input 'x'/);
          return;
        }
        assert.ok(budget.spentBytes <= budget.limit);
        assert.ok(decodedBytes(decoded) <= budget.spentBytes + 4 /* the offsets' first entry */, `${decodedBytes(decoded)} bytes decoded, ${budget.spentBytes} charged`);
      }),
      { numRuns: RUNS * 3 },
    );
  });

  test('mutated PredictRequest, ClassificationRequest and MultiInferenceRequest bytes decode or are refused INVALID_ARGUMENT', () => {
    const PredictRequest = servingType('tensorflow.serving.PredictRequest');
    const ClassificationRequest = servingType('tensorflow.serving.ClassificationRequest');
    const MultiInferenceRequest = servingType('tensorflow.serving.MultiInferenceRequest');
    const example = { features: { feature: { x: { floatList: { value: [1, 2] } }, s: { bytesList: { value: [Buffer.from('ab')] } }, i: { int64List: { value: [3, -1] } } } } };
    const spec = { name: 'm', signatureName: 's', versionLabel: 'l' };
    const requests: Array<[string, Uint8Array, (bytes: Uint8Array, budget: DecodeBudget) => unknown]> = [
      [
        'predict',
        PredictRequest.encode(
          PredictRequest.fromObject({ modelSpec: spec, inputs: { x: { dtype: 1, tensorShape: { dim: [{ size: 2 }] }, floatVal: [1, 2] }, s: { dtype: 7, stringVal: [Buffer.from('a')] } }, outputFilter: ['y'] }),
        ).finish(),
        (bytes, budget) => decodePredictRequest(bytes, budget),
      ],
      [
        'classify',
        ClassificationRequest.encode(ClassificationRequest.fromObject({ modelSpec: spec, input: { exampleListWithContext: { examples: [example, {}], context: example } } })).finish(),
        (bytes, budget) => decodeExamplesRequest('tensorflow.serving.ClassificationRequest', bytes, budget),
      ],
      [
        'multi',
        MultiInferenceRequest.encode(MultiInferenceRequest.fromObject({ tasks: [{ modelSpec: spec, methodName: 'tensorflow/serving/regress' }], input: { exampleList: { examples: [example] } } })).finish(),
        (bytes, budget) => decodeMultiInferenceRequest(bytes, budget),
      ],
    ];
    const limit = 8192;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: requests.length - 1 }), mutationsArb, (which, mutations) => {
        const [name, good, decode] = requests[which]!;
        const bytes = mutate(good, mutations);
        const budget = new DecodeBudget(0, { factor: 1, floorBytes: limit, maxBytes: limit });
        try {
          decode(bytes, budget);
        } catch (error) {
          assert.ok(error instanceof TfServeError, `${name}: not a TfServeError: ${String(error)}`);
          assert.equal(error.code, 'INVALID_ARGUMENT', `${name}: ${error.message}`);
          return;
        }
        assert.ok(budget.spentBytes <= budget.limit);
      }),
      { numRuns: RUNS * 3 },
    );
  });
});

type Mutation =
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'truncate'; at: number };

const mutationsArb: fc.Arbitrary<Mutation[]> = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  ),
  { minLength: 1, maxLength: 6 },
);

/** Applies byte mutations to a copy of `good`. */
function mutate(good: Uint8Array, mutations: Mutation[]): Buffer {
  let bytes = Buffer.from(good);
  for (const m of mutations) {
    const at = bytes.length === 0 ? 0 : m.at % (bytes.length + 1);
    if (m.kind === 'set' && bytes.length > 0) bytes[at % bytes.length] = m.byte;
    else if (m.kind === 'insert') bytes = Buffer.concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at)]);
    else if (m.kind === 'delete') bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.count)]);
    else if (m.kind === 'truncate') bytes = bytes.subarray(0, at);
  }
  return bytes;
}
