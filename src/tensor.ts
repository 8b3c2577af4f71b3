import type { DType, DTypeData } from './dtypes';

/** A tensor: dtype, shape and the elements in row-major order. */
export interface Tensor<D extends DType = DType> {
  dtype: D;
  shape: number[];
  data: DTypeData[D];
}

/** Any tensor, discriminated by `dtype`. */
export type AnyTensor = { [D in DType]: Tensor<D> }[DType];

/** Plain JS values accepted in place of a typed array (converted to the input's dtype). */
export type PlainValues = ReadonlyArray<number> | ReadonlyArray<bigint> | ReadonlyArray<boolean> | ReadonlyArray<string | Uint8Array>;

/**
 * What predict() accepts for one input. `dtype` may be left out: the
 * signature's dtype is used. `data` is the typed array of that dtype (see
 * DTypeData) or a plain array: numbers (bigints too for 64-bit integers),
 * booleans for bool, strings or byte arrays for string, interleaved
 * (re, im) numbers for complex types.
 */
export interface TensorInput {
  dtype?: DType;
  shape: readonly number[];
  data: DTypeData[DType] | PlainValues;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((count, dim) => count * dim, 1);
}

/** "[2,3]", or "unknown rank" for null, as error messages print shapes. */
export function formatShape(shape: readonly number[] | null): string {
  return shape === null ? 'unknown rank' : `[${shape.join(',')}]`;
}
