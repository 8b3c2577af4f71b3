/** The tensor element types tfserve can feed and fetch, by TF's Python names. */
export type DType =
  | 'float16'
  | 'float32'
  | 'float64'
  | 'bfloat16'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'bool'
  | 'string'
  | 'complex64'
  | 'complex128';

/**
 * The array that holds each dtype's elements, in TensorFlow's memory layout:
 * float16 and bfloat16 as raw 16-bit words, bool as 0/1 bytes, complex as
 * interleaved (re, im) pairs, strings as byte arrays.
 */
export interface DTypeData {
  float16: Uint16Array;
  float32: Float32Array;
  float64: Float64Array;
  bfloat16: Uint16Array;
  int8: Int8Array;
  int16: Int16Array;
  int32: Int32Array;
  int64: BigInt64Array;
  uint8: Uint8Array;
  uint16: Uint16Array;
  uint32: Uint32Array;
  uint64: BigUint64Array;
  bool: Uint8Array;
  string: Uint8Array[];
  complex64: Float32Array;
  complex128: Float64Array;
}

export type NumericDType = Exclude<DType, 'string'>;
export type NumericArray = DTypeData[NumericDType];

type NumericArrayConstructor = {
  new (length: number): NumericArray;
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): NumericArray;
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
};

export interface DTypeInfo {
  readonly name: DType;
  /** TF_DataType / tensorflow.DataType enum value. */
  readonly tfEnum: number;
  /** tensorflow.DataType enum name, e.g. DT_FLOAT. */
  readonly protoName: string;
  /** Array class holding the data; null for strings. */
  readonly array: NumericArrayConstructor | null;
  /** Array slots per tensor element: 2 for complex types, else 1. */
  readonly slotsPerElement: 1 | 2;
}

const TABLE: readonly DTypeInfo[] = [
  { name: 'float32', tfEnum: 1, protoName: 'DT_FLOAT', array: Float32Array, slotsPerElement: 1 },
  { name: 'float64', tfEnum: 2, protoName: 'DT_DOUBLE', array: Float64Array, slotsPerElement: 1 },
  { name: 'int32', tfEnum: 3, protoName: 'DT_INT32', array: Int32Array, slotsPerElement: 1 },
  { name: 'uint8', tfEnum: 4, protoName: 'DT_UINT8', array: Uint8Array, slotsPerElement: 1 },
  { name: 'int16', tfEnum: 5, protoName: 'DT_INT16', array: Int16Array, slotsPerElement: 1 },
  { name: 'int8', tfEnum: 6, protoName: 'DT_INT8', array: Int8Array, slotsPerElement: 1 },
  { name: 'string', tfEnum: 7, protoName: 'DT_STRING', array: null, slotsPerElement: 1 },
  { name: 'complex64', tfEnum: 8, protoName: 'DT_COMPLEX64', array: Float32Array, slotsPerElement: 2 },
  { name: 'int64', tfEnum: 9, protoName: 'DT_INT64', array: BigInt64Array, slotsPerElement: 1 },
  { name: 'bool', tfEnum: 10, protoName: 'DT_BOOL', array: Uint8Array, slotsPerElement: 1 },
  { name: 'bfloat16', tfEnum: 14, protoName: 'DT_BFLOAT16', array: Uint16Array, slotsPerElement: 1 },
  { name: 'uint16', tfEnum: 17, protoName: 'DT_UINT16', array: Uint16Array, slotsPerElement: 1 },
  { name: 'complex128', tfEnum: 18, protoName: 'DT_COMPLEX128', array: Float64Array, slotsPerElement: 2 },
  { name: 'float16', tfEnum: 19, protoName: 'DT_HALF', array: Uint16Array, slotsPerElement: 1 },
  { name: 'uint32', tfEnum: 22, protoName: 'DT_UINT32', array: Uint32Array, slotsPerElement: 1 },
  { name: 'uint64', tfEnum: 23, protoName: 'DT_UINT64', array: BigUint64Array, slotsPerElement: 1 },
];

const BY_NAME = new Map<string, DTypeInfo>(TABLE.map((info) => [info.name, info]));
const BY_ENUM = new Map<number, DTypeInfo>(TABLE.map((info) => [info.tfEnum, info]));
const BY_PROTO_NAME = new Map<string, DTypeInfo>(TABLE.map((info) => [info.protoName, info]));

export const DTYPES: readonly DType[] = TABLE.map((info) => info.name);

export function dtypeInfo(name: DType): DTypeInfo {
  const info = BY_NAME.get(name);
  if (!info) throw new Error(`unknown dtype ${name}`);
  return info;
}

export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && BY_NAME.has(value);
}

export function dtypeFromEnum(tfEnum: number): DTypeInfo | undefined {
  return BY_ENUM.get(tfEnum);
}

export function dtypeFromProtoName(protoName: string): DTypeInfo | undefined {
  return BY_PROTO_NAME.get(protoName);
}

/** Value ranges of the integer dtypes that a JS number holds exactly. */
export const INTEGER_RANGES: Partial<Record<DType, readonly [number, number]>> = {
  int8: [-128, 127],
  int16: [-32768, 32767],
  int32: [-2147483648, 2147483647],
  uint8: [0, 255],
  uint16: [0, 65535],
  uint32: [0, 4294967295],
};

/** INTEGER_RANGES as bigints, with int64 and uint64: exact checks of 64-bit values. */
export const BIGINT_RANGES: Partial<Record<DType, readonly [bigint, bigint]>> = {
  ...Object.fromEntries(Object.entries(INTEGER_RANGES).map(([dtype, [min, max]]) => [dtype, [BigInt(min), BigInt(max)]])),
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
};
