// The Open Inference Protocol's tensor datatypes and TensorFlow's dtypes.
// BYTES is DT_STRING; TF's complex types have no v2 datatype.
import type { DType } from '../../engine/dtypes';
import { invalidArgument } from '../../engine/errors';

export type V2Datatype = 'BOOL' | 'UINT8' | 'UINT16' | 'UINT32' | 'UINT64' | 'INT8' | 'INT16' | 'INT32' | 'INT64' | 'FP16' | 'FP32' | 'FP64' | 'BF16' | 'BYTES';

const TO_DTYPE: ReadonlyMap<string, DType> = new Map<V2Datatype, DType>([
  ['BOOL', 'bool'],
  ['UINT8', 'uint8'],
  ['UINT16', 'uint16'],
  ['UINT32', 'uint32'],
  ['UINT64', 'uint64'],
  ['INT8', 'int8'],
  ['INT16', 'int16'],
  ['INT32', 'int32'],
  ['INT64', 'int64'],
  ['FP16', 'float16'],
  ['FP32', 'float32'],
  ['FP64', 'float64'],
  ['BF16', 'bfloat16'],
  ['BYTES', 'string'],
]);

const FROM_DTYPE: ReadonlyMap<DType, V2Datatype> = new Map([...TO_DTYPE].map(([v2, dtype]) => [dtype, v2 as V2Datatype]));

export const V2_DATATYPES: readonly string[] = [...TO_DTYPE.keys()];

/** The dtype of a request's datatype, or INVALID_ARGUMENT naming `what` (e.g. "input 'x'"). */
export function dtypeOfDatatype(datatype: string, what: string): DType {
  const dtype = TO_DTYPE.get(datatype);
  if (dtype === undefined) throw invalidArgument(`${what}: unsupported datatype '${datatype}' (supported: ${V2_DATATYPES.join(', ')})`);
  return dtype;
}

/** The v2 datatype of a dtype; null for the complex types, which v2 cannot carry. */
export function datatypeOf(dtype: DType): V2Datatype | null {
  return FROM_DTYPE.get(dtype) ?? null;
}

/** Bytes per element of a fixed-size datatype (BYTES has none: each element carries its own length). */
export function elementBytes(dtype: Exclude<DType, 'string'>): number {
  switch (dtype) {
    case 'bool':
    case 'int8':
    case 'uint8':
      return 1;
    case 'int16':
    case 'uint16':
    case 'float16':
    case 'bfloat16':
      return 2;
    case 'int32':
    case 'uint32':
    case 'float32':
      return 4;
    case 'complex64':
    case 'int64':
    case 'uint64':
    case 'float64':
      return 8;
    case 'complex128':
      return 16;
  }
}
