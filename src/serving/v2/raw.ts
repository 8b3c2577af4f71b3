// The v2 protocol's raw tensor bytes, as gRPC's raw_input_contents /
// raw_output_contents and REST's binary-data extension carry them: elements
// row-major and little-endian (the typed arrays' own layout on the
// little-endian machines TF runs on), BOOL one byte each, and BYTES
// elements each as a 4-byte little-endian length followed by its bytes.
// Decoding counts and checks everything against the shape, and charges the
// request's DecodeBudget, before it allocates.
import { type DType, dtypeInfo } from '../../engine/dtypes';
import { invalidArgument } from '../../engine/errors';
import { type AnyTensor, type PackedStrings, type TensorInput, formatShape, isPackedStrings, packedAt, packedCount } from '../../engine/tensor';
import { type DecodeBudget, tensorCost } from '../decode-limits';
import { elementBytes } from './datatypes';

/** The bytes of `elements` elements of `dtype` in `raw`, as a tensor's data; `what` names it in errors. */
export function tensorFromRaw(raw: Uint8Array, dtype: DType, shape: number[], elements: number, budget: DecodeBudget, what: string): TensorInput {
  if (dtype === 'string') return { dtype, shape, data: stringsFromRaw(raw, elements, budget, what) };
  const size = elementBytes(dtype);
  const expected = elements * size;
  if (raw.byteLength !== expected) {
    throw invalidArgument(`${what}: ${raw.byteLength} bytes of raw data, but shape ${formatShape(shape)} of ${dtype} needs ${expected}`);
  }
  budget.charge(tensorCost(elements, size), what);
  const array = dtypeInfo(dtype).array!;
  // Always a copy: the tensor then owns its buffer whole (transferable), and alignment never matters.
  const copy = new Uint8Array(expected);
  copy.set(raw);
  if (dtype === 'bool') for (let i = 0; i < copy.length; i++) copy[i] = copy[i] === 0 ? 0 : 1;
  return { dtype, shape, data: new array(copy.buffer, 0, elements * dtypeInfo(dtype).slotsPerElement) } as TensorInput;
}

/** BYTES elements: counted and checked in a first pass, then packed into one buffer. */
function stringsFromRaw(raw: Uint8Array, elements: number, budget: DecodeBudget, what: string): PackedStrings {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  let count = 0;
  let total = 0;
  for (let at = 0; at < raw.byteLength; ) {
    if (raw.byteLength - at < 4) throw invalidArgument(`${what}: BYTES element ${count} is cut short: ${raw.byteLength - at} bytes left where a 4-byte length was expected`);
    const length = view.getUint32(at, true);
    at += 4;
    if (length > raw.byteLength - at) throw invalidArgument(`${what}: BYTES element ${count} says ${length} bytes, but only ${raw.byteLength - at} are left`);
    at += length;
    total += length;
    if (++count > elements) break;
  }
  if (count !== elements) throw invalidArgument(`${what}: ${count > elements ? 'more than' : 'only'} ${count > elements ? elements : count} BYTES elements in the raw data, but the shape holds ${elements}`);
  budget.charge(tensorCost(elements, 'string', total), what);
  const bytes = new Uint8Array(total);
  const offsets = new Uint32Array(elements + 1);
  let out = 0;
  for (let i = 0, at = 0; i < elements; i++) {
    const length = view.getUint32(at, true);
    bytes.set(raw.subarray(at + 4, at + 4 + length), out);
    out += length;
    offsets[i + 1] = out;
    at += 4 + length;
  }
  return { bytes, offsets };
}

function stringViews(data: Uint8Array[] | PackedStrings): { count: number; at: (i: number) => Uint8Array } {
  if (isPackedStrings(data)) return { count: packedCount(data), at: (i) => packedAt(data, i) };
  return { count: data.length, at: (i) => data[i]! };
}

/** The size of a tensor's raw form, computed without building it. */
export function rawSize(tensor: AnyTensor): number {
  if (tensor.dtype !== 'string') return tensor.data.byteLength;
  const { count, at } = stringViews(tensor.data);
  let total = 4 * count;
  for (let i = 0; i < count; i++) total += at(i).byteLength;
  return total;
}

/** A tensor's raw form: a view on a numeric tensor's data, or BYTES elements written out. */
export function tensorToRaw(tensor: AnyTensor): Uint8Array {
  if (tensor.dtype !== 'string') {
    const data = tensor.data as ArrayBufferView;
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  const { count, at } = stringViews(tensor.data);
  const out = new Uint8Array(rawSize(tensor));
  const view = new DataView(out.buffer);
  let pos = 0;
  for (let i = 0; i < count; i++) {
    const item = at(i);
    view.setUint32(pos, item.byteLength, true);
    out.set(item, pos + 4);
    pos += 4 + item.byteLength;
  }
  return out;
}
