// tensorflow.TensorProto <-> Tensor, read and written straight from and to
// protobuf bytes: tensor_content and packed *_val fields land in typed arrays
// without a JS array per element.
//
// Decoding follows TF's Tensor::FromProto: tensor_content holds the elements
// in little-endian memory layout; otherwise the dtype's *_val field holds
// them, and when it holds fewer than the shape needs, its last value fills the
// rest (a single value broadcasts; no value means zeros).
import protobuf from 'protobufjs';

import { type DType, type DTypeInfo, INTEGER_RANGES, type NumericArray, dtypeFromEnum, dtypeInfo } from '../dtypes';
import { invalidArgument } from '../errors';
import { type AnyTensor, type Tensor, elementCount, formatShape } from '../tensor';

const HALF_BITS_RANGE = [-32768, 65535] as const;

/** Elements a tensor given in *_val fields may expand to by broadcasting its last value (16 Mi). */
const MAX_EXPANDED_ELEMENTS = 2 ** 24;

/** Field numbers of tensorflow.TensorProto. */
const F = {
  dtype: 1,
  tensorShape: 2,
  versionNumber: 3,
  tensorContent: 4,
  floatVal: 5,
  doubleVal: 6,
  intVal: 7,
  stringVal: 8,
  scomplexVal: 9,
  int64Val: 10,
  boolVal: 11,
  dcomplexVal: 12,
  halfVal: 13,
  uint32Val: 16,
  uint64Val: 17,
} as const;

const FIELD_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(F).map(([name, number]) => [number, name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)]),
);

/** The *_val field that carries each dtype's values. */
const VAL_FIELD: Record<DType, number> = {
  float32: F.floatVal,
  float64: F.doubleVal,
  int32: F.intVal,
  int16: F.intVal,
  int8: F.intVal,
  uint8: F.intVal,
  uint16: F.intVal,
  int64: F.int64Val,
  uint32: F.uint32Val,
  uint64: F.uint64Val,
  bool: F.boolVal,
  string: F.stringVal,
  float16: F.halfVal,
  bfloat16: F.halfVal,
  complex64: F.scomplexVal,
  complex128: F.dcomplexVal,
};

type WireKind = 'varint' | 'fixed32' | 'fixed64';
const WIRE_KIND: Record<number, WireKind> = {
  [F.floatVal]: 'fixed32',
  [F.scomplexVal]: 'fixed32',
  [F.doubleVal]: 'fixed64',
  [F.dcomplexVal]: 'fixed64',
  [F.intVal]: 'varint',
  [F.int64Val]: 'varint',
  [F.boolVal]: 'varint',
  [F.halfVal]: 'varint',
  [F.uint32Val]: 'varint',
  [F.uint64Val]: 'varint',
};

/** Raw occurrences of one repeated scalar field, in order: packed runs and single values alike. */
type Occurrences = Uint8Array[];

function readVarint64(buf: Uint8Array, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= buf.length) throw invalidArgument('TensorProto: truncated varint');
    const byte = buf[pos++]!;
    result |= BigInt(byte & 0x7f) << shift;
    if (byte < 0x80) return [result, pos];
    shift += 7n;
    if (shift > 63n) throw invalidArgument('TensorProto: varint too long');
  }
}

/** Varints of a packed run or single value, as unsigned 64-bit values (fast path for small ones). */
function forEachVarint(buf: Uint8Array, visit: (low: number, big: bigint | null) => void): void {
  let pos = 0;
  while (pos < buf.length) {
    // Up to 4 bytes (28 bits) fit a JS number exactly and cover int_val's usual range.
    let value = 0;
    let shift = 0;
    let done = false;
    const start = pos;
    while (pos < buf.length && shift < 28) {
      const byte = buf[pos++]!;
      value |= (byte & 0x7f) << shift;
      shift += 7;
      if (byte < 0x80) {
        done = true;
        break;
      }
    }
    if (done) {
      visit(value >>> 0, null);
      continue;
    }
    const [big, next] = readVarint64(buf, start);
    pos = next;
    visit(Number(big & 0xffffffffn), big);
  }
}

function countVarints(buf: Uint8Array): number {
  let count = 0;
  for (let i = 0; i < buf.length; i++) if (buf[i]! < 0x80) count++;
  return count;
}

function copyAligned(bytes: Uint8Array, array: NonNullable<DTypeInfo['array']>, count: number): NumericArray {
  if (bytes.byteOffset % array.BYTES_PER_ELEMENT === 0) return new array(bytes.buffer, bytes.byteOffset, count);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new array(copy.buffer, 0, count);
}

/**
 * Reads one TensorProto from its serialized bytes. `what` names it in errors
 * (e.g. "input 'x'").
 */
export function decodeTensorProto(bytes: Uint8Array, what: string): AnyTensor {
  const reader = protobuf.Reader.create(bytes);
  let dtypeEnum = 0;
  let shape: number[] = [];
  let unknownRank = false;
  let content: Uint8Array | null = null;
  const strings: Uint8Array[] = [];
  const repeated = new Map<number, Occurrences>();
  try {
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      const field = tag >>> 3;
      const wire = tag & 7;
      if (field === F.dtype && wire === 0) {
        dtypeEnum = reader.int32();
      } else if (field === F.tensorShape && wire === 2) {
        ({ shape, unknownRank } = decodeShape(reader.bytes(), what));
      } else if (field === F.tensorContent && wire === 2) {
        content = reader.bytes();
      } else if (field === F.stringVal && wire === 2) {
        strings.push(reader.bytes());
      } else if (WIRE_KIND[field] !== undefined) {
        const occ = repeated.get(field) ?? [];
        repeated.set(field, occ);
        if (wire === 2) {
          occ.push(reader.bytes());
        } else {
          const start = reader.pos;
          reader.skipType(wire);
          occ.push(bytes.subarray(start, reader.pos));
        }
      } else {
        reader.skipType(wire);
      }
    }
  } catch (error) {
    if ((error as { code?: string }).code === 'INVALID_ARGUMENT') throw error;
    throw invalidArgument(`${what}: malformed TensorProto: ${(error as Error).message}`);
  }
  const info = dtypeFromEnum(dtypeEnum);
  if (!info) {
    const name = dtypeEnum === 0 ? 'DT_INVALID (dtype not set)' : `enum value ${dtypeEnum}`;
    throw invalidArgument(`${what}: unsupported dtype ${name}`);
  }
  if (unknownRank) throw invalidArgument(`${what}: tensor_shape has unknown_rank set; a tensor needs a known shape`);
  const count = elementCount(shape);
  const slots = count * info.slotsPerElement;
  // tensor_content must hold every element, so its size is bounded by the
  // message; typed *_val fields broadcast their last value over the shape,
  // which a tiny request could otherwise make arbitrarily large.
  const carried = content !== null && content.length > 0 ? content : null;
  if (!carried && count > MAX_EXPANDED_ELEMENTS) {
    throw invalidArgument(
      `${what}: shape ${formatShape(shape)} holds ${count} elements; values given in *_val fields may fill at most ${MAX_EXPANDED_ELEMENTS} (send tensor_content for larger tensors)`,
    );
  }

  if (info.name === 'string') {
    if (carried) throw invalidArgument(`${what}: DT_STRING tensors carry their values in string_val, not tensor_content`);
    return { dtype: 'string', shape, data: fillStrings(strings, count, what, shape) };
  }
  const array = info.array!;
  if (carried) {
    const expected = slots * array.BYTES_PER_ELEMENT;
    if (carried.length !== expected) {
      throw invalidArgument(`${what}: tensor_content has ${carried.length} bytes but shape ${formatShape(shape)} of ${info.protoName} needs ${expected}`);
    }
    return { dtype: info.name, shape, data: copyAligned(carried, array, slots) } as AnyTensor;
  }
  const own = VAL_FIELD[info.name];
  const others = [...repeated.keys()].filter((f) => f !== own);
  if (strings.length > 0) others.push(F.stringVal);
  if (!repeated.has(own) && others.length > 0) {
    throw invalidArgument(
      `${what}: a ${info.protoName} tensor carries its values in ${FIELD_NAMES[own]} or tensor_content, but the request set ${others.map((f) => FIELD_NAMES[f]).join(', ')}`,
    );
  }
  const data = fillNumeric(info, repeated.get(own), slots, what, shape);
  return { dtype: info.name, shape, data } as AnyTensor;
}

function decodeShape(bytes: Uint8Array, what: string): { shape: number[]; unknownRank: boolean } {
  const reader = protobuf.Reader.create(bytes);
  const shape: number[] = [];
  let unknownRank = false;
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === 2 && (tag & 7) === 2) {
      const dim = protobuf.Reader.create(reader.bytes());
      let size = 0;
      while (dim.pos < dim.len) {
        const dimTag = dim.uint32();
        if (dimTag >>> 3 === 1 && (dimTag & 7) === 0) size = Number(dim.int64().toString());
        else dim.skipType(dimTag & 7);
      }
      if (!Number.isSafeInteger(size) || size < 0) throw invalidArgument(`${what}: tensor_shape dimension ${shape.length} is ${size}; sizes must be known and non-negative`);
      shape.push(size);
    } else if (tag >>> 3 === 3 && (tag & 7) === 0) {
      unknownRank = reader.bool();
    } else {
      reader.skipType(tag & 7);
    }
  }
  return { shape, unknownRank };
}

function fillStrings(values: Uint8Array[], count: number, what: string, shape: number[]): Uint8Array[] {
  if (values.length > count) throw invalidArgument(`${what}: string_val has ${values.length} values but shape ${formatShape(shape)} holds ${count}`);
  if (values.length === count) return values;
  const out = new Array<Uint8Array>(count).fill(values.length > 0 ? values[values.length - 1]! : new Uint8Array(0));
  for (let i = 0; i < values.length; i++) out[i] = values[i]!;
  return out;
}

function fillNumeric(info: DTypeInfo, occ: Occurrences | undefined, slots: number, what: string, shape: number[]): NumericArray {
  const array = info.array!;
  const out = new array(slots);
  const field = VAL_FIELD[info.name];
  const kind = WIRE_KIND[field]!;
  let n = 0;
  const tooMany = () =>
    invalidArgument(`${what}: ${FIELD_NAMES[field]} has more values than shape ${formatShape(shape)} of ${info.protoName} holds (${slots / info.slotsPerElement} elements)`);
  for (const bytes of occ ?? []) {
    if (kind === 'fixed32' || kind === 'fixed64') {
      const width = kind === 'fixed32' ? 4 : 8;
      if (bytes.length % width !== 0) throw invalidArgument(`${what}: ${FIELD_NAMES[field]} is truncated`);
      const values = bytes.length / width;
      if (n + values > slots) throw tooMany();
      const view = copyAligned(bytes, kind === 'fixed32' ? Float32Array : Float64Array, values) as Float32Array | Float64Array;
      (out as Float32Array | Float64Array).set(view, n);
      n += values;
    } else {
      if (n + countVarints(bytes) > slots) throw tooMany();
      n = storeVarints(info.name, bytes, out, n, what);
    }
  }
  if (info.slotsPerElement === 2 && n % 2 !== 0) throw invalidArgument(`${what}: ${FIELD_NAMES[field]} needs (real, imaginary) pairs, got ${n} values`);
  if (n > 0 && n < slots) {
    // TF repeats the last value (the last pair for complex types).
    const step = info.slotsPerElement;
    const filled = out as unknown as { [i: number]: number | bigint };
    for (let i = n; i < slots; i++) filled[i] = filled[i - step]!;
  }
  return out;
}

function storeVarints(dtype: DType, bytes: Uint8Array, out: NumericArray, start: number, what: string): number {
  let n = start;
  switch (dtype) {
    case 'int64':
      forEachVarint(bytes, (low, big) => {
        (out as BigInt64Array)[n++] = big === null ? BigInt(low) : BigInt.asIntN(64, big);
      });
      break;
    case 'uint64':
      forEachVarint(bytes, (low, big) => {
        (out as BigUint64Array)[n++] = big === null ? BigInt(low) : big;
      });
      break;
    case 'bool':
      forEachVarint(bytes, (low, big) => {
        (out as Uint8Array)[n++] = low !== 0 || (big !== null && big !== 0n) ? 1 : 0;
      });
      break;
    default: {
      // int_val / half_val / uint32_val: int32 varints (negatives are 10-byte sign extensions).
      // half_val carries the 16 bits of a float16/bfloat16, sign-extended or not.
      const range = dtype === 'float16' || dtype === 'bfloat16' ? HALF_BITS_RANGE : INTEGER_RANGES[dtype];
      forEachVarint(bytes, (low, big) => {
        const value = dtype === 'uint32' ? low >>> 0 : big === null ? low | 0 : Number(BigInt.asIntN(32, big));
        if (range && (value < range[0] || value > range[1])) {
          throw invalidArgument(`${what}: value ${value} is out of range for ${dtypeInfo(dtype).protoName}`);
        }
        (out as Int32Array)[n++] = dtype === 'float16' || dtype === 'bfloat16' ? value & 0xffff : value;
      });
    }
  }
  return n;
}

function bigVarints(values: BigInt64Array | BigUint64Array): Uint8Array {
  const out = new Uint8Array(values.length * 10);
  let pos = 0;
  for (const value of values) {
    let v = BigInt.asUintN(64, value);
    while (v >= 0x80n) {
      out[pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    out[pos++] = Number(v);
  }
  return out.subarray(0, pos);
}

export type TensorEncoding = 'typed' | 'content';

function writeShape(writer: protobuf.Writer, shape: readonly number[]): void {
  writer.uint32((F.tensorShape << 3) | 2).fork();
  for (const size of shape) {
    writer.uint32((2 << 3) | 2).fork();
    if (size !== 0) writer.uint32((1 << 3) | 0).int64(size);
    writer.ldelim();
  }
  writer.ldelim();
}

function bytesOf(array: ArrayBufferView): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

/**
 * Writes a Tensor as a TensorProto's fields into `writer` (the caller frames
 * it). 'typed' uses the dtype's *_val field, as TF Serving answers; 'content'
 * uses tensor_content (strings always go to string_val).
 */
export function writeTensorProto(writer: protobuf.Writer, tensor: Tensor, encoding: TensorEncoding = 'typed'): void {
  const info = dtypeInfo(tensor.dtype);
  writer.uint32((F.dtype << 3) | 0).int32(info.tfEnum);
  writeShape(writer, tensor.shape);
  if (tensor.dtype === 'string') {
    for (const value of tensor.data as Uint8Array[]) writer.uint32((F.stringVal << 3) | 2).bytes(value);
    return;
  }
  const data = tensor.data as NumericArray;
  if (data.length === 0) return;
  if (encoding === 'content') {
    writer.uint32((F.tensorContent << 3) | 2).bytes(bytesOf(data));
    return;
  }
  const field = VAL_FIELD[tensor.dtype];
  if (WIRE_KIND[field] !== 'varint') {
    // float / double / complex: packed fixed-width values are the array's bytes.
    writer.uint32((field << 3) | 2).bytes(bytesOf(data));
    return;
  }
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    writer.uint32((field << 3) | 2).bytes(bigVarints(data));
    return;
  }
  writer.uint32((field << 3) | 2).fork();
  switch (tensor.dtype) {
    case 'uint32':
      for (const v of data as Uint32Array) writer.uint32(v);
      break;
    case 'bool':
      for (const v of data as Uint8Array) writer.bool(v !== 0);
      break;
    default:
      for (const v of data as Int32Array) writer.int32(v);
  }
  writer.ldelim();
}

/** A Tensor as a standalone serialized TensorProto. */
export function encodeTensorProto(tensor: Tensor, encoding: TensorEncoding = 'typed'): Uint8Array {
  const writer = protobuf.Writer.create();
  writeTensorProto(writer, tensor, encoding);
  return writer.finish();
}
