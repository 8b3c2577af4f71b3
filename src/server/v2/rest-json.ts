// The v2 REST infer body and answer: JSON tensors, and the binary-data
// extension (the JSON header is the first Inference-Header-Content-Length
// bytes; inputs whose `binary_data_size` parameter is set take their bytes,
// in order, from what follows; outputs asked for with `binary_data` go
// after the JSON answer the same way). Runs on the main thread for small
// bodies and in the REST codec's workers for large ones (rest-codec/).
import { TfServeError, invalidArgument } from '../../engine/errors';
import { type AnyTensor, type TensorInput, checkShapeLimits, elementCount, formatShape } from '../../engine/tensor';
import { DecodeBudget, type DecodeLimits } from '../../serving/decode-limits';
import { dtypeOfDatatype } from '../../serving/v2/datatypes';
import type { V2InferRequest, V2InferResult, V2InputTensor, V2Parameter, V2Parameters, V2RequestedOutput } from '../../serving/v2/infer';
import { rawSize, tensorFromRaw, tensorToRaw } from '../../serving/v2/raw';
import { type JsonObject, type JsonValue, isJsonObject } from '../json-parse';
import { JsonOut, jsonString } from '../json-write';
import { parseRequestBody } from '../rest-json';
import { estimateTensorJson, jsonTypeName, renderJson, tensorFromJson, writeTensor } from '../rest-tensor';

/** The request header that splits a body into its JSON and its binary tensor data (and the answer's likewise). */
export const HEADER_LENGTH_HEADER = 'inference-header-content-length';

/** Parameters of the binary-data extension. */
const BINARY_DATA_SIZE = 'binary_data_size';
const BINARY_DATA = 'binary_data';
const BINARY_DATA_OUTPUT = 'binary_data_output';
/** The classification extension's output parameter, which tfserve does not implement. */
const CLASS_COUNT = 'class_count';

/** The JSON header's length from Inference-Header-Content-Length, or null when absent. */
export function headerLength(value: string | string[] | undefined): number | null {
  if (value === undefined) return null;
  const text = Array.isArray(value) ? value[0]! : value;
  if (!/^\d{1,15}$/.test(text.trim())) throw invalidArgument(`Inference-Header-Content-Length '${text}' is not a byte count`);
  return Number(text.trim());
}

function parametersFrom(value: JsonValue | undefined, where: string): V2Parameters {
  const out = Object.create(null) as V2Parameters;
  if (value === undefined) return out;
  if (!isJsonObject(value)) throw invalidArgument(`${where}: 'parameters' must be an object, got ${jsonTypeName(value)}`);
  for (const key of Object.keys(value)) {
    const v = value[key]!;
    if (typeof v !== 'boolean' && typeof v !== 'number' && typeof v !== 'bigint' && typeof v !== 'string') {
      throw invalidArgument(`${where}: parameter '${key}' must be a boolean, number or string, got ${jsonTypeName(v)}`);
    }
    out[key] = v as V2Parameter;
  }
  return out;
}

function stringMember(doc: JsonObject, key: string, where: string, required: boolean): string | undefined {
  if (!Object.hasOwn(doc, key)) {
    if (required) throw invalidArgument(`${where}: '${key}' is missing`);
    return undefined;
  }
  const value = doc[key]!;
  if (typeof value !== 'string') throw invalidArgument(`${where}: '${key}' must be a string, got ${renderJson(value)}`);
  return value;
}

function shapeOf(value: JsonValue | undefined, what: string): number[] {
  if (!Array.isArray(value)) throw invalidArgument(`${what}: 'shape' must be a list of dimensions, got ${value === undefined ? 'none' : renderJson(value)}`);
  return value.map((d, i) => {
    const n = typeof d === 'bigint' ? Number(d) : d;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw invalidArgument(`${what}: shape[${i}] is ${renderJson(d)}; dimensions must be non-negative integers`);
    return n;
  });
}

function byteCount(value: V2Parameter | undefined, what: string): number | null {
  if (value === undefined) return null;
  const n = typeof value === 'bigint' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw invalidArgument(`${what}: parameter '${BINARY_DATA_SIZE}' must be a non-negative integer`);
  return n;
}

/** Reads the binary section in order, one input at a time. */
class BinarySection {
  private at = 0;
  constructor(private readonly bytes: Uint8Array) {}

  take(size: number, what: string): Uint8Array {
    if (size > this.bytes.byteLength - this.at) throw invalidArgument(`${what}: '${BINARY_DATA_SIZE}' is ${size}, but only ${this.bytes.byteLength - this.at} bytes of binary data are left in the body`);
    const slice = this.bytes.subarray(this.at, this.at + size);
    this.at += size;
    return slice;
  }

  finish(): void {
    const left = this.bytes.byteLength - this.at;
    if (left > 0) throw invalidArgument(`${left} bytes of binary data follow the JSON header that no input's '${BINARY_DATA_SIZE}' accounts for`);
  }
}

function decodeInput(item: JsonValue, index: number, binary: BinarySection, budget: DecodeBudget): V2InputTensor {
  if (!isJsonObject(item)) throw invalidArgument(`inputs[${index}] must be an object, got ${jsonTypeName(item)}`);
  const name = stringMember(item, 'name', `inputs[${index}]`, true)!;
  const what = `input '${name}'`;
  const datatype = stringMember(item, 'datatype', what, true)!;
  const dtype = dtypeOfDatatype(datatype, what);
  const shape = shapeOf(item.shape, what);
  const { elements } = checkShapeLimits(shape, what);
  const params = parametersFrom(item.parameters, what);
  const size = byteCount(params[BINARY_DATA_SIZE], what);
  let tensor: TensorInput;
  if (size !== null) {
    if (Object.hasOwn(item, 'data')) throw invalidArgument(`${what}: both 'data' and '${BINARY_DATA_SIZE}' are given; give one`);
    tensor = tensorFromRaw(binary.take(size, what), dtype, shape, elements, budget, what);
  } else {
    if (!Object.hasOwn(item, 'data')) throw invalidArgument(`${what}: 'data' is missing (or set the '${BINARY_DATA_SIZE}' parameter and send the bytes after the JSON)`);
    // Flat (row-major) or nested as the shape: the JSON's own shape only has to hold as many elements.
    let decoded: TensorInput;
    try {
      decoded = tensorFromJson(item.data!, dtype, { budget, what });
    } catch (error) {
      const wrapped = TfServeError.from(error);
      throw wrapped.message.startsWith(what) ? wrapped : new TfServeError(wrapped.code, `${what}: ${wrapped.message}`);
    }
    const given = elementCount(decoded.shape);
    if (given !== elements) throw invalidArgument(`${what}: 'data' holds ${given} elements, but shape ${formatShape(shape)} needs ${elements}`);
    tensor = { ...decoded, shape };
  }
  return { name, datatype, shape, tensor };
}

function decodeOutput(item: JsonValue, index: number): V2RequestedOutput {
  if (!isJsonObject(item)) throw invalidArgument(`outputs[${index}] must be an object, got ${jsonTypeName(item)}`);
  const name = stringMember(item, 'name', `outputs[${index}]`, true)!;
  const parameters = parametersFrom(item.parameters, `output '${name}'`);
  if (Object.hasOwn(parameters, CLASS_COUNT)) throw invalidArgument(`output '${name}': the classification extension ('${CLASS_COUNT}') is not supported`);
  if (Object.hasOwn(parameters, BINARY_DATA) && typeof parameters[BINARY_DATA] !== 'boolean') throw invalidArgument(`output '${name}': parameter '${BINARY_DATA}' must be a boolean`);
  return { name, parameters };
}

/**
 * The request in a v2 REST infer body. `jsonLength` is the
 * Inference-Header-Content-Length (null: the whole body is JSON). Tensors
 * are charged to the request's DecodeBudget before they are allocated, and
 * the parse is bounded as TF Serving's REST bodies are (json-scan.ts).
 */
export function decodeInferBody(body: Uint8Array, jsonLength: number | null, limits: DecodeLimits): V2InferRequest {
  const budget = new DecodeBudget(body.byteLength, limits);
  const length = jsonLength ?? body.byteLength;
  if (length > body.byteLength) throw invalidArgument(`Inference-Header-Content-Length is ${length}, but the body has only ${body.byteLength} bytes`);
  const text = Buffer.from(body.buffer, body.byteOffset, length).toString('utf8');
  const doc = parseRequestBody(text, { maxParseBytes: 2 * budget.limit });
  const binary = new BinarySection(body.subarray(length));
  const id = stringMember(doc, 'id', 'the request', false);
  const parameters = parametersFrom(doc.parameters, 'the request');
  if (!Object.hasOwn(doc, 'inputs')) throw invalidArgument("the request has no 'inputs' list");
  const list = doc.inputs!;
  if (!Array.isArray(list)) throw invalidArgument(`'inputs' must be a list, got ${jsonTypeName(list)}`);
  const inputs = list.map((item, i) => decodeInput(item, i, binary, budget));
  binary.finish();
  const request: V2InferRequest = { parameters, inputs, ...(id !== undefined ? { id } : {}) };
  if (Object.hasOwn(doc, 'outputs')) {
    const outputs = doc.outputs!;
    if (!Array.isArray(outputs)) throw invalidArgument(`'outputs' must be a list, got ${jsonTypeName(outputs)}`);
    request.outputs = outputs.map(decodeOutput);
  }
  return request;
}

/** Whether an output goes in the binary section: its own `binary_data`, else the request's `binary_data_output`. */
function isBinary(requested: V2Parameters, request: V2Parameters): boolean {
  if (Object.hasOwn(requested, BINARY_DATA)) return requested[BINARY_DATA] === true;
  return request[BINARY_DATA_OUTPUT] === true;
}

/** A v2 REST answer: the JSON, and the binary outputs after it (then the header carries the JSON's length). */
export interface InferAnswer {
  json: string;
  binary: Uint8Array[];
}

function writeFlat(out: JsonOut, tensor: AnyTensor): void {
  if (tensor.dtype === 'string') {
    out.push('[');
    tensor.data.forEach((item, i) => out.push(i > 0 ? ', ' : '', jsonString(Buffer.from(item.buffer, item.byteOffset, item.byteLength).toString('utf8'))));
    out.push(']');
    return;
  }
  // writeTensor writes nested lists; v2 answers are flat, row-major.
  writeTensor(out, '', { ...tensor, shape: [elementCount(tensor.shape)] } as AnyTensor);
}

function tooLarge(bytes: number, limit: number): TfServeError {
  return new TfServeError('RESOURCE_EXHAUSTED', `The response would take about ${bytes} bytes, over the limit of ${limit}: ask for fewer outputs, binary outputs ('${BINARY_DATA}'), or use gRPC`);
}

/** Writes the answer to a v2 infer; its size is estimated first (past `maxBytes`: RESOURCE_EXHAUSTED). */
export function encodeInferAnswer(result: V2InferResult, request: V2Parameters, maxBytes: number): InferAnswer {
  const binaryOut = result.outputs.map((output) => isBinary(output.requested, request));
  let estimate = 128 + result.modelName.length * 6;
  result.outputs.forEach((output, i) => {
    const flat = { ...output.tensor, shape: [elementCount(output.tensor.shape)] } as AnyTensor;
    estimate += 96 + output.name.length * 6 + 12 * output.shape.length + (binaryOut[i] ? rawSize(output.tensor) : estimateTensorJson('', flat));
  });
  if (estimate > maxBytes) throw tooLarge(estimate, maxBytes);
  const out = new JsonOut();
  out.push('{"model_name": ', jsonString(result.modelName), ', "model_version": ', jsonString(result.modelVersion));
  if (result.id !== undefined) out.push(', "id": ', jsonString(result.id));
  out.push(', "outputs": [');
  const binary: Uint8Array[] = [];
  result.outputs.forEach((output, i) => {
    out.push(i > 0 ? ', ' : '', '{"name": ', jsonString(output.name), ', "datatype": "', output.datatype, '", "shape": [', output.shape.join(', '), ']');
    if (binaryOut[i]) {
      const raw = tensorToRaw(output.tensor);
      binary.push(raw);
      out.push(`, "parameters": {"${BINARY_DATA_SIZE}": ${raw.byteLength}}}`);
    } else {
      out.push(', "data": ');
      writeFlat(out, output.tensor);
      out.push('}');
    }
  });
  out.push(']}');
  try {
    return { json: out.text(), binary };
  } catch (error) {
    if (error instanceof RangeError) throw tooLarge(estimate, maxBytes);
    throw error;
  }
}
