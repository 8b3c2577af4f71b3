// tensorflow.TensorProto <-> Tensor, read and written straight from and to
// protobuf bytes: tensor_content and packed *_val fields land in typed arrays
// without a JS array per element.
//
// Decoding follows TF's Tensor::FromProto: tensor_content holds the elements
// in little-endian memory layout; otherwise the dtype's *_val field holds
// them, and when it holds fewer than the shape needs, its last value fills the
// rest (a single value broadcasts; no value means zeros).
import protobuf from 'protobufjs';

import { type DType, type DTypeInfo, INTEGER_RANGES, type NumericArray, dtypeFromEnum, dtypeInfo } from '../engine/dtypes';
import { invalidArgument } from '../engine/errors';
import { type AnyTensor, MAX_RANK, type PackedStrings, type Tensor, checkShapeLimits, formatShape, isPackedStrings, packedAt, packedCount } from '../engine/tensor';
import { DecodeBudget, tensorCost } from './decode-limits';
import { Cursor, FIXED32, FIXED64, LEN, VARINT, countVarints, endsVarints, readSpan, readTag, readVarint64, readingWire } from './proto-wire';

const HALF_BITS_RANGE = [-32768, 65535] as const;

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

const FIELD_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(F).map(([name, number]) => [number, name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)]),
);

/** The *_val field that carries each dtype's values. */
const VAL_FIELD: Readonly<Record<DType, number>> = {
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

/** The scalar wire type of each numeric *_val field (all of them may also come packed). */
const VAL_WIRE: ReadonlyMap<number, number> = new Map([
  [F.floatVal, FIXED32],
  [F.scomplexVal, FIXED32],
  [F.doubleVal, FIXED64],
  [F.dcomplexVal, FIXED64],
  [F.intVal, VARINT],
  [F.int64Val, VARINT],
  [F.boolVal, VARINT],
  [F.halfVal, VARINT],
  [F.uint32Val, VARINT],
  [F.uint64Val, VARINT],
]);

/**
 * A decoded tensor: numeric dtypes in their typed arrays, strings packed in
 * one buffer (no JS object per element). What predict() takes as an input.
 */
export type DecodedTensor = Exclude<{ [D in DType]: Tensor<D> }[DType], Tensor<'string'>> | { dtype: 'string'; shape: number[]; data: PackedStrings };

/** What the first pass over a TensorProto counted, before anything is allocated. */
interface Census {
  dtypeEnum: number;
  shape: number[];
  unknownRank: boolean;
  content: Uint8Array | null;
  /** string_val: count, total bytes, length of the last one. */
  strings: number;
  stringBytes: number;
  lastStringLength: number;
  /** Scalars seen per numeric *_val field (present = set, even if empty). */
  values: Map<number, number>;
}

/** The varints of buf[start, end), as unsigned 64-bit values (fast path for small ones). */
function forEachVarint(buf: Uint8Array, start: number, end: number, visit: (low: number, big: bigint | null) => void): void {
  let pos = start;
  while (pos < end) {
    // Up to 4 bytes (28 bits) fit a JS number exactly and cover int_val's usual range.
    let value = 0;
    let shift = 0;
    let done = false;
    const first = pos;
    while (pos < end && shift < 28) {
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
    const [big, next] = readVarint64(buf, first, end);
    pos = next;
    visit(Number(big & 0xffffffffn), big);
  }
}

function copyAligned(bytes: Uint8Array, array: NonNullable<DTypeInfo['array']>, count: number): NumericArray {
  if (bytes.byteOffset % array.BYTES_PER_ELEMENT === 0) return new array(bytes.buffer, bytes.byteOffset, count);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new array(copy.buffer, 0, count);
}

function fieldName(field: number): string {
  return FIELD_NAMES.get(field) ?? `field ${field}`;
}

/**
 * Reads one TensorProto from its serialized bytes. `what` names it in errors
 * (e.g. "input 'x'"). Nothing is allocated per element, and nothing at all
 * before the values given have been counted against the shape and the
 * tensor's decoded size charged to `budget` (by default one for these bytes
 * alone, with the default limits).
 */
export function decodeTensorProto(bytes: Uint8Array, what: string, budget: DecodeBudget = new DecodeBudget(bytes.length)): DecodedTensor {
  const census = readingWire(`TensorProto of ${what}`, () => takeCensus(bytes, what));
  const info = dtypeFromEnum(census.dtypeEnum);
  if (!info) {
    const name = census.dtypeEnum === 0 ? 'DT_INVALID (dtype not set)' : `enum value ${census.dtypeEnum}`;
    throw invalidArgument(`${what}: unsupported dtype ${name}`);
  }
  if (census.unknownRank) throw invalidArgument(`${what}: tensor_shape has unknown_rank set; a tensor needs a known shape`);
  const { shape } = census;
  const { elements } = checkShapeLimits(shape, what);
  const slots = elements * info.slotsPerElement;
  const carried = census.content !== null && census.content.length > 0 ? census.content : null;

  if (info.name === 'string') {
    if (carried) throw invalidArgument(`${what}: DT_STRING tensors carry their values in string_val, not tensor_content`);
    if (census.strings > elements) throw invalidArgument(`${what}: string_val has ${census.strings} values but shape ${formatShape(shape)} holds ${elements}`);
    // TF repeats the last string over the elements not given.
    const total = census.stringBytes + (elements - census.strings) * census.lastStringLength;
    budget.charge(tensorCost(elements, 'string', total), what);
    if (total > 0xffffffff) throw invalidArgument(`${what}: the strings of this tensor would take ${total} bytes; at most 4 GiB are supported`);
    return { dtype: 'string', shape, data: readingWire(`TensorProto of ${what}`, () => fillStrings(bytes, census, elements, total)) };
  }
  const array = info.array!;
  const bytesPerElement = array.BYTES_PER_ELEMENT * info.slotsPerElement;
  if (carried) {
    const expected = slots * array.BYTES_PER_ELEMENT;
    if (carried.length !== expected) {
      throw invalidArgument(`${what}: tensor_content has ${carried.length} bytes but shape ${formatShape(shape)} of ${info.protoName} needs ${expected}`);
    }
    budget.charge(tensorCost(elements, bytesPerElement), what);
    return { dtype: info.name, shape, data: copyAligned(carried, array, slots) } as DecodedTensor;
  }
  const own = VAL_FIELD[info.name];
  const given = census.values.get(own);
  const others = [...census.values.keys()].filter((f) => f !== own);
  if (census.strings > 0) others.push(F.stringVal);
  if (given === undefined && others.length > 0) {
    throw invalidArgument(
      `${what}: a ${info.protoName} tensor carries its values in ${fieldName(own)} or tensor_content, but the request set ${others.map(fieldName).join(', ')}`,
    );
  }
  const n = given ?? 0;
  if (n > slots) {
    throw invalidArgument(`${what}: ${fieldName(own)} has more values than shape ${formatShape(shape)} of ${info.protoName} holds (${elements} elements)`);
  }
  if (info.slotsPerElement === 2 && n % 2 !== 0) throw invalidArgument(`${what}: ${fieldName(own)} needs (real, imaginary) pairs, got ${n} values`);
  budget.charge(tensorCost(elements, bytesPerElement), what);
  const data = readingWire(`TensorProto of ${what}`, () => fillNumeric(bytes, info, own, n, slots, what));
  return { dtype: info.name, shape, data } as DecodedTensor;
}

/** First pass: what the message sets and how many values it gives, without allocating per value. */
function takeCensus(bytes: Uint8Array, what: string): Census {
  const census: Census = { dtypeEnum: 0, shape: [], unknownRank: false, content: null, strings: 0, stringBytes: 0, lastStringLength: 0, values: new Map() };
  const cursor = new Cursor(bytes);
  const stringTag = (F.stringVal << 3) | LEN;
  while (!cursor.done) {
    // Fast path for runs of short strings (one-byte tag and length).
    let pos = cursor.pos;
    while (pos + 1 < bytes.length && bytes[pos] === stringTag && bytes[pos + 1]! < 0x80) {
      const length = bytes[pos + 1]!;
      if (pos + 2 + length > bytes.length) break; // let the general path report the truncation
      pos += 2 + length;
      census.strings++;
      census.lastStringLength = length;
      census.stringBytes += length;
    }
    cursor.pos = pos;
    if (cursor.done) break;
    cursor.tag();
    const { field, wire } = cursor;
    if (field === F.stringVal && wire === LEN) {
      // The hot case of a hostile request: millions of strings, counted only.
      cursor.value();
      census.strings++;
      census.lastStringLength = cursor.pos - cursor.start;
      census.stringBytes += census.lastStringLength;
      continue;
    }
    const scalarWire = VAL_WIRE.get(field);
    if (field === F.dtype && wire === VARINT) {
      census.dtypeEnum = cursor.varint32() | 0;
    } else if (field === F.tensorShape && wire === LEN) {
      // Repeated occurrences of a message field merge: their dims add up.
      cursor.value();
      readShape(bytes.subarray(cursor.start, cursor.pos), census, what);
    } else if (field === F.tensorContent && wire === LEN) {
      cursor.value();
      census.content = bytes.subarray(cursor.start, cursor.pos);
    } else if (scalarWire !== undefined && (wire === LEN || wire === scalarWire)) {
      let count = 1;
      if (wire === LEN) {
        cursor.value();
        count = packedValues(bytes, cursor.start, cursor.pos, scalarWire, field);
      } else {
        cursor.skip();
      }
      census.values.set(field, (census.values.get(field) ?? 0) + count);
    } else {
      // Unknown fields, and known ones with another wire type (as protobuf treats them), are skipped.
      cursor.skip();
    }
  }
  return census;
}

function packedValues(buf: Uint8Array, start: number, end: number, wire: number, field: number): number {
  if (wire === VARINT) {
    if (!endsVarints(buf.subarray(start, end))) throw new Error(`${fieldName(field)} ends in a truncated varint`);
    return countVarints(buf, start, end);
  }
  const width = wire === FIXED32 ? 4 : 8;
  if ((end - start) % width !== 0) throw new Error(`${fieldName(field)} is truncated (${end - start} bytes of ${width}-byte values)`);
  return (end - start) / width;
}

/** tensorflow.TensorShapeProto: dim (2) { size (1) }, unknown_rank (3). Dims are appended to census.shape. */
function readShape(bytes: Uint8Array, census: Census, what: string): void {
  const reader = protobuf.Reader.create(bytes);
  while (reader.pos < reader.len) {
    const { field, wire } = readTag(reader);
    if (field === 2 && wire === LEN) {
      const span = readSpan(reader);
      const dim = protobuf.Reader.create(bytes.subarray(span.start, span.end));
      let size = 0;
      while (dim.pos < dim.len) {
        const inner = readTag(dim);
        if (inner.field === 1 && inner.wire === VARINT) size = Number(dim.int64().toString());
        else dim.skipType(inner.wire);
      }
      if (!Number.isSafeInteger(size) || size < 0) {
        throw invalidArgument(`${what}: tensor_shape dimension ${census.shape.length} is ${size}; sizes must be known and non-negative`);
      }
      census.shape.push(size);
      // Refused as soon as it passes the limit: a hostile shape is never held whole.
      if (census.shape.length > MAX_RANK) checkShapeLimits(census.shape, what);
    } else if (field === 3 && wire === VARINT) {
      census.unknownRank = reader.bool();
    } else {
      reader.skipType(wire);
    }
  }
}

/** Second pass: the string_val values into one buffer, the last one repeated over the rest. */
function fillStrings(bytes: Uint8Array, census: Census, elements: number, total: number): PackedStrings {
  const out = new Uint8Array(total);
  const offsets = new Uint32Array(elements + 1);
  let n = 0;
  let pos = 0;
  const cursor = new Cursor(bytes);
  while (!cursor.done && n < census.strings) {
    cursor.tag();
    if (cursor.field === F.stringVal && cursor.wire === LEN) {
      cursor.value();
      const length = cursor.pos - cursor.start;
      if (length > 0) out.set(bytes.subarray(cursor.start, cursor.pos), pos);
      pos += length;
      offsets[++n] = pos;
    } else {
      cursor.skip();
    }
  }
  if (census.strings > 0) {
    const last = out.subarray(pos - census.lastStringLength, pos);
    for (; n < elements; n++) {
      if (last.length > 0) out.set(last, pos);
      pos += last.length;
      offsets[n + 1] = pos;
    }
  }
  return { bytes: out, offsets };
}

/** Second pass: the `given` values of field `own` into the dtype's array, the last one repeated over the rest. */
function fillNumeric(bytes: Uint8Array, info: DTypeInfo, own: number, given: number, slots: number, what: string): NumericArray {
  const out = new info.array!(slots);
  const scalarWire = VAL_WIRE.get(own)!;
  let n = 0;
  if (given > 0) {
    const cursor = new Cursor(bytes);
    const outBytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    while (!cursor.done && n < given) {
      cursor.tag();
      if (cursor.field !== own || (cursor.wire !== LEN && cursor.wire !== scalarWire)) {
        cursor.skip();
        continue;
      }
      let start = cursor.pos;
      if (cursor.wire === LEN) {
        cursor.value();
        start = cursor.start;
      } else {
        cursor.skip();
      }
      const end = cursor.pos;
      if (scalarWire === VARINT) {
        n = storeVarints(info.name, bytes, start, end, out, n, what);
      } else {
        // float / double / complex: little-endian values, copied bytewise (no alignment needed).
        outBytes.set(bytes.subarray(start, end), n * out.BYTES_PER_ELEMENT);
        n += (end - start) / out.BYTES_PER_ELEMENT;
      }
    }
  }
  if (n > 0 && n < slots) {
    // TF repeats the last value (the last pair for complex types).
    if (info.slotsPerElement === 1) {
      (out as unknown as { fill(value: number | bigint, start: number): unknown }).fill(out[n - 1]!, n);
    } else {
      const filled = out as Float32Array | Float64Array;
      for (let i = n; i < slots; i++) filled[i] = filled[i - 2]!;
    }
  }
  return out;
}

function storeVarints(dtype: DType, buf: Uint8Array, start: number, end: number, out: NumericArray, first: number, what: string): number {
  let n = first;
  switch (dtype) {
    case 'int64':
      forEachVarint(buf, start, end, (low, big) => {
        (out as BigInt64Array)[n++] = big === null ? BigInt(low) : BigInt.asIntN(64, big);
      });
      break;
    case 'uint64':
      forEachVarint(buf, start, end, (low, big) => {
        (out as BigUint64Array)[n++] = big === null ? BigInt(low) : big;
      });
      break;
    case 'bool':
      forEachVarint(buf, start, end, (low, big) => {
        (out as Uint8Array)[n++] = low !== 0 || (big !== null && big !== 0n) ? 1 : 0;
      });
      break;
    default: {
      // int_val / half_val / uint32_val: int32 varints (negatives are 10-byte sign extensions).
      // half_val carries the 16 bits of a float16/bfloat16, sign-extended or not.
      const range = dtype === 'float16' || dtype === 'bfloat16' ? HALF_BITS_RANGE : INTEGER_RANGES[dtype];
      forEachVarint(buf, start, end, (low, big) => {
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

/** A tensor to write: an engine output (strings as byte arrays) or a decoded one (strings packed). */
export type EncodableTensor = AnyTensor | DecodedTensor;

function writeShape(writer: protobuf.Writer, shape: readonly number[]): void {
  writer.uint32((F.tensorShape << 3) | LEN).fork();
  for (const size of shape) {
    writer.uint32((2 << 3) | LEN).fork();
    if (size !== 0) writer.uint32((1 << 3) | VARINT).int64(size);
    writer.ldelim();
  }
  writer.ldelim();
}

function bytesOf(array: ArrayBufferView): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

/** The string elements of a tensor, whichever form they are in. */
function forEachString(data: Uint8Array[] | PackedStrings, visit: (value: Uint8Array) => void): void {
  if (isPackedStrings(data)) {
    const count = packedCount(data);
    for (let i = 0; i < count; i++) visit(packedAt(data, i));
  } else {
    for (const value of data) visit(value);
  }
}

/**
 * Writes a Tensor as a TensorProto's fields into `writer` (the caller frames
 * it). 'typed' uses the dtype's *_val field, as TF Serving answers; 'content'
 * uses tensor_content (strings always go to string_val). tensorProtoSize()
 * is the number of bytes this writes.
 */
export function writeTensorProto(writer: protobuf.Writer, tensor: EncodableTensor, encoding: TensorEncoding = 'typed'): void {
  const info = dtypeInfo(tensor.dtype);
  writer.uint32((F.dtype << 3) | VARINT).int32(info.tfEnum);
  writeShape(writer, tensor.shape);
  if (tensor.dtype === 'string') {
    forEachString(tensor.data, (value) => writer.uint32((F.stringVal << 3) | LEN).bytes(value));
    return;
  }
  const data = tensor.data as NumericArray;
  if (data.length === 0) return;
  if (encoding === 'content') {
    writer.uint32((F.tensorContent << 3) | LEN).bytes(bytesOf(data));
    return;
  }
  const field = VAL_FIELD[tensor.dtype];
  if (VAL_WIRE.get(field) !== VARINT) {
    // float / double / complex: packed fixed-width values are the array's bytes.
    writer.uint32((field << 3) | LEN).bytes(bytesOf(data));
    return;
  }
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    writer.uint32((field << 3) | LEN).bytes(bigVarints(data));
    return;
  }
  writer.uint32((field << 3) | LEN).fork();
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
export function encodeTensorProto(tensor: EncodableTensor, encoding: TensorEncoding = 'typed'): Uint8Array {
  const writer = protobuf.Writer.create();
  writeTensorProto(writer, tensor, encoding);
  return writer.finish();
}

/** Bytes of a varint holding a non-negative integer below 2^53. */
export function varintSize(value: number): number {
  let size = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

function bigVarintSize(value: bigint): number {
  let v = BigInt.asUintN(64, value);
  if (v < 0x80000000n) return varintSize(Number(v));
  let size = 1;
  while (v >= 0x80n) {
    v >>= 7n;
    size++;
  }
  return size;
}

/** Bytes of a length-delimited field `field` holding `length` bytes. */
export function lengthDelimitedSize(field: number, length: number): number {
  return varintSize((field << 3) | LEN) + varintSize(length) + length;
}

function shapeSize(shape: readonly number[]): number {
  let dims = 0;
  for (const size of shape) dims += lengthDelimitedSize(2, size === 0 ? 0 : 1 + varintSize(size));
  return lengthDelimitedSize(F.tensorShape, dims);
}

function varintValuesSize(tensor: EncodableTensor): number {
  const data = tensor.data as NumericArray;
  let size = 0;
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    for (const v of data) size += bigVarintSize(v);
  } else if (tensor.dtype === 'bool') {
    size = data.length;
  } else {
    // writer.int32 sign-extends negatives to 10 bytes; uint32 and 16-bit words are never negative.
    for (const v of data as Int32Array) size += v < 0 ? 10 : varintSize(v);
  }
  return size;
}

/**
 * The exact number of bytes writeTensorProto() writes for this tensor, found
 * without writing it: a response can be refused before it is built.
 */
export function tensorProtoSize(tensor: EncodableTensor, encoding: TensorEncoding = 'typed'): number {
  const info = dtypeInfo(tensor.dtype);
  let size = 1 + varintSize(info.tfEnum) + shapeSize(tensor.shape);
  if (tensor.dtype === 'string') {
    forEachString(tensor.data, (value) => (size += lengthDelimitedSize(F.stringVal, value.length)));
    return size;
  }
  const data = tensor.data as NumericArray;
  if (data.length === 0) return size;
  if (encoding === 'content') return size + lengthDelimitedSize(F.tensorContent, data.byteLength);
  const field = VAL_FIELD[tensor.dtype];
  if (VAL_WIRE.get(field) !== VARINT) return size + lengthDelimitedSize(field, data.byteLength);
  return size + lengthDelimitedSize(field, varintValuesSize(tensor));
}
