// Property-based tests of the REST JSON decoder (the codec job, as the
// server runs it): arbitrary tensors written as row or columnar JSON decode
// back to the same values, and arbitrary mutations of valid bodies are
// decoded or refused with a 400-class status, never anything else.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import fc from 'fast-check';

import type { DType } from '../src/engine/dtypes';
import { fromFloat16Bits, toFloat16Bits } from '../src/engine/half';
import { type CodecJob, type CodecReply, runCodecJob } from '../src/server/rest-codec/decode';
import type { InputSignature } from '../src/server/rest-json';
import { DEFAULT_DECODE_LIMITS } from '../src/serving/decode-limits';
import { type PackedStrings, packedAt, packedCount } from '../src/engine/tensor';

type Leaf = number | bigint | boolean | string | Uint8Array;

interface Case {
  dtype: DType;
  shape: number[];
  values: Leaf[];
}

const DTYPES = ['float32', 'float64', 'float16', 'int8', 'int32', 'uint32', 'int64', 'uint64', 'bool', 'string'] as const;

function leaf(dtype: (typeof DTYPES)[number]): fc.Arbitrary<Leaf> {
  switch (dtype) {
    case 'float32':
      return fc.float({ noDefaultInfinity: false }).map((v) => v as number);
    case 'float64':
      return fc.double();
    case 'float16':
      return fc.integer({ min: 0, max: 0xffff }).map((bits) => fromFloat16Bits(bits));
    case 'int8':
      return fc.integer({ min: -128, max: 127 });
    case 'int32':
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case 'uint32':
      return fc.integer({ min: 0, max: 2 ** 32 - 1 });
    case 'int64':
      return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    case 'uint64':
      return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
    case 'bool':
      return fc.boolean();
    case 'string':
      return fc.oneof(fc.string({ unit: 'binary', maxLength: 8 }), fc.uint8Array({ maxLength: 8 }));
  }
}

const tensorCase: fc.Arbitrary<Case> = fc
  .record({ dtype: fc.constantFrom(...DTYPES), shape: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 }) })
  .chain(({ dtype, shape }) => {
    const count = shape.reduce((a, b) => a * b, 1);
    return fc.array(leaf(dtype), { minLength: count, maxLength: count }).map((values) => ({ dtype, shape, values }));
  });

function leafJson(value: Leaf): string {
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'NaN';
    if (value === Infinity) return 'Infinity';
    if (value === -Infinity) return '-Infinity';
    return Object.is(value, -0) ? '-0.0' : String(value);
  }
  if (typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  return `{"b64": "${Buffer.from(value).toString('base64')}"}`;
}

/** The nested JSON lists of `values` (row-major) with `shape`. */
function nested(values: readonly Leaf[], shape: readonly number[], level = 0, offset = 0): string {
  if (level === shape.length) return leafJson(values[offset]!);
  const inner = shape.slice(level + 1).reduce((a, b) => a * b, 1);
  const items: string[] = [];
  for (let i = 0; i < shape[level]!; i++) items.push(nested(values, shape, level + 1, offset + i * inner));
  return `[${items.join(', ')}]`;
}

function body(c: Case, format: 'row' | 'columnar', named: boolean): string {
  if (format === 'columnar') return `{"signature_name": "sig", "inputs": ${named ? `{"x": ${nested(c.values, c.shape)}}` : nested(c.values, c.shape)}}`;
  const rowSize = c.shape.slice(1).reduce((a, b) => a * b, 1);
  const rows: string[] = [];
  for (let r = 0; r < c.shape[0]!; r++) {
    const row = nested(c.values.slice(r * rowSize, (r + 1) * rowSize), c.shape.slice(1));
    rows.push(named ? `{"x": ${row}}` : row);
  }
  return `{"signature_name": "sig", "instances": [${rows.join(', ')}]}`;
}

function signatureFor(dtype: DType): InputSignature {
  return { name: 'sig', inputs: { x: { dtype, tfDtype: `DT_${dtype.toUpperCase()}` } } };
}

function job(text: string, signatures: InputSignature[]): CodecJob {
  return { kind: 'predict', body: new Uint8Array(Buffer.from(text, 'utf8')), limits: DEFAULT_DECODE_LIMITS, model: { name: 'm', version: 1 }, defaultSignature: 'serving_default', signatures };
}

/** What a leaf reads back as, in the dtype's storage. */
function expected(dtype: DType, value: Leaf): unknown {
  switch (dtype) {
    case 'float32':
      return Math.fround(value as number);
    case 'float16':
      return toFloat16Bits(value as number);
    case 'string':
      return Buffer.from(value as string | Uint8Array).toString('hex');
    case 'bool':
      return value ? 1 : 0;
    default:
      return value;
  }
}

function actual(dtype: DType, data: unknown, i: number): unknown {
  if (dtype === 'string') return Buffer.from(packedAt(data as PackedStrings, i)).toString('hex');
  return (data as ArrayLike<unknown>)[i];
}

test('tensors written as row or columnar JSON decode back to the same values', () => {
  fc.assert(
    fc.property(tensorCase, fc.constantFrom('row' as const, 'columnar' as const), fc.boolean(), (c, format, named) => {
      const reply = runCodecJob(job(body(c, format, named), [signatureFor(c.dtype)]));
      assert.ok(reply.ok, reply.ok ? '' : `${reply.code}: ${reply.message}`);
      assert.equal(reply.value.kind, 'predict');
      if (reply.value.kind !== 'predict') return;
      assert.equal(reply.value.format, format);
      assert.equal(reply.value.signatureName, 'sig');
      const x = reply.value.inputs.x!;
      assert.equal(x.dtype, c.dtype);
      assert.deepEqual(x.shape, c.shape);
      const count = c.values.length;
      if (c.dtype === 'string') assert.equal(packedCount(x.data as PackedStrings), count);
      else assert.equal((x.data as ArrayLike<unknown>).length, count);
      for (let i = 0; i < count; i++) {
        const want = expected(c.dtype, c.values[i]!);
        const got = actual(c.dtype, x.data, i);
        assert.ok(Object.is(want, got) || (typeof want === 'number' && Number.isNaN(want) && Number.isNaN(got as number)) || want === got, `element ${i}: ${String(got)} != ${String(want)}`);
      }
    }),
    { numRuns: 300 },
  );
});

/** Characters that change JSON's structure, and a few that do not. */
const JSON_PIECES = ['[', ']', '{', '}', ',', ':', '"', '\\', '-', '.', 'e', 'E', '+', '0', '9', ' ', 'n', 't', 'NaN', 'Infinity', '1e400', '"b64"', '"__proto__"', '"constructor"', '\u0000', '\uD800', '\u00e9'];

type Mutation = { kind: 'insert'; at: number; text: string } | { kind: 'delete'; at: number; length: number } | { kind: 'replace'; at: number; text: string } | { kind: 'duplicate'; at: number; length: number } | { kind: 'truncate'; at: number };

const piece = fc.oneof(fc.constantFrom(...JSON_PIECES), fc.string({ maxLength: 4 }));
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: piece }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), text: piece }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

function mutate(text: string, m: Mutation): string {
  const at = text.length === 0 ? 0 : m.at % (text.length + 1);
  switch (m.kind) {
    case 'insert':
      return text.slice(0, at) + m.text + text.slice(at);
    case 'delete':
      return text.slice(0, at) + text.slice(at + m.length);
    case 'replace':
      return text.slice(0, at) + m.text + text.slice(at + m.text.length);
    case 'duplicate':
      return text.slice(0, at + m.length) + text.slice(at, at + m.length) + text.slice(at + m.length);
    case 'truncate':
      return text.slice(0, at);
  }
}

/** Statuses a malformed body may get: HTTP 400 (INVALID_ARGUMENT, FAILED_PRECONDITION for an unknown signature). */
const CLIENT_ERRORS = new Set(['INVALID_ARGUMENT', 'FAILED_PRECONDITION']);

test('mutated bodies are decoded or refused with a 400-class status, never anything else', () => {
  const signatures = [signatureFor('float32'), { name: 'serving_default', inputs: { a: { dtype: 'int64' as DType, tfDtype: 'DT_INT64' }, b: { dtype: 'string' as DType, tfDtype: 'DT_STRING' } } }];
  fc.assert(
    fc.property(tensorCase, fc.constantFrom('row' as const, 'columnar' as const), fc.boolean(), fc.array(mutation, { minLength: 1, maxLength: 6 }), (c, format, named, mutations) => {
      let text = body(c, format, named);
      for (const m of mutations) text = mutate(text, m);
      let reply: CodecReply;
      assert.doesNotThrow(() => (reply = runCodecJob(job(text, signatures))));
      reply = reply!;
      if (!reply.ok) assert.ok(CLIENT_ERRORS.has(reply.code), `${reply.code}: ${reply.message}\nbody: ${text.slice(0, 300)}`);
    }),
    { numRuns: 1500 },
  );
});
