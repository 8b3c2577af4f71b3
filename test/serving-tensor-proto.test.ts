// TensorProto <-> Tensor for every engine dtype, both encodings, TF's fill
// rules, and tf.Example encoding.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import protobuf from 'protobufjs';

import { DTYPES, type DType } from '../src/engine/dtypes';
import { type AnyTensor, type PackedStrings, isPackedStrings, packedAt, packedCount } from '../src/engine/tensor';
import { decodeExample, encodeExample, withContext } from '../src/serving/example';
import { servingType } from '../src/serving/protos';
import { type DecodedTensor, decodeTensorProto, encodeTensorProto } from '../src/serving/tensor-proto';
import { throwsWithCode } from './helpers';

function sample(dtype: DType): AnyTensor {
  const shape = [2, 3];
  switch (dtype) {
    case 'string':
      return { dtype, shape, data: ['a', '', 'ü', 'x\u0000y', 'long string', 'z'].map((s) => Buffer.from(s)) };
    case 'bool':
      return { dtype, shape, data: Uint8Array.from([1, 0, 1, 1, 0, 0]) };
    case 'int64':
      return { dtype, shape, data: BigInt64Array.from([-(2n ** 63n), -1n, 0n, 1n, 2n ** 53n + 1n, 2n ** 63n - 1n]) };
    case 'uint64':
      return { dtype, shape, data: BigUint64Array.from([0n, 1n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n]) };
    case 'complex64':
      return { dtype, shape, data: Float32Array.from({ length: 12 }, (_, i) => i - 5.5) };
    case 'complex128':
      return { dtype, shape, data: Float64Array.from({ length: 12 }, (_, i) => (i - 5.5) / 3) };
    case 'float16':
    case 'bfloat16':
      return { dtype, shape, data: Uint16Array.from([0, 0x3c00, 0xbc00, 0x7bff, 0xffff, 0x8001]) };
    default: {
      const values: Record<string, number[]> = {
        float32: [1.5, -2.25, 0, 3e38, -1e-30, 7],
        float64: [1.5, -2.25, 0, 1e300, -1e-300, Math.PI],
        int32: [-(2 ** 31), -1, 0, 1, 2 ** 31 - 1, 42],
        int16: [-32768, -1, 0, 1, 32767, 42],
        int8: [-128, -1, 0, 1, 127, 42],
        uint8: [0, 1, 127, 128, 255, 42],
        uint16: [0, 1, 255, 256, 65535, 42],
        uint32: [0, 1, 2 ** 31, 2 ** 32 - 1, 65536, 42],
      };
      const Array_ = { float32: Float32Array, float64: Float64Array, int32: Int32Array, int16: Int16Array, int8: Int8Array, uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array }[
        dtype as 'float32'
      ];
      return { dtype, shape, data: Array_.from(values[dtype]!) } as AnyTensor;
    }
  }
}

function plain(tensor: AnyTensor | DecodedTensor): unknown[] {
  const data = isPackedStrings(tensor.data) ? Array.from({ length: packedCount(tensor.data) }, (_, i) => packedAt(tensor.data as PackedStrings, i)) : tensor.data;
  return Array.from(data as ArrayLike<unknown>, (v) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v));
}

const TensorProto = servingType('tensorflow.TensorProto');

function proto(object: Record<string, unknown>): Uint8Array {
  return TensorProto.encode(TensorProto.fromObject(object)).finish();
}

function fails(bytes: Uint8Array, pattern: RegExp): void {
  throwsWithCode(() => decodeTensorProto(bytes, "input 'x'"), 'INVALID_ARGUMENT', pattern);
}

describe('TensorProto', () => {
  for (const dtype of DTYPES) {
    test(`${dtype}: typed *_val and tensor_content round trips`, () => {
      const tensor = sample(dtype);
      for (const encoding of ['typed', 'content'] as const) {
        const decoded = decodeTensorProto(encodeTensorProto(tensor, encoding), 'x');
        assert.equal(decoded.dtype, dtype);
        assert.deepEqual(decoded.shape, [2, 3]);
        // Strings decode packed in one buffer; numbers into the dtype's typed array.
        if (dtype === 'string') assert.ok(isPackedStrings(decoded.data), `${encoding}: packed strings`);
        else assert.equal(decoded.data.constructor, tensor.data.constructor, `${encoding}: typed array kind`);
        assert.deepEqual(plain(decoded), plain(tensor), encoding);
      }
    });
  }

  test('typed fields are the ones TF uses; protobufjs reads what we write', () => {
    const decoded = TensorProto.toObject(TensorProto.decode(encodeTensorProto(sample('float16'))), { enums: String }) as Record<string, unknown>;
    assert.equal(decoded.dtype, 'DT_HALF');
    assert.deepEqual(decoded.halfVal, [0, 0x3c00, 0xbc00, 0x7bff, 0xffff, 0x8001]);
    const ints = TensorProto.toObject(TensorProto.decode(encodeTensorProto(sample('int8'))), { enums: String }) as Record<string, unknown>;
    assert.deepEqual(ints.intVal, [-128, -1, 0, 1, 127, 42]);
    const u64 = TensorProto.toObject(TensorProto.decode(encodeTensorProto(sample('uint64'))), { longs: String }) as Record<string, unknown>;
    assert.deepEqual(u64.uint64Val, ['0', '1', '4294967296', '9007199254740993', '9223372036854775808', '18446744073709551615']);
    const c64 = TensorProto.toObject(TensorProto.decode(encodeTensorProto(sample('complex64')))) as Record<string, unknown>;
    assert.equal((c64.scomplexVal as number[]).length, 12);
  });

  test('tensor_content decodes into a typed array without copying when aligned', () => {
    const bytes = encodeTensorProto({ dtype: 'float32', shape: [1024], data: new Float32Array(1024).fill(0.5) }, 'content');
    const decoded = decodeTensorProto(bytes, 'x');
    assert.ok(decoded.data instanceof Float32Array);
    assert.equal((decoded.data as Float32Array)[1023], 0.5);
    // Unaligned content (odd offset in the message) is copied into an aligned array.
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const unaligned = decodeTensorProto(shifted.subarray(1), 'x');
    assert.equal((unaligned.data as Float32Array)[7], 0.5);
  });

  test('a single value fills the shape, the last value repeats, no value means zeros (as TF)', () => {
    const one = decodeTensorProto(proto({ dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: 2 }, { size: 3 }] }, floatVal: [7] }), 'x');
    assert.deepEqual(Array.from(one.data as Float32Array), [7, 7, 7, 7, 7, 7]);
    const last = decodeTensorProto(proto({ dtype: 'DT_INT64', tensorShape: { dim: [{ size: 4 }] }, int64Val: [1, 2] }), 'x');
    assert.deepEqual(Array.from(last.data as BigInt64Array), [1n, 2n, 2n, 2n]);
    const pair = decodeTensorProto(proto({ dtype: 'DT_COMPLEX64', tensorShape: { dim: [{ size: 2 }] }, scomplexVal: [1, 2] }), 'x');
    assert.deepEqual(Array.from(pair.data as Float32Array), [1, 2, 1, 2]);
    const zeros = decodeTensorProto(proto({ dtype: 'DT_INT32', tensorShape: { dim: [{ size: 3 }] } }), 'x');
    assert.deepEqual(Array.from(zeros.data as Int32Array), [0, 0, 0]);
    const strings = decodeTensorProto(proto({ dtype: 'DT_STRING', tensorShape: { dim: [{ size: 2 }] }, stringVal: [Buffer.from('s')] }), 'x');
    assert.deepEqual(plain(strings), ['s', 's']);
    const scalar = decodeTensorProto(proto({ dtype: 'DT_BOOL', boolVal: [true] }), 'x');
    assert.deepEqual(scalar.shape, []);
    assert.deepEqual(Array.from(scalar.data as Uint8Array), [1]);
  });

  test('a tiny request cannot expand to a huge tensor', () => {
    // ~20 bytes asking for 1e12 strings or 3e9 floats: refused, not allocated.
    fails(proto({ dtype: 'DT_STRING', tensorShape: { dim: [{ size: 1e12 }] } }), /input 'x': decoding this request would take 32000000000000 bytes, over its limit/);
    fails(proto({ dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: 3e9 }] }, floatVal: [1] }), /input 'x': decoding this request would take 12000000000 bytes/);
  });

  test('unpacked repeated values are read too', () => {
    const writer = protobuf.Writer.create();
    writer.uint32((1 << 3) | 0).int32(1); // DT_FLOAT
    writer.uint32((2 << 3) | 2).fork().uint32((2 << 3) | 2).fork().uint32((1 << 3) | 0).int64(3).ldelim().ldelim();
    for (const v of [1.5, 2.5, 3.5]) writer.uint32((5 << 3) | 5).float(v);
    assert.deepEqual(Array.from(decodeTensorProto(writer.finish(), 'x').data as Float32Array), [1.5, 2.5, 3.5]);
  });

  test('bad tensors are refused with the input named', () => {
    fails(proto({ tensorShape: { dim: [{ size: 1 }] }, floatVal: [1] }), /input 'x': unsupported dtype DT_INVALID/);
    fails(proto({ dtype: 'DT_RESOURCE', tensorShape: { dim: [{ size: 1 }] } }), /unsupported dtype enum value 20/);
    fails(proto({ dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: 2 }] }, floatVal: [1, 2, 3] }), /float_val has more values than shape \[2\]/);
    fails(proto({ dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: 2 }] }, tensorContent: Buffer.alloc(7) }), /tensor_content has 7 bytes but shape \[2\] of DT_FLOAT needs 8/);
    fails(proto({ dtype: 'DT_STRING', tensorShape: { dim: [{ size: 1 }] }, tensorContent: Buffer.alloc(4) }), /DT_STRING tensors carry their values in string_val/);
    fails(proto({ dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: 1 }] }, intVal: [1] }), /a DT_FLOAT tensor carries its values in float_val or tensor_content, but the request set int_val/);
    fails(proto({ dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: -1 }] } }), /dimension 0 is -1/);
    fails(proto({ dtype: 'DT_FLOAT', tensorShape: { unknownRank: true } }), /unknown_rank/);
    fails(proto({ dtype: 'DT_INT8', tensorShape: { dim: [{ size: 1 }] }, intVal: [300] }), /value 300 is out of range for DT_INT8/);
    fails(Uint8Array.from([0x0a, 0x05, 0x01]), /malformed TensorProto/);
  });
});

describe('tf.Example', () => {
  test('encode / decode every feature kind; context merges under the example', () => {
    const example = {
      b: { kind: 'bytes' as const, values: [Buffer.from('one'), Buffer.from('')] },
      f: { kind: 'float' as const, values: [1.5, -2] },
      i: { kind: 'int64' as const, values: [-(2n ** 63n), 0n, 2n ** 63n - 1n] },
      empty: { kind: 'float' as const, values: [] },
    };
    const decoded = decodeExample(encodeExample(example));
    assert.deepEqual(decoded.f, example.f);
    assert.deepEqual(decoded.i, example.i);
    assert.deepEqual(decoded.empty, example.empty);
    assert.deepEqual(
      (decoded.b as { values: Uint8Array[] }).values.map((v) => Buffer.from(v).toString()),
      ['one', ''],
    );
    const Example = servingType('tensorflow.Example');
    const viaProtobufjs = Example.toObject(Example.decode(encodeExample(example)), { longs: String }) as { features: { feature: Record<string, { int64List?: { value: string[] } }> } };
    assert.deepEqual(viaProtobufjs.features.feature.i!.int64List!.value, ['-9223372036854775808', '0', '9223372036854775807']);
    const merged = withContext({ x: { kind: 'float', values: [1] } }, { x: { kind: 'float', values: [9] }, q: { kind: 'int64', values: [3n] } });
    assert.deepEqual(merged, { x: { kind: 'float', values: [1] }, q: { kind: 'int64', values: [3n] } });
  });
});
