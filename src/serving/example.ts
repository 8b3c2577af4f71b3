// tf.Example (tensorflow.Example) <-> a plain Example object, and the
// merging of ExampleListWithContext's context into each example; checking
// serialized examples in place (gRPC requests carry them serialized, and
// they are fed to TF as they are).
import protobuf from 'protobufjs';

import { invalidArgument } from '../engine/errors';
import type { PackedStrings } from '../engine/tensor';
import { STRING_ELEMENT_COST } from './decode-limits';
import { setOwn } from './own';
import { FIXED32, LEN, VARINT, checkMessage, countVarints, decodeUtf8, endsVarints, readSpan, readTag, readingWire } from './proto-wire';
import { servingType } from './protos';

export type Feature = { kind: 'bytes'; values: Uint8Array[] } | { kind: 'float'; values: number[] } | { kind: 'int64'; values: bigint[] };
export type Example = Record<string, Feature>;

/**
 * Examples already serialized as tensorflow.Example messages (context
 * merged in), packed in one buffer: what a gRPC request's Input becomes,
 * with no JS object per example or per feature value.
 */
export interface SerializedExamples {
  readonly serialized: PackedStrings;
}

export function isSerializedExamples(value: unknown): value is SerializedExamples {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && 'serialized' in value;
}

/** What TF's example parser makes of each feature value: a tstring, a float, an int64. */
const BYTES_VALUE_COST = STRING_ELEMENT_COST;
const FLOAT_VALUE_COST = 4;
const INT64_VALUE_COST = 8;

/**
 * Checks the serialized tensorflow.Example buf[start, end) without decoding
 * it into objects: wire types, UTF-8 feature names, every feature with a
 * value list. Returns the bytes its values take once parsed (to charge to
 * the request's budget). `what` names it in errors.
 */
export function checkSerializedExample(buf: Uint8Array, start: number, end: number, what: string): number {
  if (start === end) return 0; // an empty Example: no features
  let cost = 0;
  forEachField(buf, start, end, what, (field, wire, span) => {
    if (field !== 1) return;
    expectLen(wire, `${what}.features`);
    forEachField(buf, span.start, span.end, `${what}.features`, (entryField, entryWire, entry) => {
      if (entryField !== 1) return;
      expectLen(entryWire, `${what}.features.feature`);
      let key = '';
      let value: { start: number; end: number } | null = null;
      forEachField(buf, entry.start, entry.end, `${what}.features.feature`, (f, w, s) => {
        if (f === 1) {
          expectLen(w, `${what}.features.feature key`);
          key = decodeUtf8(buf.subarray(s.start, s.end), `${what}: a feature name`);
        } else if (f === 2) {
          expectLen(w, `${what}.features.feature value`);
          value = s;
        }
      });
      cost += featureCost(buf, value, `${what}: feature '${key}'`);
    });
  });
  return cost;
}

function featureCost(buf: Uint8Array, span: { start: number; end: number } | null, what: string): number {
  let cost = 0;
  let kinds = 0;
  if (span) {
    forEachField(buf, span.start, span.end, what, (field, wire, list) => {
      if (field < 1 || field > 3) return;
      expectLen(wire, what);
      kinds++;
      forEachField(buf, list.start, list.end, what, (f, w, value) => {
        if (f !== 1) return;
        if (field === 1) {
          expectLen(w, `${what} bytes_list`);
          cost += BYTES_VALUE_COST + (value.end - value.start);
        } else if (field === 2) {
          if (w === FIXED32) cost += FLOAT_VALUE_COST;
          else if (w === LEN && (value.end - value.start) % 4 === 0) cost += ((value.end - value.start) / 4) * FLOAT_VALUE_COST;
          else throw invalidArgument(`malformed ${what}: float_list values are not whole 4-byte floats`);
        } else if (w === VARINT) {
          cost += INT64_VALUE_COST;
        } else if (w === LEN && endsVarints(buf.subarray(value.start, value.end))) {
          cost += countVarints(buf, value.start, value.end) * INT64_VALUE_COST;
        } else {
          throw invalidArgument(`malformed ${what}: int64_list values are not varints`);
        }
      });
    });
  }
  if (kinds === 0) throw invalidArgument(`${what} has no value list (bytes_list, float_list or int64_list)`);
  return cost;
}

function expectLen(wire: number, what: string): void {
  if (wire !== LEN) throw invalidArgument(`malformed ${what}: wire type ${wire}, expected length-delimited`);
}

/**
 * Calls visit(field, wire, span) for each field of buf[start, end); span is
 * the value's bytes (absolute offsets) for every wire type.
 */
function forEachField(buf: Uint8Array, start: number, end: number, what: string, visit: (field: number, wire: number, span: { start: number; end: number }) => void): void {
  const reader = protobuf.Reader.create(buf.subarray(start, end));
  readingWire(what, () => {
    while (reader.pos < reader.len) {
      const { field, wire } = readTag(reader);
      let span: { start: number; end: number };
      if (wire === LEN) {
        span = readSpan(reader);
      } else {
        const from = reader.pos;
        reader.skipType(wire);
        span = { start: from, end: reader.pos };
      }
      visit(field, wire, { start: start + span.start, end: start + span.end });
    }
  });
}

/** Serializes an Example as a tensorflow.Example (what parse_example ops read). */
export function encodeExample(example: Example): Uint8Array {
  const writer = protobuf.Writer.create();
  writer.uint32((1 << 3) | 2).fork(); // features
  for (const key of Object.keys(example).sort()) {
    const feature = example[key]!;
    writer.uint32((1 << 3) | 2).fork(); // map entry
    writer.uint32((1 << 3) | 2).string(key);
    writer.uint32((2 << 3) | 2).fork(); // Feature
    switch (feature.kind) {
      case 'bytes':
        writer.uint32((1 << 3) | 2).fork();
        for (const value of feature.values) writer.uint32((1 << 3) | 2).bytes(value);
        writer.ldelim();
        break;
      case 'float':
        writer.uint32((2 << 3) | 2).fork();
        if (feature.values.length > 0) writer.uint32((1 << 3) | 2).bytes(new Uint8Array(Float32Array.from(feature.values).buffer));
        writer.ldelim();
        break;
      case 'int64':
        writer.uint32((3 << 3) | 2).fork();
        if (feature.values.length > 0) {
          writer.uint32((1 << 3) | 2).fork();
          for (const value of feature.values) writer.int64(BigInt.asIntN(64, value).toString());
          writer.ldelim();
        }
        writer.ldelim();
        break;
    }
    writer.ldelim();
    writer.ldelim();
  }
  writer.ldelim();
  return writer.finish();
}

interface DecodedFeature {
  bytesList?: { value?: Uint8Array[] };
  floatList?: { value?: number[] };
  int64List?: { value?: Array<string | number> };
}

/**
 * An Example from a protobufjs-decoded tensorflow.Example in object form
 * (toObject with longs: String). `what` names it in errors.
 */
export function exampleFromObject(decoded: { features?: { feature?: Record<string, DecodedFeature> } }, what: string): Example {
  const example: Example = {};
  for (const [key, feature] of Object.entries(decoded.features?.feature ?? {})) {
    // setOwn: a feature named '__proto__' is a feature like any other.
    if (feature.bytesList) setOwn<Feature>(example, key, { kind: 'bytes', values: (feature.bytesList.value ?? []).map((v) => new Uint8Array(v)) });
    else if (feature.floatList) setOwn<Feature>(example, key, { kind: 'float', values: feature.floatList.value ?? [] });
    else if (feature.int64List) setOwn<Feature>(example, key, { kind: 'int64', values: (feature.int64List.value ?? []).map((v) => BigInt(v)) });
    else throw invalidArgument(`${what}: feature '${key}' has no value list (bytes_list, float_list or int64_list)`);
  }
  return example;
}

/** Decodes a serialized tensorflow.Example. */
export function decodeExample(bytes: Uint8Array, what = 'example'): Example {
  const type = servingType('tensorflow.Example');
  let message;
  checkMessage(type, bytes, what);
  try {
    message = type.decode(bytes);
  } catch (error) {
    throw invalidArgument(`${what}: malformed tensorflow.Example: ${(error as Error).message}`);
  }
  return exampleFromObject(type.toObject(message, { longs: String }) as Parameters<typeof exampleFromObject>[0], what);
}

/** The context's features added to an example (ExampleListWithContext); the example's own features win. */
export function withContext(example: Example, context: Example | undefined): Example {
  // Spread defines own properties: a feature '__proto__' stays a feature.
  return context ? { ...context, ...example } : example;
}
