// TF Serving's REST JSON formats, without a server: parsing, tensor decoding
// by signature, number formatting, response shapes.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { Signature, TensorSpec } from '../src/engine/signatures';
import { parseJson } from '../src/server/json-parse';
import { formatFloat32, formatFloat64, formatG } from '../src/server/json-write';
import { decodeExamplesRequest, decodePredictInputs, encodeClassifyResponse, encodePredictResponse, encodeRegressResponse, parseRequestBody, signatureNameOf } from '../src/server/rest-json';
import { encodeStatusResponse } from '../src/server/rest-metadata';
import type { DType } from '../src/engine/dtypes';
import { type PackedStrings, packedAt } from '../src/engine/tensor';
import { throwsWithCode } from './helpers';

function spec(dtype: DType, shape: number[] | null): TensorSpec {
  return { name: 'n:0', dtype, tfDtype: 'DT', shape, encoding: 'dense' };
}

function signature(inputs: Record<string, TensorSpec>): Signature {
  return { name: 'serving_default', methodName: 'tensorflow/serving/predict', inputs, outputs: {} };
}

const one = signature({ x: spec('float32', [-1, 1]) });
const two = signature({ a: spec('int64', [-1]), b: spec('string', [-1]) });

function decode(body: string, sig: Signature) {
  return decodePredictInputs(parseRequestBody(body), sig);
}

test('floats are written like TF Serving: %g, then max_digits10, ".0" on whole numbers', () => {
  assert.equal(formatFloat32(2.5), '2.5');
  assert.equal(formatFloat32(3), '3.0');
  assert.equal(formatFloat32(Math.fround(0.1)), '0.1');
  assert.equal(formatFloat32(Math.fround(1 / 3)), '0.333333343');
  assert.equal(formatFloat32(9000000), '9e+06');
  assert.equal(formatFloat32(Math.fround(0.00003)), '3e-05');
  assert.equal(formatFloat32(123456792), '123456792.0');
  assert.equal(formatFloat32(NaN), 'NaN');
  assert.equal(formatFloat32(-Infinity), '-Infinity');
  assert.equal(formatFloat64(0.1), '0.1');
  assert.equal(formatFloat64(1 / 3), '0.33333333333333331');
  assert.equal(formatG(1234567, 6), '1.23457e+06');
  assert.equal(formatG(-0.000123456, 6), '-0.000123456');
});

test('JSON parsing: NaN/Infinity tokens, exact int64, offsets in errors', () => {
  assert.deepEqual(parseJson('[NaN, Infinity, -Infinity, 1.5]'), [NaN, Infinity, -Infinity, 1.5]);
  assert.deepEqual(parseJson('[9223372036854775807, 1]'), [9223372036854775807n, 1]);
  assert.deepEqual(parseJson('{"x": [2, 2.0]}', { exactIntegers: true }), Object.assign(Object.create(null), { x: [2n, 2] }));
  assert.equal((parseJson('{"__proto__": 1}') as Record<string, unknown>).__proto__, 1);
  throwsWithCode(() => parseJson('{"a": [1,}'), 'INVALID_ARGUMENT', /JSON Parse error: Invalid value at offset: 9/);
  throwsWithCode(() => parseJson('{"a": 1'), 'INVALID_ARGUMENT', /Missing a comma or '}'/);
  throwsWithCode(() => parseJson(''), 'INVALID_ARGUMENT', /The document is empty/);
  throwsWithCode(() => parseRequestBody('[1]'), 'INVALID_ARGUMENT', /Is not object/);
});

test('row format: bare instances for one input, objects for several', () => {
  const row = decode('{"instances": [1.0, 2.0, 5.0]}', one);
  assert.equal(row.format, 'row');
  assert.deepEqual(row.inputs.x!.shape, [3]);
  assert.deepEqual(Array.from(row.inputs.x!.data as Float32Array), [1, 2, 5]);

  const nested = decode('{"instances": [[1], [2]]}', one);
  assert.deepEqual(nested.inputs.x!.shape, [2, 1]);

  const named = decode('{"instances": [{"a": 9007199254740993, "b": {"b64": "aGk="}}, {"a": -1, "b": "yo"}]}', two);
  assert.deepEqual(named.inputs.a!.shape, [2]);
  assert.deepEqual(Array.from(named.inputs.a!.data as BigInt64Array), [9007199254740993n, -1n]);
  const packed = named.inputs.b!.data as PackedStrings;
  assert.deepEqual([0, 1].map((i) => Buffer.from(packedAt(packed, i)).toString()), ['hi', 'yo']);
});

test('columnar format: a bare value for one input, an object for several', () => {
  const col = decode('{"inputs": [[1.0], [NaN]]}', one);
  assert.equal(col.format, 'columnar');
  assert.deepEqual(col.inputs.x!.shape, [2, 1]);
  assert.ok(Number.isNaN((col.inputs.x!.data as Float32Array)[1]));
  const named = decode('{"inputs": {"a": [1, 2], "b": ["p", "q"]}}', two);
  assert.deepEqual(named.inputs.b!.shape, [2]);
  const scalar = decode('{"inputs": {"a": 7}}', two);
  assert.deepEqual(scalar.inputs.a!.shape, []);
});

test('bad predict bodies get INVALID_ARGUMENT naming what is wrong', () => {
  throwsWithCode(() => decode('{"instances": []}', one), 'INVALID_ARGUMENT', /No values in 'instances' array/);
  throwsWithCode(() => decode('{}', one), 'INVALID_ARGUMENT', /Missing 'inputs' or 'instances' key/);
  throwsWithCode(() => decode('{"inputs": [1], "instances": [1]}', one), 'INVALID_ARGUMENT', /only one of 'inputs' or 'instances'/);
  throwsWithCode(() => decode('{"instances": ["a"]}', one), 'INVALID_ARGUMENT', /element: 0 key: x .*"a" Type: String is not of expected type: float/);
  throwsWithCode(() => decode('{"instances": [[1], [1, 2]]}', one), 'INVALID_ARGUMENT', /element: 1 .*Expecting shape \[1\] but got: \[2\]/);
  throwsWithCode(() => decode('{"inputs": [[1], 2]}', one), 'INVALID_ARGUMENT', /input 'x'.*found at incorrect level/);
  throwsWithCode(() => decode('{"instances": [1]}', two), 'INVALID_ARGUMENT', /plain list, but expecting list of objects/);
  throwsWithCode(() => decode('{"instances": [{"a": 1, "c": "x"}]}', two), 'INVALID_ARGUMENT', /does not have named input: c/);
  throwsWithCode(() => decode('{"instances": [{"a": 1, "b": "x"}, {"a": 1}]}', two), 'INVALID_ARGUMENT', /element: 1 .*keys must be equal to: a,b/);
  throwsWithCode(() => decode('{"inputs": {"a": [1.5]}}', two), 'INVALID_ARGUMENT', /1.5 Type: Number is not of expected type: int64/);
  throwsWithCode(() => decode('{"inputs": {"a": [9223372036854775808]}}', two), 'INVALID_ARGUMENT', /9223372036854775808 Type: Number is not of expected type: int64/);
  throwsWithCode(() => decode('{"inputs": {"b": [{"b64": "***"}]}}', two), 'INVALID_ARGUMENT', /Unable to base64 decode/);
  throwsWithCode(() => signatureNameOf(parseRequestBody('{"signature_name": 1, "inputs": [1]}')), 'INVALID_ARGUMENT', /'signature_name' key must be a string value/);
});

test('responses: bare list for one output, objects by alias for several, _bytes as b64, int64 exact', () => {
  const y = { dtype: 'float32' as const, shape: [3], data: Float32Array.from([2.5, 3, 4.5]) };
  assert.equal(encodePredictResponse({ y }, 'row'), '{"predictions": [2.5, 3.0, 4.5]}');
  assert.equal(encodePredictResponse({ y }, 'columnar'), '{"outputs": [2.5, 3.0, 4.5]}');
  const outputs = {
    id: { dtype: 'int64' as const, shape: [2], data: BigInt64Array.from([9223372036854775807n, -1n]) },
    out_bytes: { dtype: 'string' as const, shape: [2, 1], data: [Buffer.from('hi'), Buffer.from([0xff])] },
    flag: { dtype: 'bool' as const, shape: [2], data: Uint8Array.from([1, 0]) },
  };
  assert.equal(
    encodePredictResponse(outputs, 'row'),
    '{"predictions": [{"flag": true, "id": 9223372036854775807, "out_bytes": [{"b64": "aGk="}]}, {"flag": false, "id": -1, "out_bytes": [{"b64": "/w=="}]}]}',
  );
  assert.equal(encodePredictResponse(outputs, 'columnar'), '{"outputs": {"flag": [true, false], "id": [9223372036854775807, -1], "out_bytes": [[{"b64": "aGk="}], [{"b64": "/w=="}]]}}');
  throwsWithCode(() => encodePredictResponse({ a: y, b: { ...y, shape: [1, 3] } }, 'row'), 'INVALID_ARGUMENT', /inconsistent batch size/);
  throwsWithCode(() => encodePredictResponse({ s: { dtype: 'float32', shape: [], data: Float32Array.of(1) } }, 'row'), 'INVALID_ARGUMENT', /no shape information/);
  assert.equal(encodePredictResponse({ s: { dtype: 'float32', shape: [], data: Float32Array.of(1) } }, 'columnar'), '{"outputs": 1.0}');
});

test('classify/regress: examples with typed features, results like TF Serving', () => {
  const { examples, context } = decodeExamplesRequest(parseRequestBody('{"context": {"c": "x"}, "examples": [{"x": 2.0, "n": [1, 2], "b": {"b64": "AA=="}, "t": true}]}', { exactIntegers: true }), 'classify');
  assert.deepEqual(examples[0]!.x, { kind: 'float', values: [2] });
  assert.deepEqual(examples[0]!.n, { kind: 'int64', values: [1n, 2n] });
  assert.deepEqual(examples[0]!.t, { kind: 'int64', values: [1n] });
  assert.equal(examples[0]!.b!.kind, 'bytes');
  assert.equal(context!.c!.kind, 'bytes');
  throwsWithCode(() => decodeExamplesRequest(parseRequestBody('{"examples": []}'), 'regress'), 'INVALID_ARGUMENT', /'examples' value is an empty array/);
  throwsWithCode(() => decodeExamplesRequest(parseRequestBody('{}'), 'regress'), 'INVALID_ARGUMENT', /key 'examples' is expected/);
  throwsWithCode(() => decodeExamplesRequest(parseRequestBody('{"examples": [{"x": [1, 2.5]}]}', { exactIntegers: true }), 'regress'), 'INVALID_ARGUMENT', /feature: x expecting type: int64/);
  throwsWithCode(() => decodeExamplesRequest(parseRequestBody('{"examples": [{"x": null}]}'), 'regress'), 'INVALID_ARGUMENT', /Feature: x has element with unexpected JSON type: Null/);
  assert.equal(encodeRegressResponse([3]), '{"results": [3.0]}');
  assert.equal(encodeClassifyResponse([[{ label: '', score: 3 }]]), '{"results": [[["", 3.0]]]}');
});

test('model status JSON matches TF Serving', () => {
  assert.equal(
    encodeStatusResponse([{ version: 123, state: 'AVAILABLE', error: { code: 'OK', message: '' } }]),
    '{"model_version_status": [{"version": "123", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}',
  );
});
