// tf.Example (tensorflow.Example) <-> a plain Example object, and the
// merging of ExampleListWithContext's context into each example.
import protobuf from 'protobufjs';

import { invalidArgument } from '../errors';
import { servingType } from './protos';

export type Feature = { kind: 'bytes'; values: Uint8Array[] } | { kind: 'float'; values: number[] } | { kind: 'int64'; values: bigint[] };
export type Example = Record<string, Feature>;

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
    if (feature.bytesList) example[key] = { kind: 'bytes', values: (feature.bytesList.value ?? []).map((v) => new Uint8Array(v)) };
    else if (feature.floatList) example[key] = { kind: 'float', values: feature.floatList.value ?? [] };
    else if (feature.int64List) example[key] = { kind: 'int64', values: (feature.int64List.value ?? []).map((v) => BigInt(v)) };
    else throw invalidArgument(`${what}: feature '${key}' has no value list (bytes_list, float_list or int64_list)`);
  }
  return example;
}

/** Decodes a serialized tensorflow.Example. */
export function decodeExample(bytes: Uint8Array, what = 'example'): Example {
  const type = servingType('tensorflow.Example');
  let message;
  try {
    message = type.decode(bytes);
  } catch (error) {
    throw invalidArgument(`${what}: malformed tensorflow.Example: ${(error as Error).message}`);
  }
  return exampleFromObject(type.toObject(message, { longs: String }) as Parameters<typeof exampleFromObject>[0], what);
}

/** The context's features added to an example (ExampleListWithContext); the example's own features win. */
export function withContext(example: Example, context: Example | undefined): Example {
  return context ? { ...context, ...example } : example;
}
