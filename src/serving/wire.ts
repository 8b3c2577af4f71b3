// TF Serving's request and response messages <-> the inference.ts shapes.
// Predict is decoded and encoded by hand (tensors go straight between bytes
// and typed arrays); the rest goes through protobufjs.
import protobuf from 'protobufjs';

import { invalidArgument } from '../engine/errors';
import type { PackedStrings } from '../engine/tensor';
import { DEFAULT_DECODE_LIMITS, DecodeBudget, type DecodeLimits, STRING_ELEMENT_COST } from './decode-limits';
import { type SerializedExamples, checkSerializedExample } from './example';
import type { ClassifyResult, ExamplesRequest, ModelSpecInput, MultiInferenceRequest, MultiInferenceResult, PredictResult, RegressResult, ResolvedSpec } from './inference';
import { Cursor, LEN, checkMessage, decodeUtf8, readSpan, readTag, readingWire } from './proto-wire';
import { servingType } from './protos';
import { type DecodedTensor, decodeTensorProto, lengthDelimitedSize, tensorProtoSize, varintSize, writeTensorProto } from './tensor-proto';

interface DecodedModelSpec {
  name?: string;
  version?: { value?: string | number };
  versionLabel?: string;
  signatureName?: string;
}

/** A ModelSpec in protobufjs object form (longs as strings) -> ModelSpecInput. */
export function modelSpecFromObject(decoded: DecodedModelSpec | undefined | null): ModelSpecInput {
  const spec: ModelSpecInput = { name: decoded?.name ?? '' };
  if (decoded?.version) {
    const version = Number(decoded.version.value ?? 0);
    if (!Number.isSafeInteger(version) || version < 0) throw invalidArgument(`model_spec.version ${String(decoded.version.value)} is not a valid version`);
    spec.version = version;
  }
  if (decoded?.versionLabel) spec.versionLabel = decoded.versionLabel;
  if (decoded?.signatureName) spec.signatureName = decoded.signatureName;
  return spec;
}

/** ResolvedSpec -> ModelSpec object for protobufjs (version as Int64Value). */
function modelSpecToObject(spec: ResolvedSpec): Record<string, unknown> {
  return { name: spec.name, version: { value: spec.version }, signatureName: spec.signatureName };
}

function decodeModelSpec(bytes: Uint8Array, budget?: DecodeBudget): ModelSpecInput {
  return modelSpecFromObject(decodeMessage<DecodedModelSpec>('tensorflow.serving.ModelSpec', bytes, budget));
}

/**
 * What one inputs entry or output_filter name costs decoded beside its
 * bytes: the JS string, map entry and tensor objects (an estimate, rounded
 * up), so that a million tiny entries are refused like a million values.
 */
const ENTRY_COST = STRING_ELEMENT_COST * 8;

/**
 * The occurrences of a singular message field of `message`, merged as
 * protobuf merges them: concatenated (into one copy, made only when there
 * is a second occurrence), to be decoded once.
 */
class MergedField {
  private merged: Uint8Array = new Uint8Array(0);
  private copy: Uint8Array | null = null;

  constructor(private readonly message: Uint8Array) {}

  add(part: Uint8Array): void {
    if (this.merged.length === 0 && this.copy === null) {
      this.merged = part;
      return;
    }
    if (this.copy === null) {
      this.copy = new Uint8Array(this.message.length);
      this.copy.set(this.merged);
    }
    this.copy.set(part, this.merged.length);
    this.merged = this.copy.subarray(0, this.merged.length + part.length);
  }

  get bytes(): Uint8Array {
    return this.merged;
  }
}

/** What one field value decoded by protobufjs costs: a JS number, string or object (an estimate). */
const PROTOBUFJS_VALUE_COST = STRING_ELEMENT_COST;

/** The budget a request of `wireBytes` decodes under (the server's limits, else the defaults). */
export function requestBudget(wireBytes: number, limits: Readonly<DecodeLimits> = DEFAULT_DECODE_LIMITS): DecodeBudget {
  return new DecodeBudget(wireBytes, limits);
}

export interface DecodedPredictRequest {
  modelSpec: ModelSpecInput;
  /** Keyed by input alias; a null-prototype object, so that any alias is just a key. */
  inputs: Record<string, DecodedTensor>;
  outputFilter: string[];
}

/** A serialized map<string, message or bytes> entry: key (field 1, UTF-8) and value bytes (field 2). */
export function readMapEntry(entry: Uint8Array, what = 'map entry'): { key: string; value: Uint8Array } {
  const reader = protobuf.Reader.create(entry);
  let key = '';
  let value: Uint8Array = new Uint8Array(0);
  while (reader.pos < reader.len) {
    const { field, wire } = readTag(reader);
    if (field === 1 && wire === LEN) {
      const span = readSpan(reader);
      key = decodeUtf8(entry.subarray(span.start, span.end), `${what} key`);
    } else if (field === 2 && wire === LEN) {
      const span = readSpan(reader);
      value = entry.subarray(span.start, span.end);
    } else if (field === 1 || field === 2) {
      throw invalidArgument(`malformed ${what}: field ${field} has wire type ${wire}, expected length-delimited`);
    } else {
      reader.skipType(wire);
    }
  }
  return { key, value };
}

/** The bytes of a length-delimited field of a serialized message (its last occurrence), or null. */
export function readBytesField(message: Uint8Array, field: number): Uint8Array | null {
  // Offsets only while scanning: a message repeating the field millions of times makes no view per occurrence.
  const cursor = new Cursor(message);
  let start = -1;
  let end = -1;
  while (!cursor.done) {
    cursor.tag();
    if (cursor.field === field && cursor.wire === LEN) {
      cursor.value();
      start = cursor.start;
      end = cursor.pos;
    } else {
      cursor.skip();
    }
  }
  return start < 0 ? null : message.subarray(start, end);
}

/**
 * Decodes a serialized tensorflow.serving.PredictRequest; tensors land in
 * typed arrays and packed strings, each charged to `budget` (by default
 * one for the request's size under the default limits) before it is built.
 */
export function decodePredictRequest(bytes: Uint8Array, budget: DecodeBudget = requestBudget(bytes.length)): DecodedPredictRequest {
  // Occurrences of model_spec merge, as protobuf's do.
  const spec = new MergedField(bytes);
  // Kept as sent (predictOn refuses a repeated alias, as TF Serving does); each name is charged.
  const outputFilter: string[] = [];
  // Map semantics: the last entry of a key wins. Only the kept ones are decoded.
  const entries = new Map<string, Uint8Array>();
  readingWire('PredictRequest', () => {
    const reader = protobuf.Reader.create(bytes);
    while (reader.pos < reader.len) {
      const { field, wire } = readTag(reader);
      if ((field === 1 || field === 2 || field === 3) && wire !== LEN) {
        throw invalidArgument(`malformed PredictRequest: field ${field} has wire type ${wire}, expected length-delimited`);
      }
      if (field === 1) {
        const span = readSpan(reader);
        spec.add(bytes.subarray(span.start, span.end));
      } else if (field === 2) {
        const span = readSpan(reader);
        // Each entry costs JS objects whatever its tensor: charged as it is read.
        budget.charge(ENTRY_COST, 'PredictRequest.inputs');
        const { key, value } = readMapEntry(bytes.subarray(span.start, span.end), 'PredictRequest.inputs');
        entries.delete(key);
        entries.set(key, value);
      } else if (field === 3) {
        const span = readSpan(reader);
        budget.charge(ENTRY_COST + span.end - span.start, 'PredictRequest.output_filter');
        outputFilter.push(decodeUtf8(bytes.subarray(span.start, span.end), 'PredictRequest.output_filter'));
      } else {
        reader.skipType(wire);
      }
    }
  });
  const modelSpec = decodeModelSpec(spec.bytes, budget);
  const inputs = Object.create(null) as Record<string, DecodedTensor>;
  for (const [key, value] of entries) inputs[key] = decodeTensorProto(value, `input '${key}'`, budget);
  return { modelSpec, inputs, outputFilter };
}

/**
 * Only the model_spec of a serialized PredictRequest (occurrences merged, as
 * decodePredictRequest merges them): what the main thread needs to pick the
 * version before the whole request is decoded where the engine runs. The
 * other fields are skipped by their lengths, nothing of them is built.
 */
export function decodePredictModelSpec(bytes: Uint8Array, budget: DecodeBudget = requestBudget(bytes.length)): ModelSpecInput {
  const spec = new MergedField(bytes);
  readingWire('PredictRequest', () => {
    const cursor = new Cursor(bytes);
    while (!cursor.done) {
      cursor.tag();
      if (cursor.field === 1) {
        if (cursor.wire !== LEN) throw invalidArgument(`malformed PredictRequest: field 1 has wire type ${cursor.wire}, expected length-delimited`);
        cursor.value();
        spec.add(bytes.subarray(cursor.start, cursor.pos));
      } else {
        cursor.skip();
      }
    }
  });
  return decodeModelSpec(spec.bytes, budget);
}

/**
 * Decodes a serialized GetModelMetadataRequest: model_spec (1, occurrences
 * merged) and metadata_field (2), each field name checked against
 * `supported` as it is read: a flood of names is refused at the first
 * unsupported one, and repeats of a supported one cost a byte compare.
 */
export function decodeMetadataRequest(bytes: Uint8Array, supported: string, budget: DecodeBudget = requestBudget(bytes.length)): { modelSpec: ModelSpecInput; metadataFields: string[] } {
  const supportedBytes = Buffer.from(supported, 'utf8');
  const spec = new MergedField(bytes);
  let fields = 0;
  readingWire('GetModelMetadataRequest', () => {
    const cursor = new Cursor(bytes);
    while (!cursor.done) {
      cursor.tag();
      if ((cursor.field === 1 || cursor.field === 2) && cursor.wire !== LEN) {
        throw invalidArgument(`malformed GetModelMetadataRequest: field ${cursor.field} has wire type ${cursor.wire}, expected length-delimited`);
      }
      if (cursor.field === 1) {
        cursor.value();
        spec.add(bytes.subarray(cursor.start, cursor.pos));
      } else if (cursor.field === 2) {
        cursor.value();
        const name = bytes.subarray(cursor.start, cursor.pos);
        if (!supportedBytes.equals(name)) {
          throw invalidArgument(`Metadata field ${decodeUtf8(name, 'GetModelMetadataRequest.metadata_field')} is not supported (supported: ${supported})`);
        }
        fields++;
      } else {
        cursor.skip();
      }
    }
  });
  const modelSpec = decodeModelSpec(spec.bytes, budget);
  return { modelSpec, metadataFields: fields > 0 ? [supported] : [] };
}

/** Writes a tensorflow.serving.ModelSpec (name, version, signature_name) as field `field`. */
export function writeModelSpec(writer: protobuf.Writer, field: number, spec: ResolvedSpec): void {
  writer.uint32((field << 3) | 2).fork();
  if (spec.name) writer.uint32((1 << 3) | 2).string(spec.name);
  writer.uint32((2 << 3) | 2).fork();
  if (spec.version !== 0) writer.uint32((1 << 3) | 0).int64(spec.version);
  writer.ldelim();
  if (spec.signatureName) writer.uint32((3 << 3) | 2).string(spec.signatureName);
  writer.ldelim();
}

/** Serializes a tensorflow.serving.PredictResponse (outputs in typed *_val fields, as TF Serving answers). */
export function encodePredictResponse(result: PredictResult): Uint8Array {
  const writer = protobuf.Writer.create();
  for (const [alias, tensor] of Object.entries(result.outputs)) {
    writer.uint32((1 << 3) | 2).fork();
    writer.uint32((1 << 3) | 2).string(alias);
    writer.uint32((2 << 3) | 2).fork();
    writeTensorProto(writer, tensor);
    writer.ldelim();
    writer.ldelim();
  }
  writeModelSpec(writer, 2, result.modelSpec);
  return writer.finish();
}

function modelSpecSize(field: number, spec: ResolvedSpec): number {
  let inner = 0;
  if (spec.name) inner += lengthDelimitedSize(1, Buffer.byteLength(spec.name, 'utf8'));
  inner += lengthDelimitedSize(2, spec.version !== 0 ? 1 + varintSize(spec.version) : 0);
  if (spec.signatureName) inner += lengthDelimitedSize(3, Buffer.byteLength(spec.signatureName, 'utf8'));
  return lengthDelimitedSize(field, inner);
}

/**
 * The exact size encodePredictResponse() gives this result, computed from
 * the tensors without building it: an answer too large to send is refused
 * before its buffer is made.
 */
export function predictResponseSize(result: PredictResult): number {
  let size = 0;
  for (const [alias, tensor] of Object.entries(result.outputs)) {
    const entry = lengthDelimitedSize(1, Buffer.byteLength(alias, 'utf8')) + lengthDelimitedSize(2, tensorProtoSize(tensor));
    size += lengthDelimitedSize(1, entry);
  }
  return size + modelSpecSize(2, result.modelSpec);
}

/** Offsets of many spans of one buffer, without an object per span. */
class Spans {
  starts = new Uint32Array(16);
  ends = new Uint32Array(16);
  length = 0;

  push(start: number, end: number): void {
    if (this.length === this.starts.length) {
      const grow = (old: Uint32Array) => {
        const bigger = new Uint32Array(old.length * 2);
        bigger.set(old);
        return bigger;
      };
      this.starts = grow(this.starts);
      this.ends = grow(this.ends);
    }
    this.starts[this.length] = start;
    this.ends[this.length] = end;
    this.length++;
  }

  clear(): void {
    this.length = 0;
  }
}

/**
 * A tensorflow.serving.Input (serialized, in `bytes` at [start, end)) ->
 * its examples, serialized, with the context merged into each (protobuf
 * merging is concatenation: the example's own features win, as in TF
 * Serving). Each example is checked in place and what it costs parsed is
 * charged to `budget` before the packed feed is built.
 */
function readInput(bytes: Uint8Array, start: number, end: number, budget: DecodeBudget): SerializedExamples {
  const examples = new Spans();
  const context = new Spans();
  readingWire('Input', () => {
    // oneof kind: example_list (1) { examples (1) }, example_list_with_context (2) { examples (1), context (2) }.
    let kind = 0;
    const reader = protobuf.Reader.create(bytes.subarray(start, end));
    while (reader.pos < reader.len) {
      const { field, wire } = readTag(reader);
      if (field !== 1 && field !== 2) {
        reader.skipType(wire);
        continue;
      }
      if (wire !== LEN) throw invalidArgument(`malformed Input: field ${field} has wire type ${wire}, expected length-delimited`);
      const list = readSpan(reader);
      if (kind !== field) {
        // Setting another member of a oneof clears the one set before.
        examples.clear();
        context.clear();
        kind = field;
      }
      const inner = protobuf.Reader.create(bytes.subarray(start + list.start, start + list.end));
      while (inner.pos < inner.len) {
        const tag = readTag(inner);
        if (tag.field !== 1 && !(tag.field === 2 && kind === 2)) {
          inner.skipType(tag.wire);
          continue;
        }
        if (tag.wire !== LEN) throw invalidArgument(`malformed Input: field ${tag.field} of its example list has wire type ${tag.wire}, expected length-delimited`);
        const span = readSpan(inner);
        const base = start + list.start;
        (tag.field === 1 ? examples : context).push(base + span.start, base + span.end);
      }
    }
  });
  const listName = context.length > 0 ? 'input.example_list_with_context' : 'input.example_list';
  let contextBytes = 0;
  let contextCost = 0;
  for (let i = 0; i < context.length; i++) {
    contextBytes += context.ends[i]! - context.starts[i]!;
    contextCost += checkSerializedExample(bytes, context.starts[i]!, context.ends[i]!, `${listName}.context`);
  }
  let total = 0;
  for (let i = 0; i < examples.length; i++) {
    const length = examples.ends[i]! - examples.starts[i]!;
    const cost = checkSerializedExample(bytes, examples.starts[i]!, examples.ends[i]!, `${listName}.examples[${i}]`);
    total += length + contextBytes;
    // The example as fed (a string element) and as parsed, context included.
    budget.charge(STRING_ELEMENT_COST + length + contextBytes + cost + contextCost, `${listName}.examples[${i}]`);
  }
  if (total > 0xffffffff) throw invalidArgument(`${listName}: the serialized examples would take ${total} bytes; at most 4 GiB are supported`);
  return { serialized: packExamples(bytes, examples, context, total) };
}

function packExamples(bytes: Uint8Array, examples: Spans, context: Spans, total: number): PackedStrings {
  const out = new Uint8Array(total);
  const offsets = new Uint32Array(examples.length + 1);
  let pos = 0;
  for (let i = 0; i < examples.length; i++) {
    for (let c = 0; c < context.length; c++) {
      out.set(bytes.subarray(context.starts[c]!, context.ends[c]!), pos);
      pos += context.ends[c]! - context.starts[c]!;
    }
    out.set(bytes.subarray(examples.starts[i]!, examples.ends[i]!), pos);
    pos += examples.ends[i]! - examples.starts[i]!;
    offsets[i + 1] = pos;
  }
  return { bytes: out, offsets };
}

/**
 * A request whose field `inputField` is a tensorflow.serving.Input:
 * decodes every other field with protobufjs (checked first) and reads the
 * Input by hand. Repeated occurrences of the Input merge, as protobuf's do.
 */
function splitInput<T>(typeName: string, bytes: Uint8Array, inputField: number, budget: DecodeBudget): { rest: T; examples: SerializedExamples } {
  // Copied into two buffers as they are read: no object per field, however many.
  const rest = new Uint8Array(bytes.length);
  const input = new Uint8Array(bytes.length);
  let restLength = 0;
  let inputLength = 0;
  const name = typeName.slice(typeName.lastIndexOf('.') + 1);
  readingWire(name, () => {
    const cursor = new Cursor(bytes);
    while (!cursor.done) {
      const from = cursor.pos;
      cursor.tag();
      if (cursor.field === inputField) {
        if (cursor.wire !== LEN) throw invalidArgument(`malformed ${name}: input has wire type ${cursor.wire}, expected length-delimited`);
        cursor.value();
        input.set(bytes.subarray(cursor.start, cursor.pos), inputLength);
        inputLength += cursor.pos - cursor.start;
      } else {
        cursor.skip();
        rest.set(bytes.subarray(from, cursor.pos), restLength);
        restLength += cursor.pos - from;
      }
    }
  });
  return {
    rest: decodeMessage<T>(typeName, rest.subarray(0, restLength), budget),
    examples: readInput(input, 0, inputLength, budget),
  };
}

/**
 * Decodes a message with protobufjs into object form (longs as strings,
 * bytes as Buffers), after checkMessage(): wire types, UTF-8, truncation.
 */
export function decodeMessage<T>(typeName: string, bytes: Uint8Array, budget: DecodeBudget = requestBudget(bytes.length)): T {
  const type = servingType(typeName);
  // protobufjs makes a JS value (number, string, object) of each: charged before it does.
  budget.charge(checkMessage(type, bytes, type.name) * PROTOBUFJS_VALUE_COST, type.name);
  let message;
  try {
    message = type.decode(bytes);
  } catch (error) {
    throw invalidArgument(`malformed ${type.name}: ${(error as Error).message}`);
  }
  return type.toObject(message, { longs: String, enums: String, defaults: false, oneofs: false }) as T;
}

export function encodeMessage(typeName: string, object: Record<string, unknown>): Uint8Array {
  const type = servingType(typeName);
  return type.encode(type.fromObject(object)).finish();
}

interface DecodedExamplesRequest {
  modelSpec?: DecodedModelSpec;
}

interface DecodedMultiInferenceRequest {
  tasks?: Array<{ modelSpec?: DecodedModelSpec; methodName?: string }>;
}

/** ClassificationRequest / RegressionRequest: model_spec (1), input (2). */
const EXAMPLES_INPUT_FIELD = 2;
/** MultiInferenceRequest: tasks (1), input (2). */
const MULTI_INPUT_FIELD = 2;

/** Decodes a serialized ClassificationRequest or RegressionRequest (`typeName`); the examples stay serialized. */
export function decodeExamplesRequest(typeName: string, bytes: Uint8Array, budget: DecodeBudget = requestBudget(bytes.length)): Omit<ExamplesRequest, 'signal'> {
  const { rest, examples } = splitInput<DecodedExamplesRequest>(typeName, bytes, EXAMPLES_INPUT_FIELD, budget);
  return { modelSpec: modelSpecFromObject(rest.modelSpec), examples };
}

/** Decodes a serialized MultiInferenceRequest; the examples stay serialized. */
export function decodeMultiInferenceRequest(bytes: Uint8Array, budget: DecodeBudget = requestBudget(bytes.length)): Omit<MultiInferenceRequest, 'signal'> {
  const { rest, examples } = splitInput<DecodedMultiInferenceRequest>('tensorflow.serving.MultiInferenceRequest', bytes, MULTI_INPUT_FIELD, budget);
  const tasks = (rest.tasks ?? []).map((task) => ({ modelSpec: modelSpecFromObject(task.modelSpec), methodName: task.methodName ?? '' }));
  return { tasks, examples };
}

function classificationResultObject(classifications: ClassifyResult['classifications']): Record<string, unknown> {
  return { classifications: classifications.map((row) => ({ classes: row.map((c) => ({ label: c.label, score: c.score })) })) };
}

function regressionResultObject(regressions: number[]): Record<string, unknown> {
  return { regressions: regressions.map((value) => ({ value })) };
}

export function classificationResponseObject(result: ClassifyResult): Record<string, unknown> {
  return { modelSpec: modelSpecToObject(result.modelSpec), result: classificationResultObject(result.classifications) };
}

export function regressionResponseObject(result: RegressResult): Record<string, unknown> {
  return { modelSpec: modelSpecToObject(result.modelSpec), result: regressionResultObject(result.regressions) };
}

export function multiInferenceResponseObject(result: MultiInferenceResult): Record<string, unknown> {
  return {
    results: result.results.map((r) => ({
      modelSpec: modelSpecToObject(r.modelSpec),
      ...(r.classifications ? { classificationResult: classificationResultObject(r.classifications) } : {}),
      ...(r.regressions ? { regressionResult: regressionResultObject(r.regressions) } : {}),
    })),
  };
}
