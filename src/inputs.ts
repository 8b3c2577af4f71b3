// Checks predict() inputs against a signature before TensorFlow sees them,
// and turns them into the addon's feeds.
import { BIGINT_RANGES, type DTypeInfo, INTEGER_RANGES, type NumericArray, dtypeInfo, isDType } from './dtypes';
import { invalidArgument } from './errors';
import { toBfloat16Bits, toFloat16Bits } from './half';
import type { NativeFeed } from './native';
import type { Signature, TensorSpec } from './signatures';
import { type TensorInput, elementCount, formatShape } from './tensor';

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  return typeof value;
}

function fromPlainValues(alias: string, info: DTypeInfo, values: readonly unknown[]): NumericArray | Uint8Array[] {
  const bad = (i: number, expected: string) =>
    invalidArgument(`input '${alias}': element ${i} is ${JSON.stringify(values[i]) ?? typeof values[i]}, expected ${expected} for dtype ${info.name}`);
  if (info.name === 'string') {
    return values.map((v, i) => {
      if (typeof v === 'string') return Buffer.from(v, 'utf8');
      if (v instanceof Uint8Array) return v;
      throw bad(i, 'a string or Uint8Array');
    });
  }
  const array = new info.array!(values.length);
  const range = INTEGER_RANGES[info.name];
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
        (array as Float32Array)[i] = toStored(v);
      }
    }
  }
  return array;
}

function checkShape(alias: string, signatureName: string, shape: unknown, spec: TensorSpec, againstSignature: boolean): number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw invalidArgument(`input '${alias}': shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (!againstSignature) return shape as number[];
  const expected = spec.shape;
  const fits = expected === null || (expected.length === shape.length && expected.every((d, i) => d === -1 || d === shape[i]));
  if (!fits) {
    throw invalidArgument(
      `input '${alias}' has shape ${formatShape(shape)} but signature '${signatureName}' expects ${formatShape(expected)} (-1 = any size)`,
    );
  }
  return shape as number[];
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
  const shape = checkShape(alias, signatureName, input.shape, spec, validateShapes);
  const count = elementCount(shape);
  const slots = count * info.slotsPerElement;

  let data: NumericArray | Array<Uint8Array | string>;
  const raw = input.data as unknown;
  if (Array.isArray(raw)) {
    data = fromPlainValues(alias, info, raw);
  } else if (info.array !== null && raw instanceof info.array && raw.constructor === info.array) {
    data = raw as NumericArray;
  } else {
    const expected = info.array === null ? 'an array of strings or Uint8Arrays' : `a ${info.array.name} or a plain array`;
    throw invalidArgument(`input '${alias}': data is ${describe(raw)}, but dtype ${info.name} needs ${expected}`);
  }
  if (data.length !== slots) {
    const per = info.slotsPerElement === 2 ? ' (2 per complex element)' : '';
    throw invalidArgument(`input '${alias}' has ${data.length} values but shape ${formatShape(shape)} needs ${slots}${per}`);
  }
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
  for (const alias of Object.keys(inputs)) {
    if (!(alias in signature.inputs)) {
      throw invalidArgument(`unknown input '${alias}' for signature '${signature.name}' (its inputs: ${expected.join(', ')})`);
    }
  }
  return expected.map((alias) => {
    const input = inputs[alias];
    if (input === undefined) {
      throw invalidArgument(`missing input '${alias}' for signature '${signature.name}' (its inputs: ${expected.join(', ')})`);
    }
    return toFeed(alias, signature.name, input, signature.inputs[alias]!, validateShapes);
  });
}

/** The output aliases to fetch: all of them, or the filter's (checked, deduplicated, sorted). */
export function selectOutputs(signature: Signature, filter?: readonly string[]): string[] {
  const all = Object.keys(signature.outputs);
  if (filter === undefined || filter.length === 0) return all;
  for (const alias of filter) {
    if (!(alias in signature.outputs)) {
      throw invalidArgument(`unknown output '${alias}' for signature '${signature.name}' (its outputs: ${all.join(', ')})`);
    }
  }
  // Sorted: the same set of outputs in any order shares one batch queue.
  return [...new Set(filter)].sort();
}
