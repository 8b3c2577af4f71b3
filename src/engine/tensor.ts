import type { DType, DTypeData } from './dtypes';
import { invalidArgument } from './errors';

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
  data: DTypeData[DType] | PlainValues | PackedStrings;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((count, dim) => count * dim, 1);
}

/** "[2,3]", or "unknown rank" for null, as error messages print shapes. */
export function formatShape(shape: readonly number[] | null): string {
  return shape === null ? 'unknown rank' : `[${shape.join(',')}]`;
}

/**
 * The highest rank TensorFlow accepts: TensorShape aborts the process (a
 * CHECK, not a status) on rank 255 or more, so every path refuses it first.
 */
export const MAX_RANK = 254;

/** The element count of a shape that passed checkShapeLimits. */
export interface ShapeSize {
  elements: number;
}

/**
 * The shape guard: rank <= MAX_RANK, every dimension a non-negative integer,
 * and the product of the dimensions (computed with overflow checks, even
 * when one of them is 0, as TF's TensorShape computes it) below 2^53 and
 * below 2^63 at every step. Throws INVALID_ARGUMENT naming `what`.
 * The addon applies the same guard before any TF shape is made.
 */
export function checkShapeLimits(shape: readonly number[], what: string): ShapeSize {
  if (shape.length > MAX_RANK) throw invalidArgument(`${what}: shape has rank ${shape.length}; TensorFlow accepts at most ${MAX_RANK} dimensions`);
  let product = 1;
  let elements = 1;
  for (let i = 0; i < shape.length; i++) {
    const dim = shape[i]!;
    if (!Number.isSafeInteger(dim) || dim < 0) throw invalidArgument(`${what}: shape[${i}] is ${String(dim)}; dimensions must be non-negative integers`);
    // TF multiplies the dimensions that are not 0 and refuses a product past
    // int64 even when another dimension is 0: [2^40, 2^40, 0] is refused.
    if (dim !== 0) {
      product *= dim;
      if (product > Number.MAX_SAFE_INTEGER) throw invalidArgument(`${what}: shape ${formatShape(shape)} holds more than 2^53 elements`);
    }
    elements *= dim;
  }
  return { elements };
}

/**
 * Strings packed in one buffer: element i is
 * `bytes.subarray(offsets[i], offsets[i + 1])`, so `offsets` has one more
 * entry than there are elements, starts at 0 and never decreases. Decoders
 * produce this form so that a tensor of many strings costs two allocations,
 * not a JS object per element; predict() accepts it for string inputs.
 */
export interface PackedStrings {
  readonly bytes: Uint8Array;
  readonly offsets: Uint32Array;
}

export function isPackedStrings(value: unknown): value is PackedStrings {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || ArrayBuffer.isView(value)) return false;
  const { bytes, offsets } = value as { bytes?: unknown; offsets?: unknown };
  return bytes instanceof Uint8Array && offsets instanceof Uint32Array;
}

/** Number of strings in a packed list. */
export function packedCount(packed: PackedStrings): number {
  return Math.max(0, packed.offsets.length - 1);
}

/** Packs byte strings (test and small-input helper; decoders build PackedStrings directly). */
export function packStrings(items: ReadonlyArray<Uint8Array | string>): PackedStrings {
  const parts = items.map((item) => (typeof item === 'string' ? Buffer.from(item, 'utf8') : item));
  const offsets = new Uint32Array(parts.length + 1);
  let total = 0;
  parts.forEach((part, i) => {
    total += part.length;
    offsets[i + 1] = total;
  });
  const bytes = new Uint8Array(total);
  parts.forEach((part, i) => bytes.set(part, offsets[i]!));
  return { bytes, offsets };
}

/** Element i of a packed list, as a view on its bytes. */
export function packedAt(packed: PackedStrings, i: number): Uint8Array {
  return packed.bytes.subarray(packed.offsets[i]!, packed.offsets[i + 1]!);
}

/**
 * The ArrayBuffers behind tensors' data (typed arrays, packed strings) that
 * a view spans whole, each once: those can be transferred to another thread.
 * A view on part of a buffer (Node's pooled Buffers, a subarray) is left
 * out, to be copied, since transferring its buffer would detach its neighbours.
 */
export function ownedBuffers(datas: Iterable<unknown>): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  const add = (view: unknown) => {
    if (!ArrayBuffer.isView(view) || !(view.buffer instanceof ArrayBuffer)) return;
    if (view.byteOffset === 0 && view.byteLength === view.buffer.byteLength) buffers.add(view.buffer);
  };
  for (const data of datas) {
    if (isPackedStrings(data)) {
      add(data.bytes);
      add(data.offsets);
    } else {
      add(data);
    }
  }
  return [...buffers];
}
