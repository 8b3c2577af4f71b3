// Checks predict() inputs against a signature before TensorFlow sees them,
// and turns them into the addon's feeds.
import { BIGINT_RANGES, type DType, type DTypeInfo, INTEGER_RANGES, type NumericArray, dtypeInfo, isDType } from './dtypes';
import { invalidArgument } from './errors';
import { toBfloat16Bits, toFloat16Bits } from './half';
import type { NativeFeed } from './native';
import type { Signature, TensorSpec } from './signatures';
import { type PackedStrings, type TensorInput, checkShapeLimits, formatShape, isPackedStrings, packedCount } from './tensor';

/**
 * The largest finite value of each float dtype. A finite JS number past it
 * would become Infinity when stored: it is refused instead (an Infinity the
 * caller passes stays Infinity). complex64's parts are float32s.
 */
const FLOAT_LIMITS: Partial<Record<DType, number>> = {
  float16: 65504,
  bfloat16: 3.3895313892515355e38,
  float32: 3.4028234663852886e38,
  complex64: 3.4028234663852886e38,
};

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  return typeof value;
}

/** An element as error messages print it (bigints and NaN included, long strings cut). */
function show(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  return describe(value);
}

/** Largest total a PackedStrings' Uint32 offsets can address. */
const MAX_PACKED_BYTES = 0xffffffff;

/**
 * Plain strings / byte arrays packed into one buffer: the addon then writes
 * the TF_TStrings from two buffers instead of visiting one JS value per
 * element (about 10x faster for many short strings). Past 4 GiB in total,
 * which Uint32 offsets cannot address, the array goes as it is.
 */
function packPlainStrings(values: readonly unknown[], bad: (i: number, expected: string) => Error): PackedStrings | Uint8Array[] {
  const offsets = new Uint32Array(values.length + 1);
  let total = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === 'string') total += Buffer.byteLength(v, 'utf8');
    else if (v instanceof Uint8Array) total += v.byteLength;
    else throw bad(i, 'a string or Uint8Array');
    if (total > MAX_PACKED_BYTES) return values.map((item) => (typeof item === 'string' ? Buffer.from(item, 'utf8') : (item as Uint8Array)));
    offsets[i + 1] = total;
  }
  const bytes = Buffer.allocUnsafe(total);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as string | Uint8Array;
    if (typeof v === 'string') bytes.write(v, offsets[i]!, 'utf8');
    else bytes.set(v, offsets[i]!);
  }
  return { bytes, offsets };
}

function fromPlainValues(alias: string, info: DTypeInfo, values: readonly unknown[]): NumericArray | Uint8Array[] | PackedStrings {
  const bad = (i: number, expected: string) => invalidArgument(`input '${alias}': element ${i} is ${show(values[i])}, expected ${expected} for dtype ${info.name}`);
  if (info.name === 'string') return packPlainStrings(values, bad);
  const array = new info.array!(values.length);
  const range = INTEGER_RANGES[info.name];
  const floatLimit = FLOAT_LIMITS[info.name];
  const bigRange = BIGINT_RANGES[info.name];
  const toStored = info.name === 'float16' ? toFloat16Bits : info.name === 'bfloat16' ? toBfloat16Bits : (v: number) => v;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    switch (info.name) {
      case 'int64':
      case 'uint64': {
        let big: bigint;
        if (typeof v === 'bigint') big = v;
        else if (typeof v === 'number' && Number.isInteger(v)) big = BigInt(v);
        else throw bad(i, 'an integer or bigint');
        if (big < bigRange![0] || big > bigRange![1]) throw bad(i, 'a value in range');
        (array as BigInt64Array | BigUint64Array)[i] = big;
        break;
      }
      case 'bool':
        if (typeof v === 'boolean') (array as Uint8Array)[i] = v ? 1 : 0;
        else if (v === 0 || v === 1) (array as Uint8Array)[i] = v;
        else throw bad(i, 'a boolean');
        break;
      default: {
        if (typeof v !== 'number') throw bad(i, 'a number');
        if (range && !(Number.isInteger(v) && v >= range[0] && v <= range[1])) throw bad(i, `an integer in [${range[0]}, ${range[1]}]`);
        if (floatLimit !== undefined && Number.isFinite(v) && Math.abs(v) > floatLimit) {
          throw invalidArgument(`input '${alias}': element ${i} is ${show(v)}, out of range for dtype ${info.name} (largest finite value ${floatLimit})`);
        }
        (array as Float32Array)[i] = toStored(v);
      }
    }
  }
  return array;
}

function checkShape(alias: string, signatureName: string, shape: unknown, spec: TensorSpec, againstSignature: boolean): { shape: number[]; elements: number } {
  if (!Array.isArray(shape)) throw invalidArgument(`input '${alias}': shape must be an array of non-negative integers, got ${describe(shape)}`);
  // The shape guard first: rank, dims, overflow-checked size (the addon checks again).
  const { elements } = checkShapeLimits(shape as number[], `input '${alias}'`);
  if (againstSignature) {
    const expected = spec.shape;
    const fits = expected === null || (expected.length === shape.length && expected.every((d, i) => d === -1 || d === shape[i]));
    if (!fits) {
      throw invalidArgument(
        `input '${alias}' has shape ${formatShape(shape)} but signature '${signatureName}' expects ${formatShape(expected)} (-1 = any size)`,
      );
    }
  }
  return { shape: shape as number[], elements };
}

function toFeed(alias: string, signatureName: string, input: TensorInput, spec: TensorSpec, validateShapes: boolean): NativeFeed {
  if (spec.encoding !== 'dense' || spec.dtype === null) {
    throw invalidArgument(`input '${alias}' of signature '${signatureName}' is a ${spec.encoding} ${spec.tfDtype} tensor, which tfserve cannot feed`);
  }
  if (typeof input !== 'object' || input === null) {
    throw invalidArgument(`input '${alias}' must be an object { dtype, shape, data }, got ${describe(input)}`);
  }
  if (input.dtype !== undefined && (!isDType(input.dtype) || input.dtype !== spec.dtype)) {
    throw invalidArgument(`input '${alias}' has dtype ${String(input.dtype)} but signature '${signatureName}' expects ${spec.dtype}`);
  }
  const info = dtypeInfo(spec.dtype);
  const { shape, elements: count } = checkShape(alias, signatureName, input.shape, spec, validateShapes);
  const slots = count * info.slotsPerElement;

  const raw = input.data as unknown;
  if (info.name === 'string' && isPackedStrings(raw)) {
    // The addon checks the offsets as it copies the strings; the count is checked here for the message.
    if (packedCount(raw) !== count || raw.offsets.length === 0) {
      throw invalidArgument(`input '${alias}' has ${packedCount(raw)} packed strings (offsets.length ${raw.offsets.length}) but shape ${formatShape(shape)} needs ${count}`);
    }
    const packed: PackedStrings = { bytes: raw.bytes, offsets: raw.offsets };
    return { name: spec.name, dtype: info.tfEnum, shape, data: packed };
  }
  const isArray = Array.isArray(raw);
  if (!isArray && !(info.array !== null && raw instanceof info.array && raw.constructor === info.array)) {
    const expected = info.array === null ? 'an array of strings or Uint8Arrays, or packed strings { bytes, offsets }' : `a ${info.array.name} or a plain array`;
    throw invalidArgument(`input '${alias}': data is ${describe(raw)}, but dtype ${info.name} needs ${expected}`);
  }
  // Counted before plain values are converted: a long array is refused without copying it.
  const length = (raw as ArrayLike<unknown>).length;
  if (length !== slots) {
    const per = info.slotsPerElement === 2 ? ' (2 per complex element)' : '';
    throw invalidArgument(`input '${alias}' has ${length} values but shape ${formatShape(shape)} needs ${slots}${per}`);
  }
  // Typed arrays go as they are, on an ArrayBuffer or a SharedArrayBuffer: the addon copies them.
  const data = isArray ? fromPlainValues(alias, info, raw as unknown[]) : (raw as NumericArray);
  return { name: spec.name, dtype: info.tfEnum, shape, data };
}

/**
 * Validates predict() inputs against a signature; returns the addon's feeds.
 * With `validateShapes` false, shapes are not held to the signature's (TF
 * Serving's behaviour: TF itself decides whether the ops accept them).
 */
export function prepareFeeds(signature: Signature, inputs: Record<string, TensorInput>, validateShapes: boolean): NativeFeed[] {
  if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs)) {
    throw invalidArgument(`inputs must be an object keyed by input name, got ${describe(inputs)}`);
  }
  const expected = Object.keys(signature.inputs);
  // Own properties only, on both sides: an alias such as '__proto__' or
  // 'constructor' must not find Object.prototype's.
  for (const alias of Object.keys(inputs)) {
    if (!Object.hasOwn(signature.inputs, alias)) {
      throw invalidArgument(`unknown input '${alias}' for signature '${signature.name}' (its inputs: ${expected.join(', ')})`);
    }
  }
  return expected.map((alias) => {
    const input = Object.hasOwn(inputs, alias) ? inputs[alias] : undefined;
    if (input === undefined) {
      throw invalidArgument(`missing input '${alias}' for signature '${signature.name}' (its inputs: ${expected.join(', ')})`);
    }
    return toFeed(alias, signature.name, input, signature.inputs[alias]!, validateShapes);
  });
}

/** The output aliases to fetch: all of them, or the filter's (checked, deduplicated, sorted). */
export function selectOutputs(signature: Signature, filter?: readonly string[]): string[] {
  const all = Object.keys(signature.outputs);
  if (filter === undefined) return all;
  if (!Array.isArray(filter)) throw invalidArgument(`outputs must be an array of output names, got ${describe(filter)}`);
  if (filter.length === 0) return all;
  for (const alias of filter) {
    if (typeof alias !== 'string') throw invalidArgument(`outputs must be an array of output names, got an element that is ${describe(alias)}`);
    if (!Object.hasOwn(signature.outputs, alias)) {
      throw invalidArgument(`unknown output '${alias}' for signature '${signature.name}' (its outputs: ${all.join(', ')})`);
    }
  }
  // Sorted: the same set of outputs in any order shares one batch queue.
  return [...new Set(filter)].sort();
}
