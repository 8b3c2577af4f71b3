// Every dtype a signature can carry goes in and comes back out intact.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { type AnyTensor, type DType, DTYPES, type Model, fromBfloat16Bits, fromFloat16Bits, loadModel, toBfloat16Bits, toFloat16Bits } from '../src';
import { dtypeInfo } from '../src/engine/dtypes';
import { fixture, readJson } from './helpers';

interface ExpectedSpec {
  dtype: string;
  shape: number[] | null;
  tensor_name: string;
}
interface Expected {
  signatures: Record<string, { method_name: string; inputs: Record<string, ExpectedSpec>; outputs: Record<string, ExpectedSpec> }>;
}

// Two rows of three values per dtype, in the dtype's JS array form.
const SAMPLES: Record<DType, AnyTensor['data']> = {
  float16: Uint16Array.from([1, -2.5, 65504, 0.000061035156, 0, -0].map(toFloat16Bits)),
  float32: Float32Array.from([1.5, -2.25, 3.4e38, 1e-30, 0, 7]), // no subnormals: TF flushes them to zero in arithmetic
  float64: Float64Array.from([1.5, -2.25, 1.7e308, 1e-300, 0, Math.PI]),
  bfloat16: Uint16Array.from([1, -2.5, 3.0e38, 0.5, 0, 256].map(toBfloat16Bits)),
  int8: Int8Array.from([-128, 127, 0, 1, -1, 63]),
  int16: Int16Array.from([-32768, 32767, 0, 1, -1, 1000]),
  int32: Int32Array.from([-2147483648, 2147483647, 0, 1, -1, 123456]),
  int64: BigInt64Array.from([-(2n ** 62n), 2n ** 62n - 1n, 0n, 1n, -1n, 9007199254740993n]),
  uint8: Uint8Array.from([0, 1, 127, 128, 200, 255]),
  uint16: Uint16Array.from([0, 1, 32767, 32768, 40000, 65535]),
  uint32: Uint32Array.from([0, 1, 2147483647, 2147483648, 3000000000, 4294967295]),
  uint64: BigUint64Array.from([0n, 1n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 63n + 5n, 2n ** 64n - 1n]),
  bool: Uint8Array.from([1, 0, 1, 0, 0, 1]),
  string: ['abc', 'Hello', '', 'tf serve ✓', 'x'.repeat(100), 'MiXeD'].map((s) => Buffer.from(s)),
  complex64: Float32Array.from([1, 2, 0, -3, 4, 0, 0.5, -0.5, 0, 0, -1, 1]),
  complex128: Float64Array.from([1, 2, 0, -3, 4, 0, 0.5, -0.5, 0, 0, -1, 1]),
};

/** What x + x gives in each real dtype, element by element (wrapping like TF's integer add). */
function doubled(dtype: DType, data: AnyTensor['data']): unknown[] {
  const values = Array.from(data as ArrayLike<number | bigint>) as Array<number | bigint>;
  if (dtype === 'float16') return values.map((b) => toFloat16Bits(2 * fromFloat16Bits(b as number)));
  if (dtype === 'bfloat16') return values.map((b) => toBfloat16Bits(2 * fromBfloat16Bits(b as number)));
  const Array_ = dtypeInfo(dtype).array!;
  return Array.from((Array_ as unknown as { from(v: unknown[]): ArrayLike<unknown> }).from(values.map((v) => (typeof v === 'bigint' ? v * 2n : (v as number) * 2))));
}

describe('dtype matrix', () => {
  let model: Model;
  let expected: Expected;
  before(async () => {
    const base = fixture('dtypes');
    model = await loadModel(base);
    expected = readJson<Expected>(path.join(base, 'expected.json'));
  });
  after(async () => {
    await model.unload();
  });

  test('the signature parser agrees with TF Python on every signature', () => {
    assert.deepEqual(Object.keys(model.signatures).sort(), Object.keys(expected.signatures).sort());
    for (const [key, want] of Object.entries(expected.signatures)) {
      const got = model.signatures[key]!;
      assert.equal(got.methodName, want.method_name);
      for (const side of ['inputs', 'outputs'] as const) {
        assert.deepEqual(Object.keys(got[side]).sort(), Object.keys(want[side]).sort(), `${key} ${side}`);
        for (const [alias, spec] of Object.entries(want[side])) {
          assert.equal(got[side][alias]!.dtype, spec.dtype, `${key}.${alias}`);
          assert.deepEqual(got[side][alias]!.shape, spec.shape, `${key}.${alias}`);
          assert.equal(got[side][alias]!.name, spec.tensor_name, `${key}.${alias}`);
        }
      }
    }
  });

  for (const dtype of DTYPES) {
    test(`${dtype} round-trips`, async () => {
      const data = SAMPLES[dtype];
      const out = await model.predict({ x: { dtype, shape: [2, 3], data } }, { signature: dtype });
      const y = out.y!;
      assert.equal(y.dtype, dtype);
      assert.deepEqual(y.shape, [2, 3]);
      assert.equal(y.data.constructor, dtype === 'string' ? Array : data.constructor);
      if (dtype === 'string') {
        assert.deepEqual((y.data as Uint8Array[]).map((b) => Buffer.from(b).toString()), (data as Buffer[]).map((b) => b.toString()));
        assert.deepEqual((out.upper!.data as Uint8Array[]).map((b) => Buffer.from(b).toString()), (data as Buffer[]).map((b) => b.toString().toUpperCase()));
        assert.equal(out.length!.dtype, 'int32');
        assert.deepEqual([...(out.length!.data as Int32Array)], (data as Buffer[]).map((b) => b.length));
        return;
      }
      assert.deepEqual(Array.from(y.data as ArrayLike<unknown>), Array.from(data as ArrayLike<unknown>));
      assert.ok((y.data as ArrayBufferView).buffer instanceof ArrayBuffer, 'outputs live in JS-owned ArrayBuffers');
      if (dtype === 'bool') {
        assert.deepEqual([...(out.not!.data as Uint8Array)], [...(data as Uint8Array)].map((b) => 1 - b));
      } else if (dtype === 'complex64' || dtype === 'complex128') {
        const conj = [...(data as Float64Array)].map((v, i) => (i % 2 === 1 ? -v : v));
        assert.deepEqual([...(out.conj!.data as Float64Array)].map((v) => v + 0), conj.map((v) => v + 0));
      } else {
        assert.deepEqual(Array.from(out.doubled!.data as ArrayLike<unknown>), doubled(dtype, data));
      }
    });
  }

  test('plain arrays are converted to the signature dtype', async () => {
    const cases: Array<[DType, unknown[], unknown[]]> = [
      ['float16', [1, 2, 3, -0.5, 0, 1024], [1, 2, 3, -0.5, 0, 1024].map(toFloat16Bits)],
      ['bfloat16', [1, 2, 3, -0.5, 0, 1024], [1, 2, 3, -0.5, 0, 1024].map(toBfloat16Bits)],
      ['int64', [1, 2n, -3, 4, 5, 6], [1n, 2n, -3n, 4n, 5n, 6n]],
      ['uint64', [1, 2n ** 64n - 1n, 3, 4, 5, 6], [1n, 2n ** 64n - 1n, 3n, 4n, 5n, 6n]],
      ['bool', [true, false, 1, 0, true, true], [1, 0, 1, 0, 1, 1]],
      ['string', ['a', Buffer.from('b'), 'c', 'd', 'e', 'f'], ['a', 'b', 'c', 'd', 'e', 'f']],
    ];
    for (const [dtype, plain, want] of cases) {
      const out = await model.predict({ x: { shape: [2, 3], data: plain as never } }, { signature: dtype, outputs: ['y'] });
      const got = dtype === 'string' ? (out.y!.data as Uint8Array[]).map((b) => Buffer.from(b).toString()) : Array.from(out.y!.data as ArrayLike<unknown>);
      assert.deepEqual(got, want, dtype);
    }
  });

  test('a batch of zero rows works', async () => {
    const out = await model.predict({ x: { shape: [0, 3], data: new Float32Array(0) } }, { signature: 'float32' });
    assert.deepEqual(out.y!.shape, [0, 3]);
    assert.equal((out.y!.data as Float32Array).length, 0);
  });
});

test('float16 and bfloat16 helpers round to nearest even', () => {
  assert.equal(toFloat16Bits(1), 0x3c00);
  assert.equal(toFloat16Bits(65504), 0x7bff);
  assert.equal(toFloat16Bits(65520), 0x7c00); // rounds up to Infinity
  assert.equal(toFloat16Bits(2 ** -24), 0x0001); // smallest subnormal
  assert.equal(toFloat16Bits(-0), 0x8000);
  assert.equal(fromFloat16Bits(0x3555), 0.333251953125);
  assert.ok(Number.isNaN(fromFloat16Bits(toFloat16Bits(NaN))));
  assert.equal(toBfloat16Bits(1), 0x3f80);
  assert.equal(fromBfloat16Bits(toBfloat16Bits(1.00390625)), 1); // tie rounds to even
  assert.equal(fromBfloat16Bits(toBfloat16Bits(3.14159)), 3.140625);
});
