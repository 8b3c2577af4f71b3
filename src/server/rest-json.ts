// TF Serving's REST request and response bodies: predict in row
// ("instances" -> "predictions") and columnar ("inputs" -> "outputs")
// formats, classify/regress with tf.Examples, errors.
import { BIGINT_RANGES, type DType } from '../engine/dtypes';
import { TfServeError, invalidArgument } from '../engine/errors';
import { DecodeBudget } from '../serving/decode-limits';
import type { Example, Feature } from '../serving/example';
import type { AnyTensor, TensorInput } from '../engine/tensor';
import { type JsonObject, type JsonValue, type ParseOptions, isJsonObject, parseJsonDetailed } from './json-parse';
import { JsonOut, formatFloat32, jsonString } from './json-write';
import { type DecodeTarget, batchFromJson, decodeBase64, estimateTensorJson, isBase64Object, jsonTypeName, renderJson, rowWriters, tensorFromJson, writeTensor } from './rest-tensor';

/** What decoding a :predict body needs of a signature (a Signature is one): its name and its inputs' dtypes. */
export interface InputSignature {
  name: string;
  inputs: Readonly<Record<string, { dtype: DType | null; tfDtype: string }>>;
}

/**
 * Largest JSON answer built by default (V8 strings stop at 2^29 characters;
 * building one that large would hold the event loop for seconds).
 */
export const DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

export type PredictFormat = 'row' | 'columnar';

/** Parses a request body, which must be a JSON object. */
export function parseRequestBody(text: string, options: ParseOptions = {}): JsonObject {
  return parseRequestBodyDetailed(text, options).doc;
}

/** parseRequestBody, and whether integer literals came back as bigints (json-parse's parseJsonDetailed). */
export function parseRequestBodyDetailed(text: string, options: ParseOptions = {}): { doc: JsonObject; exactIntegers: boolean } {
  const { value, exactIntegers } = parseJsonDetailed(text, options);
  if (!isJsonObject(value)) throw invalidArgument(`JSON Value: ${renderJson(value)} Is not object`);
  return { doc: value, exactIntegers };
}

/** The optional "signature_name" member. */
export function signatureNameOf(doc: JsonObject): string | undefined {
  if (!Object.hasOwn(doc, 'signature_name')) return undefined;
  const name = doc.signature_name;
  if (typeof name !== 'string') throw invalidArgument(`JSON Value: ${renderJson(name)} not formatted correctly. 'signature_name' key must be a string value.`);
  return name;
}

function inputDtype(signature: InputSignature, alias: string) {
  const spec = signature.inputs[alias]!;
  if (spec.dtype === null) throw new TfServeError('UNIMPLEMENTED', `input '${alias}' has type ${spec.tfDtype}, which tfserve cannot feed`);
  return spec.dtype;
}

function checkInputName(signature: InputSignature, name: string, where: string): void {
  if (!Object.hasOwn(signature.inputs, name)) {
    throw invalidArgument(`${where}: JSON object: does not have named input: ${name} (the signature's inputs: ${Object.keys(signature.inputs).join(', ')})`);
  }
}

function inputTarget(budget: DecodeBudget, alias: string, exactIntegers: boolean): DecodeTarget {
  return { budget, what: `input '${alias}'`, exactIntegers };
}

/** Inputs by alias, with no prototype: an alias such as "__proto__" is just a key. */
function inputRecord(): Record<string, TensorInput> {
  return Object.create(null) as Record<string, TensorInput>;
}

function fromInstances(instances: JsonValue[], signature: InputSignature, budget: DecodeBudget, exactIntegers: boolean): Record<string, TensorInput> {
  const names = Object.keys(signature.inputs);
  const first = instances[0]!;
  const named = isJsonObject(first) && !isBase64Object(first);
  if (!named) {
    if (names.length !== 1) {
      throw invalidArgument(`instances is a plain list, but expecting list of objects as multiple input tensors required as per tensorinfo_map (inputs: ${names.join(', ')})`);
    }
    instances.forEach((item, i) => {
      if (isJsonObject(item) && !isBase64Object(item)) throw invalidArgument(`Expecting value/list but got object at item ${i} of input list`);
    });
    const alias = names[0]!;
    const inputs = inputRecord();
    inputs[alias] = batchFromJson(instances, inputDtype(signature, alias), (i) => `Failed to process element: ${i} key: ${alias} of 'instances' list`, inputTarget(budget, alias, exactIntegers));
    return inputs;
  }
  const keys = Object.keys(first);
  for (const key of keys) checkInputName(signature, key, "Failed to process element: 0 of 'instances' list");
  const columns = new Map<string, JsonValue[]>(keys.map((key) => [key, []]));
  instances.forEach((item, i) => {
    if (!isJsonObject(item) || isBase64Object(item)) throw invalidArgument(`Expecting object but got ${jsonTypeName(item)} at item ${i} of input list`);
    const itemKeys = Object.keys(item);
    if (itemKeys.length !== keys.length || itemKeys.some((k) => !columns.has(k))) {
      throw invalidArgument(`Failed to process element: ${i} of 'instances' list. JSON object: ${renderJson(item)} keys must be equal to: ${keys.join(',')}`);
    }
    for (const key of itemKeys) columns.get(key)!.push(item[key]!);
  });
  const inputs = inputRecord();
  for (const [alias, values] of columns) {
    inputs[alias] = batchFromJson(values, inputDtype(signature, alias), (i) => `Failed to process element: ${i} key: ${alias} of 'instances' list`, inputTarget(budget, alias, exactIntegers));
  }
  return inputs;
}

function fromInputs(value: JsonValue, signature: InputSignature, budget: DecodeBudget, exactIntegers: boolean): Record<string, TensorInput> {
  const names = Object.keys(signature.inputs);
  const inputs = inputRecord();
  const decode = (alias: string, item: JsonValue) => {
    try {
      inputs[alias] = tensorFromJson(item, inputDtype(signature, alias), inputTarget(budget, alias, exactIntegers));
    } catch (error) {
      const wrapped = TfServeError.from(error);
      throw new TfServeError(wrapped.code, `input '${alias}' of 'inputs': ${wrapped.message}`);
    }
  };
  if (!isJsonObject(value) || isBase64Object(value)) {
    if (names.length !== 1) {
      throw invalidArgument(`inputs is a plain value/list, but expecting an object as multiple input tensors required as per tensorinfo_map (inputs: ${names.join(', ')})`);
    }
    decode(names[0]!, value);
    return inputs;
  }
  for (const key of Object.keys(value)) {
    checkInputName(signature, key, "'inputs' object");
    decode(key, value[key]!);
  }
  return inputs;
}

/**
 * The tensors of a :predict body, typed by the signature's inputs; every
 * tensor is charged to `budget` before it is allocated. `exactIntegers`:
 * the body was parsed with integer literals as bigints, so that integer
 * inputs refuse `1.0` as TF Serving does (parseRequestBodyDetailed).
 */
export function decodePredictInputs(doc: JsonObject, signature: InputSignature, budget = new DecodeBudget(0), exactIntegers = false): { format: PredictFormat; inputs: Record<string, TensorInput> } {
  if (Object.keys(signature.inputs).length === 0) throw invalidArgument(`Failed to get input map for signature: ${signature.name}`);
  const hasInstances = Object.hasOwn(doc, 'instances');
  const hasInputs = Object.hasOwn(doc, 'inputs');
  if (hasInstances && hasInputs) throw invalidArgument("Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist");
  if (hasInstances) {
    const instances = doc.instances!;
    if (!Array.isArray(instances)) throw invalidArgument(`Expecting 'instances' to be an list/array, got ${jsonTypeName(instances)}`);
    if (instances.length === 0) throw invalidArgument("No values in 'instances' array");
    return { format: 'row', inputs: fromInstances(instances, signature, budget, exactIntegers) };
  }
  if (hasInputs) return { format: 'columnar', inputs: fromInputs(doc.inputs!, signature, budget, exactIntegers) };
  throw invalidArgument("Missing 'inputs' or 'instances' key");
}

function sortedEntries(outputs: Record<string, AnyTensor>): Array<[string, AnyTensor]> {
  return Object.keys(outputs)
    .sort()
    .map((alias) => [alias, outputs[alias]!]);
}

function tooLarge(bytes: number | null, limit: number): TfServeError {
  const size = bytes === null ? 'more than a JavaScript string can hold' : `about ${bytes} bytes`;
  return new TfServeError('RESOURCE_EXHAUSTED', `The JSON response would take ${size}, over the limit of ${limit} bytes: ask for fewer rows or outputs, or use gRPC`);
}

/**
 * {"predictions": [...]} or {"outputs": ...}; one output is written bare,
 * several as objects by alias. Its size is estimated from the tensors first:
 * past `maxBytes` the answer is RESOURCE_EXHAUSTED, before anything is built.
 */
export function encodePredictResponse(outputs: Record<string, AnyTensor>, format: PredictFormat, maxBytes = DEFAULT_MAX_RESPONSE_BYTES): string {
  const entries = sortedEntries(outputs);
  if (entries.length === 0) throw invalidArgument('Cannot convert empty tensor map to JSON');
  const estimate = entries.reduce((total, [alias, tensor]) => total + estimateTensorJson(alias, tensor) + jsonString(alias).length + 4, 32);
  if (estimate > maxBytes) throw tooLarge(estimate, maxBytes);
  try {
    return buildPredictResponse(entries, format);
  } catch (error) {
    // Strings past the estimate (escapes) can still pass V8's string limit.
    if (error instanceof RangeError) throw tooLarge(null, maxBytes);
    throw error;
  }
}

function buildPredictResponse(entries: Array<[string, AnyTensor]>, format: PredictFormat): string {
  const out = new JsonOut();
  if (format === 'columnar') {
    out.push('{"outputs": ');
    if (entries.length === 1) {
      writeTensor(out, entries[0]![0], entries[0]![1]);
    } else {
      out.push('{');
      entries.forEach(([alias, tensor], i) => {
        out.push(i > 0 ? ', ' : '', jsonString(alias), ': ');
        writeTensor(out, alias, tensor);
      });
      out.push('}');
    }
    out.push('}');
    return out.text();
  }
  const { rows, writeRow } = rowWriters(entries);
  out.push('{"predictions": [');
  for (let row = 0; row < rows; row++) {
    if (row > 0) out.push(', ');
    if (entries.length === 1) {
      writeRow(out, entries[0]![0], row);
      continue;
    }
    out.push('{');
    entries.forEach(([alias], i) => {
      out.push(i > 0 ? ', ' : '', jsonString(alias), ': ');
      writeRow(out, alias, row);
    });
    out.push('}');
  }
  out.push(']}');
  return out.text();
}

function featureKindError(name: string, kind: Feature['kind']): TfServeError {
  return invalidArgument(`Unexpected element type in feature: ${name} expecting type: ${kind}`);
}

/** What a feature value costs beside a bytes value's length: its slot, a boxed number or a Buffer's header. */
const FEATURE_VALUE_COST = 24;

/** Adds one value to a feature, charged to the budget first. */
function addFeatureValue(name: string, value: JsonValue, feature: { current?: Feature }, budget: DecodeBudget): void {
  const push = (kind: Feature['kind'], item: Uint8Array | number | bigint) => {
    budget.charge(FEATURE_VALUE_COST + (item instanceof Uint8Array ? item.byteLength : 0), `feature '${name}'`);
    if (!feature.current) feature.current = { kind, values: [] } as Feature;
    if (feature.current.kind !== kind) throw featureKindError(name, feature.current.kind);
    (feature.current.values as unknown[]).push(item);
  };
  if (typeof value === 'boolean') push('int64', value ? 1n : 0n);
  else if (typeof value === 'string') push('bytes', Buffer.from(value, 'utf8'));
  else if (typeof value === 'bigint') {
    const [min, max] = BIGINT_RANGES.int64!;
    if (value > max) throw invalidArgument(`Feature: ${name} has uint64 element. Only int64 is supported.`);
    if (value < min) throw invalidArgument(`Feature: ${name} has an integer out of the int64 range: ${value}`);
    push('int64', value);
  } else if (typeof value === 'number') {
    // As TF Serving (GetFloat): narrowed to float, +-Infinity past its range.
    push('float', Math.fround(value));
  } else if (isBase64Object(value)) push('bytes', decodeBase64(value));
  else throw invalidArgument(`Feature: ${name} has element with unexpected JSON type: ${jsonTypeName(value)}`);
}

function exampleFromJson(value: JsonValue, where: string, budget: DecodeBudget): Example {
  if (!isJsonObject(value)) throw invalidArgument(`${where}: Example must be JSON object but got JSON ${jsonTypeName(value)}`);
  // No prototype: a feature named "__proto__" or "constructor" is just a feature.
  const example = Object.create(null) as Example;
  for (const name of Object.keys(value)) {
    const content = value[name]!;
    const feature: { current?: Feature } = {};
    if (Array.isArray(content)) for (const item of content) addFeatureValue(name, item, feature, budget);
    else addFeatureValue(name, content, feature, budget);
    // An empty list carries no type; TF's parsers read an empty float list the same.
    example[name] = feature.current ?? { kind: 'float', values: [] };
  }
  return example;
}

/** "examples" (and the optional "context") of a :classify or :regress body. */
export function decodeExamplesRequest(doc: JsonObject, method: 'classify' | 'regress', budget = new DecodeBudget(0)): { examples: Example[]; context?: Example } {
  const context = Object.hasOwn(doc, 'context') ? exampleFromJson(doc.context!, "'context'", budget) : undefined;
  if (!Object.hasOwn(doc, 'examples')) throw invalidArgument(`When method is ${method}, key 'examples' is expected and was not found`);
  const list = doc.examples!;
  if (!Array.isArray(list)) throw invalidArgument(`Expecting 'examples' value to be an list/array, got ${jsonTypeName(list)}`);
  if (list.length === 0) throw invalidArgument("'examples' value is an empty array");
  const examples = list.map((item, i) => exampleFromJson(item, `'examples' item ${i}`, budget));
  return context ? { examples, context } : { examples };
}

export function encodeClassifyResponse(classifications: ReadonlyArray<ReadonlyArray<{ label: string; score: number }>>): string {
  if (classifications.length === 0) throw invalidArgument('Cannot convert empty ClassificationResults to JSON');
  const rows = classifications.map((classes) => `[${classes.map((c) => `[${jsonString(c.label)}, ${formatFloat32(c.score)}]`).join(', ')}]`);
  return `{"results": [${rows.join(', ')}]}`;
}

export function encodeRegressResponse(regressions: readonly number[]): string {
  if (regressions.length === 0) throw invalidArgument('Cannot convert empty RegressionResults to JSON');
  return `{"results": [${regressions.map((v) => formatFloat32(v)).join(', ')}]}`;
}

export function encodeError(message: string): string {
  return `{"error": ${jsonString(message)}}`;
}
