// JSON values <-> tensors, the way TF Serving's REST API reads and writes
// them: nested lists whose depth is the rank, dtype from the signature,
// {"b64": "..."} for binary strings.
import { BIGINT_RANGES, type DType, INTEGER_RANGES, dtypeInfo } from '../dtypes';
import { TfServeError, invalidArgument } from '../errors';
import { fromBfloat16Bits, fromFloat16Bits, toBfloat16Bits, toFloat16Bits } from '../half';
import { type AnyTensor, type TensorInput, elementCount, formatShape } from '../tensor';
import { type JsonValue, isJsonObject } from './json-parse';
import { formatFloat32, formatFloat64, jsonString } from './json-write';

/** Largest finite float32; JSON numbers beyond it do not fit a float without loss. */
export const FLOAT32_MAX = 3.4028234663852886e38;

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

export function decodeBase64(value: JsonValue): Buffer {
  if (!isBase64Object(value)) throw invalidArgument(`JSON Value: ${renderJson(value)} not formatted correctly for base64 data`);
  const text = value.b64;
  if (BASE64.test(text)) return Buffer.from(text, 'base64');
  if (BASE64_URL.test(text)) return Buffer.from(text, 'base64url');
  throw invalidArgument(`Unable to base64 decode ${renderJson(text)}`);
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

function lossyError(value: JsonValue, dtype: DType): TfServeError {
  return invalidArgument(`Cannot convert JSON value: ${renderJson(value)} to ${tfTypeName(dtype)} without loss of precision.`);
}

type LeafWriter = (value: JsonValue, index: number) => void;

/** The typed storage of one input being decoded, and how a JSON leaf goes into it. */
interface Storage {
  data: TensorInput['data'];
  write: LeafWriter;
}

function floatValue(value: JsonValue, dtype: DType): number {
  if (typeof value === 'number') {
    if (dtype !== 'float64' && Number.isFinite(value) && Math.abs(value) > FLOAT32_MAX) throw lossyError(value, dtype);
    return value;
  }
  if (typeof value === 'bigint') {
    const number = Number(value);
    const exact = BigInt(number) === value && (dtype === 'float64' || Math.fround(number) === number);
    if (!exact) throw lossyError(value, dtype);
    return number;
  }
  throw typeError(value, dtype);
}

function integerValue(value: JsonValue, dtype: DType): bigint {
  let big: bigint;
  if (typeof value === 'bigint') big = value;
  else if (typeof value === 'number' && Number.isInteger(value)) big = BigInt(value);
  else throw typeError(value, dtype);
  const [min, max] = BIGINT_RANGES[dtype]!;
  if (big < min || big > max) throw invalidArgument(`JSON Value: ${renderJson(value)} is out of range for type: ${tfTypeName(dtype)}`);
  return big;
}

function allocate(dtype: DType, count: number): Storage {
  switch (dtype) {
    case 'float32':
    case 'float64': {
      const data = dtype === 'float32' ? new Float32Array(count) : new Float64Array(count);
      return { data, write: (v, i) => (data[i] = floatValue(v, dtype)) };
    }
    case 'float16':
    case 'bfloat16': {
      const data = new Uint16Array(count);
      const toBits = dtype === 'float16' ? toFloat16Bits : toBfloat16Bits;
      return { data, write: (v, i) => (data[i] = toBits(floatValue(v, dtype))) };
    }
    case 'int8':
    case 'int16':
    case 'int32':
    case 'uint8':
    case 'uint16':
    case 'uint32': {
      const ArrayType = dtypeInfo(dtype).array!;
      const data = new ArrayType(count) as Int32Array;
      const [min, max] = INTEGER_RANGES[dtype]!;
      return {
        data,
        write: (v, i) => {
          // In-range numbers skip the bigint round trip.
          data[i] = typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : Number(integerValue(v, dtype));
        },
      };
    }
    case 'int64':
    case 'uint64': {
      const data = dtype === 'int64' ? new BigInt64Array(count) : new BigUint64Array(count);
      return { data, write: (v, i) => (data[i] = integerValue(v, dtype)) };
    }
    case 'bool': {
      const data = new Uint8Array(count);
      return {
        data,
        write: (v, i) => {
          if (typeof v !== 'boolean') throw typeError(v, dtype);
          data[i] = v ? 1 : 0;
        },
      };
    }
    case 'string': {
      const data: Uint8Array[] = new Array<Uint8Array>(count);
      return {
        data,
        write: (v, i) => {
          if (typeof v === 'string') data[i] = Buffer.from(v, 'utf8');
          else if (isJsonObject(v)) data[i] = decodeBase64(v);
          else throw typeError(v, dtype);
        },
      };
    }
    case 'complex64':
    case 'complex128':
      throw new TfServeError('UNIMPLEMENTED', `JSON has no representation for ${dtype} tensors; send them over gRPC`);
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
export function tensorFromJson(value: JsonValue, dtype: DType): TensorInput {
  const shape = jsonShape(value);
  const storage = allocate(dtype, elementCount(shape));
  fill(value, shape, 0, storage, 0, dtype);
  return { dtype, shape, data: storage.data };
}

/**
 * One batched tensor from one JSON value per instance (row format): every
 * instance must have the shape of the first; the result is [count, ...shape].
 * `describe(i)` names instance i in error messages.
 */
export function batchFromJson(values: readonly JsonValue[], dtype: DType, describe: (index: number) => string): TensorInput {
  const itemShape = jsonShape(values[0]!);
  const itemSize = elementCount(itemShape);
  const storage = allocate(dtype, values.length * itemSize);
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
  return { dtype, shape: [values.length, ...itemShape], data: storage.data };
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
function writeNested(out: string[], format: ElementFormatter, shape: readonly number[], level: number, offset: number): number {
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
export function writeTensor(out: string[], alias: string, tensor: AnyTensor): void {
  writeNested(out, elementFormatter(tensor, isBytesAlias(alias, tensor)), tensor.shape, 0, 0);
}

/** Per-row writers over several tensors that share dim 0 (row format). */
export function rowWriters(outputs: ReadonlyArray<readonly [string, AnyTensor]>): { rows: number; writeRow: (out: string[], alias: string, row: number) => void } {
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
