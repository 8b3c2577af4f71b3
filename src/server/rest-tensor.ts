// JSON values <-> tensors, the way TF Serving's REST API reads and writes
// them: nested lists whose depth is the rank, dtype from the signature,
// {"b64": "..."} for binary strings. Decoding checks the shape
// (checkShapeLimits) and charges the request's DecodeBudget before it
// allocates; strings are packed into one buffer (PackedStrings).
import { BIGINT_RANGES, type DType, INTEGER_RANGES, dtypeInfo } from '../engine/dtypes';
import { TfServeError, invalidArgument } from '../engine/errors';
import { fromBfloat16Bits, fromFloat16Bits, toBfloat16Bits, toFloat16Bits } from '../engine/half';
import { type DecodeBudget, STRING_ELEMENT_COST } from '../serving/decode-limits';
import { type AnyTensor, type PackedStrings, type TensorInput, checkShapeLimits, elementCount, formatShape } from '../engine/tensor';
import { type JsonValue, isJsonObject } from './json-parse';
import { JsonOut, formatFloat32, formatFloat64, jsonString } from './json-write';

/** Where a tensor being decoded is charged, and how messages name it (e.g. "input 'x'"). */
export interface DecodeTarget {
  budget: DecodeBudget;
  what: string;
  /**
   * The body was parsed with integer literals as bigints (json-parse's
   * exactIntegers), so a `number` had a fraction or an exponent: rapidjson
   * reads `1.0` as a double, and TF Serving refuses it for integer dtypes.
   */
  exactIntegers?: boolean;
}

/** TensorFlow's DataTypeString name (DT_HALF -> "half"), used in TF Serving's messages. */
function tfTypeName(dtype: DType): string {
  return dtypeInfo(dtype).protoName.slice('DT_'.length).toLowerCase();
}

/** Short rendering of a JSON value for error messages. */
export function renderJson(value: JsonValue | undefined): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return formatFloat64(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string') return jsonString(value.length > 64 ? `${value.slice(0, 64)}...` : value);
  if (Array.isArray(value)) return value.length === 0 ? '[]' : value.length <= 4 ? `[${value.map(renderJson).join(', ')}]` : `[${renderJson(value[0])}, ... (${value.length} items)]`;
  if (isJsonObject(value)) {
    const keys = Object.keys(value);
    return `{${keys.slice(0, 4).map((k) => `${jsonString(k)}: ${renderJson(value[k])}`).join(', ')}${keys.length > 4 ? ', ...' : ''}}`;
  }
  return String(value);
}

export function jsonTypeName(value: JsonValue): string {
  if (value === null) return 'Null';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number' || typeof value === 'bigint') return 'Number';
  if (typeof value === 'string') return 'String';
  return Array.isArray(value) ? 'Array' : 'Object';
}

/** {"b64": "<base64>"}: an object with exactly that one string member. */
export function isBase64Object(value: JsonValue): value is { b64: string } {
  if (!isJsonObject(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === 'b64' && typeof value.b64 === 'string';
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;
const BASE64_URL = /^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}(?:==)?|[A-Za-z0-9_-]{3}=?)?$/;

/** The Buffer encoding of a {"b64": ...} value (standard or URL-safe alphabet), or an INVALID_ARGUMENT. */
function base64Encoding(value: JsonValue): { text: string; encoding: 'base64' | 'base64url' } {
  if (!isBase64Object(value)) throw invalidArgument(`JSON Value: ${renderJson(value)} not formatted correctly for base64 data`);
  const text = value.b64;
  if (BASE64.test(text)) return { text, encoding: 'base64' };
  if (BASE64_URL.test(text)) return { text, encoding: 'base64url' };
  throw invalidArgument(`Unable to base64 decode ${renderJson(text)}`);
}

export function decodeBase64(value: JsonValue): Buffer {
  const { text, encoding } = base64Encoding(value);
  return Buffer.from(text, encoding);
}

/** The shape of a JSON value: the length of every first list down to a leaf. */
function jsonShape(value: JsonValue): number[] {
  const shape: number[] = [];
  let current = value;
  while (Array.isArray(current)) {
    shape.push(current.length);
    if (current.length === 0) break;
    current = current[0]!;
  }
  return shape;
}

function typeError(value: JsonValue, dtype: DType): TfServeError {
  return invalidArgument(`JSON Value: ${renderJson(value)} Type: ${jsonTypeName(value)} is not of expected type: ${tfTypeName(dtype)}`);
}

type LeafWriter = (value: JsonValue, index: number) => void;

/** The typed storage of one input being decoded: how a JSON leaf goes in, and the finished data. */
interface Storage {
  write: LeafWriter;
  finish(): TensorInput['data'];
}

/**
 * A JSON number for a floating-point input. TF Serving reads any number
 * (integers too) and narrows it as C++ does: past the dtype's range it
 * becomes +-Infinity, for float32, float16 and bfloat16 alike (the typed
 * arrays and half.ts round the same way). Literals past a double's range
 * never get here: the parser refuses them, as rapidjson does.
 */
function floatValue(value: JsonValue, dtype: DType): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  throw typeError(value, dtype);
}

/**
 * The range rapidjson checks for each integer dtype (IsInt, IsUint,
 * IsInt64, IsUint64): outside it TF Serving answers a type error. TF Serving
 * then narrows int8/int16/uint8 silently; tfserve refuses values outside the
 * dtype's own range instead.
 */
const JSON_INTEGER_KIND: Partial<Record<DType, DType>> = {
  int8: 'int32',
  int16: 'int32',
  int32: 'int32',
  uint8: 'int32',
  uint16: 'int32',
  uint32: 'uint32',
  int64: 'int64',
  uint64: 'uint64',
};

/** Whether a JSON value for `dtype` must be an integer literal (rapidjson's IsInt & co.). */
export function takesIntegers(dtype: DType): boolean {
  return JSON_INTEGER_KIND[dtype] !== undefined;
}

function integerValue(value: JsonValue, dtype: DType, exactIntegers: boolean): bigint {
  let big: bigint;
  if (typeof value === 'bigint') big = value;
  else if (typeof value === 'number' && Number.isInteger(value) && !exactIntegers) big = BigInt(value);
  else throw typeError(value, dtype);
  const [kindMin, kindMax] = BIGINT_RANGES[JSON_INTEGER_KIND[dtype]!]!;
  if (big < kindMin || big > kindMax) throw typeError(value, dtype);
  const [min, max] = BIGINT_RANGES[dtype]!;
  if (big < min || big > max) throw invalidArgument(`JSON Value: ${renderJson(value)} is out of range for type: ${tfTypeName(dtype)}`);
  return big;
}

/** Offsets of PackedStrings are 32-bit. */
const MAX_PACKED_BYTES = 2 ** 32 - 1;

/** Packs string leaves (JSON strings as UTF-8, {"b64": ...} decoded) into one buffer, charging their bytes first. */
function packJsonStrings(items: readonly JsonValue[], target: DecodeTarget): PackedStrings {
  let total = 0;
  for (const item of items) {
    if (typeof item === 'string') total += Buffer.byteLength(item, 'utf8');
    else {
      const { text, encoding } = base64Encoding(item);
      total += Buffer.byteLength(text, encoding);
    }
  }
  target.budget.charge(total, target.what);
  if (total > MAX_PACKED_BYTES) throw invalidArgument(`${target.what}: ${total} bytes of strings, more than one tensor may hold here (${MAX_PACKED_BYTES})`);
  const bytes = new Uint8Array(total);
  const view = Buffer.from(bytes.buffer, 0, total);
  const offsets = new Uint32Array(items.length + 1);
  let at = 0;
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    if (typeof item === 'string') at += view.write(item, at, 'utf8');
    else {
      const { text, encoding } = base64Encoding(item);
      at += view.write(text, at, encoding);
    }
    offsets[i + 1] = at;
  }
  // byteLength may count base64 padding the decoder does not produce.
  return at === total ? { bytes, offsets } : { bytes: bytes.subarray(0, at), offsets };
}

/** Storage for `count` elements, charged to the budget before it is allocated. */
function allocate(dtype: DType, count: number, target: DecodeTarget): Storage {
  const info = dtypeInfo(dtype);
  if (dtype === 'string') {
    target.budget.charge(count * STRING_ELEMENT_COST, target.what);
    // References to the parsed JSON values only: no object per element is made here.
    const items = new Array<JsonValue>(count);
    return {
      write: (v, i) => {
        if (typeof v !== 'string' && !isJsonObject(v)) throw typeError(v, dtype);
        items[i] = v;
      },
      finish: () => packJsonStrings(items, target),
    };
  }
  if (dtype === 'complex64' || dtype === 'complex128') {
    // TF Serving answers UNIMPLEMENTED (501) here. A 5xx says the server
    // failed; this is a request the REST format cannot express, so 400.
    throw invalidArgument(`JSON has no representation for ${dtype} tensors; send them over gRPC`);
  }
  target.budget.charge(count * info.array!.BYTES_PER_ELEMENT, target.what);
  const done = <T extends TensorInput['data']>(data: T, write: LeafWriter): Storage => ({ write, finish: () => data });
  switch (dtype) {
    case 'float32':
    case 'float64': {
      const data = dtype === 'float32' ? new Float32Array(count) : new Float64Array(count);
      return done(data, (v, i) => (data[i] = floatValue(v, dtype)));
    }
    case 'float16':
    case 'bfloat16': {
      const data = new Uint16Array(count);
      const toBits = dtype === 'float16' ? toFloat16Bits : toBfloat16Bits;
      return done(data, (v, i) => (data[i] = toBits(floatValue(v, dtype))));
    }
    case 'int8':
    case 'int16':
    case 'int32':
    case 'uint8':
    case 'uint16':
    case 'uint32': {
      const data = new info.array!(count) as Int32Array;
      const [min, max] = INTEGER_RANGES[dtype]!;
      const exact = target.exactIntegers ?? false;
      // In-range numbers skip the bigint round trip (numbers are integer literals unless exact).
      return done(data, (v, i) => (data[i] = !exact && typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : Number(integerValue(v, dtype, exact))));
    }
    case 'int64':
    case 'uint64': {
      const data = dtype === 'int64' ? new BigInt64Array(count) : new BigUint64Array(count);
      const exact = target.exactIntegers ?? false;
      return done(data, (v, i) => (data[i] = integerValue(v, dtype, exact)));
    }
    case 'bool': {
      const data = new Uint8Array(count);
      return done(data, (v, i) => {
        if (typeof v !== 'boolean') throw typeError(v, dtype);
        data[i] = v ? 1 : 0;
      });
    }
  }
}

/**
 * Fills `storage` from `value`, which must have exactly `shape` (checked at
 * every level), starting at element `offset`. Returns the next offset.
 */
function fill(value: JsonValue, shape: readonly number[], level: number, storage: Storage, offset: number, dtype: DType): number {
  const rank = shape.length;
  if (!Array.isArray(value)) {
    if (level !== rank) {
      throw invalidArgument(`JSON Value: ${renderJson(value)} found at incorrect level: ${level + 1} in the JSON DOM. Expected at level: ${rank}`);
    }
    if (isJsonObject(value) && dtype !== 'string') throw typeError(value, dtype);
    storage.write(value, offset);
    return offset + 1;
  }
  if (level >= rank) throw invalidArgument(`Encountered list at unexpected level: ${level} expected < ${rank}`);
  if (value.length !== shape[level]) {
    throw invalidArgument(`Encountered list at unexpected size: ${value.length} at level: ${level} expected size: ${shape[level]}`);
  }
  if (level === rank - 1) {
    for (let i = 0; i < value.length; i++) {
      const item = value[i]!;
      if (Array.isArray(item)) throw invalidArgument(`Encountered list at unexpected level: ${level + 1} expected < ${rank}`);
      if (isJsonObject(item) && dtype !== 'string') throw typeError(item, dtype);
      storage.write(item, offset + i);
    }
    return offset + value.length;
  }
  for (const item of value) offset = fill(item, shape, level + 1, storage, offset, dtype);
  return offset;
}

/** One tensor from one JSON value (columnar format). */
export function tensorFromJson(value: JsonValue, dtype: DType, target: DecodeTarget): TensorInput {
  const shape = jsonShape(value);
  const { elements } = checkShapeLimits(shape, target.what);
  const storage = allocate(dtype, elements, target);
  fill(value, shape, 0, storage, 0, dtype);
  return { dtype, shape, data: storage.finish() };
}

/**
 * One batched tensor from one JSON value per instance (row format): every
 * instance must have the shape of the first; the result is [count, ...shape].
 * `describe(i)` names instance i in error messages.
 */
export function batchFromJson(values: readonly JsonValue[], dtype: DType, describe: (index: number) => string, target: DecodeTarget): TensorInput {
  const itemShape = jsonShape(values[0]!);
  const shape = [values.length, ...itemShape];
  const { elements } = checkShapeLimits(shape, target.what);
  const itemSize = elementCount(itemShape);
  const storage = allocate(dtype, elements, target);
  values.forEach((value, i) => {
    try {
      const shape = jsonShape(value);
      if (shape.length !== itemShape.length || shape.some((d, k) => d !== itemShape[k])) {
        throw invalidArgument(`Expecting shape ${formatShape(itemShape)} but got: ${formatShape(shape)}`);
      }
      fill(value, itemShape, 0, storage, i * itemSize, dtype);
    } catch (error) {
      const wrapped = TfServeError.from(error);
      throw new TfServeError(wrapped.code, `${describe(i)}. Error: ${wrapped.message}`);
    }
  });
  return { dtype, shape, data: storage.finish() };
}

/** Writes element `index` of a tensor as a JSON token. */
type ElementFormatter = (index: number) => string;

function elementFormatter(tensor: AnyTensor, asBytes: boolean): ElementFormatter {
  switch (tensor.dtype) {
    case 'float32': {
      const data = tensor.data;
      return (i) => formatFloat32(data[i]!);
    }
    case 'float64': {
      const data = tensor.data;
      return (i) => formatFloat64(data[i]!);
    }
    case 'float16':
    case 'bfloat16': {
      const data = tensor.data;
      const toNumber = tensor.dtype === 'float16' ? fromFloat16Bits : fromBfloat16Bits;
      return (i) => formatFloat32(toNumber(data[i]!));
    }
    case 'bool': {
      const data = tensor.data;
      return (i) => (data[i] ? 'true' : 'false');
    }
    case 'string': {
      const data = tensor.data;
      return asBytes
        ? (i) => `{"b64": "${Buffer.from(data[i]!.buffer, data[i]!.byteOffset, data[i]!.byteLength).toString('base64')}"}`
        : (i) => jsonString(Buffer.from(data[i]!.buffer, data[i]!.byteOffset, data[i]!.byteLength).toString('utf8'));
    }
    case 'complex64':
    case 'complex128': {
      const data = tensor.data;
      const format = tensor.dtype === 'complex64' ? formatFloat32 : formatFloat64;
      return (i) => `[${format(data[2 * i]!)}, ${format(data[2 * i + 1]!)}]`;
    }
    default: {
      const data = tensor.data as ArrayLike<number | bigint>;
      return (i) => String(data[i]);
    }
  }
}

/**
 * Appends the JSON of the sub-tensor of `shape` (dims from `level` on)
 * starting at element `offset`; returns the next offset.
 */
function writeNested(out: JsonOut, format: ElementFormatter, shape: readonly number[], level: number, offset: number): number {
  if (level === shape.length) {
    out.push(format(offset));
    return offset + 1;
  }
  const size = shape[level]!;
  out.push('[');
  if (level === shape.length - 1) {
    for (let i = 0; i < size; i++) {
      if (i > 0) out.push(', ');
      out.push(format(offset + i));
    }
    offset += size;
  } else {
    for (let i = 0; i < size; i++) {
      if (i > 0) out.push(', ');
      offset = writeNested(out, format, shape, level + 1, offset);
    }
  }
  out.push(']');
  return offset;
}

/** Output aliases ending in _bytes carry binary strings: written as {"b64": ...}. */
function isBytesAlias(alias: string, tensor: AnyTensor): boolean {
  return tensor.dtype === 'string' && alias.endsWith('_bytes');
}

/** The whole tensor as nested lists (columnar format). */
export function writeTensor(out: JsonOut, alias: string, tensor: AnyTensor): void {
  writeNested(out, elementFormatter(tensor, isBytesAlias(alias, tensor)), tensor.shape, 0, 0);
}

/** Per-row writers over several tensors that share dim 0 (row format). */
export function rowWriters(outputs: ReadonlyArray<readonly [string, AnyTensor]>): { rows: number; writeRow: (out: JsonOut, alias: string, row: number) => void } {
  let rows = -1;
  const byAlias = new Map<string, { format: ElementFormatter; shape: number[]; rowSize: number }>();
  for (const [alias, tensor] of outputs) {
    if (tensor.shape.length === 0) throw invalidArgument(`Tensor name: ${alias} has no shape information `);
    const batch = tensor.shape[0]!;
    if (rows >= 0 && batch !== rows) throw invalidArgument(`Tensor name: ${alias} has inconsistent batch size: ${batch} expecting: ${rows}`);
    rows = batch;
    const inner = tensor.shape.slice(1);
    byAlias.set(alias, { format: elementFormatter(tensor, isBytesAlias(alias, tensor)), shape: inner, rowSize: elementCount(inner) });
  }
  return {
    rows: Math.max(rows, 0),
    writeRow: (out, alias, row) => {
      const entry = byAlias.get(alias)!;
      writeNested(out, entry.format, entry.shape, 0, row * entry.rowSize);
    },
  };
}

/**
 * Most characters one element takes in TF Serving's JSON, with its ", "
 * separator: e.g. float32 "-1.17549435e-38" (9 significant digits), int64
 * "-9223372036854775808". Strings are counted by their bytes (see below).
 */
const MAX_ELEMENT_CHARS: Record<Exclude<DType, 'string'>, number> = {
  float16: 17,
  bfloat16: 17,
  float32: 17,
  float64: 26,
  int8: 6,
  uint8: 5,
  int16: 8,
  uint16: 7,
  int32: 13,
  uint32: 12,
  int64: 22,
  uint64: 22,
  bool: 7,
  complex64: 36,
  complex128: 56,
};

/**
 * The size of a tensor's JSON, computed from its shape and string lengths
 * without building it: at most this for numbers; for strings, their bytes
 * (base64: 4/3 of them) plus quotes, so escapes may add to it.
 */
export function estimateTensorJson(alias: string, tensor: AnyTensor): number {
  const elements = elementCount(tensor.shape);
  // "[", "]" and the ", " after it, for every list at every level (rows of [n, 0] too).
  let lists = 0;
  let prefix = 1;
  for (const dim of tensor.shape) {
    lists += 4 * prefix;
    prefix *= dim;
  }
  if (tensor.dtype !== 'string') return elements * MAX_ELEMENT_CHARS[tensor.dtype] + lists;
  const asBytes = isBytesAlias(alias, tensor);
  let total = lists;
  for (const item of tensor.data) total += asBytes ? 4 * Math.ceil(item.byteLength / 3) + 12 : item.byteLength + 4;
  return total;
}
