// inference.GRPCInferenceService's messages on the wire. ModelInferRequest
// is read by hand, after proto-wire.ts's checkMessage() has checked its
// wire types, UTF-8 and nesting: raw_input_contents and the typed
// InferTensorContents go straight into typed arrays and packed strings, each
// counted against its input's shape and charged to the request's
// DecodeBudget before anything is allocated. ModelInferResponse is written
// by hand too, outputs as raw_output_contents (as Triton answers). The
// small messages go through protobufjs.
import protobuf from 'protobufjs';

import { type DType, INTEGER_RANGES, dtypeInfo } from '../../engine/dtypes';
import { invalidArgument } from '../../engine/errors';
import { lazyProtoRoot } from '../../engine/proto';
import { type TensorInput, checkShapeLimits, formatShape } from '../../engine/tensor';
import { type DecodeBudget, STRING_ELEMENT_COST, tensorCost } from '../decode-limits';
import { Cursor, FIXED32, FIXED64, LEN, VARINT, checkMessage, countVarints, decodeUtf8, readVarint64, readingWire, wrongWire } from '../proto-wire';
import { dtypeOfDatatype, elementBytes } from './datatypes';
import type { V2InferRequest, V2InferResult, V2InputTensor, V2Parameters, V2RequestedOutput } from './infer';
import { rawSize, tensorFromRaw, tensorToRaw } from './raw';

const root = lazyProtoRoot(['inference/grpc_service.proto']);

export function v2Type(name: string): protobuf.Type {
  return root().lookupType(`inference.${name}`);
}

/** What one entry (input, output, parameter, raw content) costs beside its data: the JS objects it becomes. */
const ENTRY_COST = 256;

/** A small message (everything but ModelInferRequest), checked and charged before protobufjs decodes it. */
export function decodeSmall<T>(typeName: string, bytes: Uint8Array, budget: DecodeBudget): T {
  const type = v2Type(typeName);
  budget.charge(checkMessage(type, bytes, typeName) * STRING_ELEMENT_COST, typeName);
  return type.toObject(type.decode(bytes), { longs: String, defaults: true }) as T;
}

export function encodeSmall(typeName: string, object: Record<string, unknown>): Uint8Array {
  const type = v2Type(typeName);
  return type.encode(type.fromObject(object)).finish();
}

/** Field numbers. */
const REQ = { modelName: 1, modelVersion: 2, id: 3, parameters: 4, inputs: 5, outputs: 6, raw: 7 } as const;
const INPUT = { name: 1, datatype: 2, shape: 3, parameters: 4, contents: 5 } as const;
const PARAM = { bool: 1, int64: 2, string: 3, double: 4, uint64: 5 } as const;

/** InferTensorContents: the field that carries each dtype's elements, and its wire type. */
const CONTENTS_FIELD: Partial<Record<DType, { field: number; wire: number; name: string }>> = {
  bool: { field: 1, wire: VARINT, name: 'bool_contents' },
  int8: { field: 2, wire: VARINT, name: 'int_contents' },
  int16: { field: 2, wire: VARINT, name: 'int_contents' },
  int32: { field: 2, wire: VARINT, name: 'int_contents' },
  int64: { field: 3, wire: VARINT, name: 'int64_contents' },
  uint8: { field: 4, wire: VARINT, name: 'uint_contents' },
  uint16: { field: 4, wire: VARINT, name: 'uint_contents' },
  uint32: { field: 4, wire: VARINT, name: 'uint_contents' },
  uint64: { field: 5, wire: VARINT, name: 'uint64_contents' },
  float32: { field: 6, wire: FIXED32, name: 'fp32_contents' },
  float64: { field: 7, wire: FIXED64, name: 'fp64_contents' },
  string: { field: 8, wire: LEN, name: 'bytes_contents' },
};

interface Span {
  start: number;
  end: number;
}

/** A varint as an unsigned 64-bit bigint (the cursor is checked: at most 10 bytes). */
function varint64(c: Cursor): bigint {
  const [value, next] = readVarint64(c.buf, c.pos, c.end);
  c.pos = next;
  return value;
}

/** A varint that fits a JS number exactly (fast path), else its bigint. */
function varint(c: Cursor): number | bigint {
  const { buf } = c;
  const start = c.pos;
  let value = 0;
  for (let shift = 0; shift < 28 && c.pos < c.end; shift += 7) {
    const byte = buf[c.pos++]!;
    value |= (byte & 0x7f) << shift;
    if (byte < 0x80) return value >>> 0;
  }
  c.pos = start;
  return varint64(c);
}

function str(c: Cursor, what: string): string {
  c.value();
  return decodeUtf8(c.buf.subarray(c.start, c.pos), what);
}

/** An InferParameter's value. */
function readParameter(buf: Uint8Array, span: Span, what: string): boolean | number | bigint | string {
  const c = new Cursor(buf, span.start, span.end);
  let value: boolean | number | bigint | string = '';
  while (!c.done) {
    c.tag();
    if (c.field === PARAM.bool && c.wire === VARINT) value = varint(c) !== 0;
    else if (c.field === PARAM.int64 && c.wire === VARINT) value = BigInt.asIntN(64, BigInt(varint(c)));
    else if (c.field === PARAM.uint64 && c.wire === VARINT) value = BigInt(varint(c));
    else if (c.field === PARAM.string && c.wire === LEN) value = str(c, what);
    else if (c.field === PARAM.double && c.wire === FIXED64) {
      value = new DataView(buf.buffer, buf.byteOffset + c.pos, 8).getFloat64(0, true);
      c.pos += 8;
    } else c.skip();
  }
  // Integers a double holds exactly are plain numbers.
  if (typeof value === 'bigint' && value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(value);
  return value;
}

/** A map<string, InferParameter> entry, added to `into` (a null-prototype record). */
function readParameterEntry(buf: Uint8Array, span: Span, into: V2Parameters, what: string, budget: DecodeBudget): void {
  budget.charge(ENTRY_COST + span.end - span.start, what);
  const c = new Cursor(buf, span.start, span.end);
  let key = '';
  let value: V2Parameters[string] = '';
  while (!c.done) {
    c.tag();
    if (c.field === 1 && c.wire === LEN) key = str(c, `${what} key`);
    else if (c.field === 2 && c.wire === LEN) {
      c.value();
      value = readParameter(buf, { start: c.start, end: c.pos }, `${what} value`);
    } else c.skip();
  }
  into[key] = value;
}

function parameters(): V2Parameters {
  return Object.create(null) as V2Parameters;
}

interface InputFields {
  name: string;
  datatype: string;
  shape: number[];
  contents: Span | null;
}

function readInput(buf: Uint8Array, span: Span, index: number, budget: DecodeBudget): InputFields {
  const c = new Cursor(buf, span.start, span.end);
  const input: InputFields = { name: '', datatype: '', shape: [], contents: null };
  const where = `ModelInferRequest.inputs[${index}]`;
  while (!c.done) {
    c.tag();
    if (c.field === INPUT.name && c.wire === LEN) input.name = str(c, `${where}.name`);
    else if (c.field === INPUT.datatype && c.wire === LEN) input.datatype = str(c, `${where}.datatype`);
    else if (c.field === INPUT.shape && c.wire === LEN) {
      c.value();
      const run = new Cursor(buf, c.start, c.pos);
      budget.charge(8 * countVarints(buf, c.start, c.pos), `${where}.shape`);
      while (!run.done) input.shape.push(dim(varint(run)));
    } else if (c.field === INPUT.shape && c.wire === VARINT) {
      budget.charge(8, `${where}.shape`);
      input.shape.push(dim(varint(c)));
    } else if (c.field === INPUT.contents && c.wire === LEN) {
      c.value();
      input.contents = { start: c.start, end: c.pos };
    } else c.skip(); // parameters of an input: none is understood (binary_data_size is REST's)
  }
  return input;
}

/** An int64 dimension as a number; negative or huge ones become -1, which the shape guard refuses. */
function dim(value: number | bigint): number {
  if (typeof value === 'number') return value;
  const signed = BigInt.asIntN(64, value);
  return signed >= 0n && signed <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(signed) : -1;
}

/** The typed contents of one input: every element from its dtype's field, counted against the shape first. */
function tensorFromContents(buf: Uint8Array, span: Span | null, dtype: DType, shape: number[], elements: number, budget: DecodeBudget, what: string, datatype: string): TensorInput {
  const own = CONTENTS_FIELD[dtype];
  if (!own) throw invalidArgument(`${what}: ${datatype} has no InferTensorContents field; send it in raw_input_contents`);
  // First pass: count the elements given (and bytes, for BYTES), refuse other fields.
  let count = 0;
  let bytes = 0;
  const c = new Cursor(buf, span?.start ?? 0, span?.end ?? 0);
  while (!c.done) {
    c.tag();
    if (c.field >= 1 && c.field <= 8 && c.field !== own.field) throw invalidArgument(`${what}: contents of a ${datatype} tensor go in ${own.name}, but field ${c.field} of InferTensorContents is set`);
    if (c.field !== own.field) {
      c.skip();
      continue;
    }
    if (own.wire === LEN) {
      c.value();
      count++;
      bytes += c.pos - c.start;
    } else if (c.wire === LEN) {
      c.value();
      count += own.wire === VARINT ? countVarints(buf, c.start, c.pos) : (c.pos - c.start) / (own.wire === FIXED32 ? 4 : 8);
    } else {
      c.skip();
      count++;
    }
  }
  if (count !== elements) throw invalidArgument(`${what}: ${own.name} has ${count} values, but shape ${formatShape(shape)} holds ${elements}`);
  if (dtype === 'string') {
    budget.charge(tensorCost(elements, 'string', bytes), what);
    const packed = new Uint8Array(bytes);
    const offsets = new Uint32Array(elements + 1);
    let at = 0;
    let i = 0;
    // No contents at all is a valid empty tensor (a shape with a 0 dimension).
    const fill = new Cursor(buf, span?.start ?? 0, span?.end ?? 0);
    while (!fill.done) {
      fill.tag();
      if (fill.field !== own.field) {
        fill.skip();
        continue;
      }
      fill.value();
      packed.set(buf.subarray(fill.start, fill.pos), at);
      at += fill.pos - fill.start;
      offsets[++i] = at;
    }
    return { dtype, shape, data: { bytes: packed, offsets } };
  }
  budget.charge(tensorCost(elements, elementBytes(dtype)), what);
  const array = new (dtypeInfo(dtype).array!)(elements);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const range = INTEGER_RANGES[dtype];
  let i = 0;
  const put = (value: number | bigint) => {
    if (dtype === 'int64') (array as BigInt64Array)[i++] = BigInt.asIntN(64, BigInt(value));
    else if (dtype === 'uint64') (array as BigUint64Array)[i++] = BigInt(value);
    else if (dtype === 'bool') (array as Uint8Array)[i++] = value === 0 ? 0 : 1;
    else {
      // int_contents are int32s: a negative one comes as a 10-byte varint.
      const n = typeof value === 'bigint' ? Number(BigInt.asIntN(own.field === 2 ? 32 : 64, value)) : own.field === 2 ? value | 0 : value;
      if (range && (n < range[0] || n > range[1])) throw invalidArgument(`${what}: ${own.name}[${i}] is ${n}, out of range for ${datatype}`);
      (array as Int32Array)[i++] = n;
    }
  };
  const readOne = (cur: Cursor) => {
    if (own.wire === VARINT) put(varint(cur));
    else if (own.wire === FIXED32) {
      (array as Float32Array)[i++] = view.getFloat32(cur.pos, true);
      cur.pos += 4;
    } else {
      (array as Float64Array)[i++] = view.getFloat64(cur.pos, true);
      cur.pos += 8;
    }
  };
  const fill = new Cursor(buf, span?.start ?? 0, span?.end ?? 0);
  while (!fill.done) {
    fill.tag();
    if (fill.field !== own.field) {
      fill.skip();
      continue;
    }
    if (fill.wire === LEN) {
      fill.value();
      const run = new Cursor(buf, fill.start, fill.pos);
      while (!run.done) readOne(run);
    } else readOne(fill);
  }
  return { dtype, shape, data: array } as TensorInput;
}

/**
 * model_name and model_version of a serialized ModelInferRequest (their
 * last occurrences, as protobuf reads them), without decoding the rest: what
 * picks the version before the request is decoded where it runs.
 */
export function readInferModel(bytes: Uint8Array): { name: string; version: string } {
  // Only these two fields are checked here (wire type, UTF-8), with checkMessage's words: the rest
  // is checked once, by decodeInferRequest where the request runs.
  return readingWire('ModelInferRequest', () => {
    const c = new Cursor(bytes);
    let name = '';
    let version = '';
    while (!c.done) {
      c.tag();
      if (c.field === REQ.modelName || c.field === REQ.modelVersion) {
        const field = c.field === REQ.modelName ? 'modelName' : 'modelVersion';
        if (c.wire !== LEN) throw wrongWire(`ModelInferRequest.${field}`, c.wire, LEN);
        const value = str(c, `ModelInferRequest.${field}`);
        if (field === 'modelName') name = value;
        else version = value;
      } else {
        c.skip();
      }
    }
    return { name, version };
  });
}

export interface DecodedInferRequest extends V2InferRequest {
  modelName: string;
  modelVersion: string;
}

/**
 * Decodes a serialized ModelInferRequest; each input's tensor is counted
 * against its shape and charged to `budget` before it is built. Malformed
 * protobuf, unknown datatypes, bad shapes and counts are INVALID_ARGUMENT
 * naming the input.
 */
export function decodeInferRequest(bytes: Uint8Array, budget: DecodeBudget): DecodedInferRequest {
  // Wire types, UTF-8 of every string and map key, nesting: checked once, up front.
  checkMessage(v2Type('ModelInferRequest'), bytes, 'ModelInferRequest');
  return readingWire('ModelInferRequest', () => {
    const c = new Cursor(bytes);
    const request: DecodedInferRequest = { modelName: '', modelVersion: '', parameters: parameters(), inputs: [] };
    const inputSpans: Span[] = [];
    const outputSpans: Span[] = [];
    const raw: Span[] = [];
    while (!c.done) {
      c.tag();
      if (c.wire !== LEN) {
        c.skip();
        continue;
      }
      switch (c.field) {
        case REQ.modelName:
          request.modelName = str(c, 'model_name');
          break;
        case REQ.modelVersion:
          request.modelVersion = str(c, 'model_version');
          break;
        case REQ.id:
          request.id = str(c, 'id');
          break;
        case REQ.parameters:
          c.value();
          readParameterEntry(bytes, { start: c.start, end: c.pos }, request.parameters, 'ModelInferRequest.parameters', budget);
          break;
        case REQ.inputs:
        case REQ.outputs:
        case REQ.raw: {
          c.value();
          budget.charge(ENTRY_COST, 'ModelInferRequest');
          (c.field === REQ.inputs ? inputSpans : c.field === REQ.outputs ? outputSpans : raw).push({ start: c.start, end: c.pos });
          break;
        }
        default:
          c.skip();
      }
    }
    if (raw.length > 0 && raw.length !== inputSpans.length) {
      throw invalidArgument(`ModelInferRequest has ${raw.length} raw_input_contents for ${inputSpans.length} inputs: give one per input, in the order of the inputs, or none`);
    }
    inputSpans.forEach((span, i) => {
      const fields = readInput(bytes, span, i, budget);
      const what = `input '${fields.name}'`;
      if (fields.name === '') throw invalidArgument(`ModelInferRequest.inputs[${i}] has no name`);
      const dtype = dtypeOfDatatype(fields.datatype, what);
      const { elements } = checkShapeLimits(fields.shape, what);
      let tensor: TensorInput;
      if (raw.length > 0) {
        if (fields.contents && fields.contents.end > fields.contents.start) throw invalidArgument(`${what}: contents and raw_input_contents are both set; give one`);
        tensor = tensorFromRaw(bytes.subarray(raw[i]!.start, raw[i]!.end), dtype, fields.shape, elements, budget, what);
      } else {
        tensor = tensorFromContents(bytes, fields.contents, dtype, fields.shape, elements, budget, what, fields.datatype);
      }
      const input: V2InputTensor = { name: fields.name, datatype: fields.datatype, shape: fields.shape, tensor };
      request.inputs.push(input);
    });
    if (outputSpans.length > 0) {
      request.outputs = outputSpans.map((span, i): V2RequestedOutput => {
        const out = new Cursor(bytes, span.start, span.end);
        const output: V2RequestedOutput = { name: '', parameters: parameters() };
        while (!out.done) {
          out.tag();
          if (out.field === 1 && out.wire === LEN) output.name = str(out, `ModelInferRequest.outputs[${i}].name`);
          else if (out.field === 2 && out.wire === LEN) {
            out.value();
            readParameterEntry(bytes, { start: out.start, end: out.pos }, output.parameters, `ModelInferRequest.outputs[${i}].parameters`, budget);
          } else out.skip();
        }
        return output;
      });
    }
    return request;
  });
}

/** The ModelInferResponse's size, computed from the outputs without building it (within a few bytes per output). */
export function inferResponseSize(result: V2InferResult): number {
  let size = 32 + result.modelName.length * 3 + result.modelVersion.length + (result.id?.length ?? 0) * 3;
  for (const output of result.outputs) size += 64 + output.name.length * 3 + output.shape.length * 11 + rawSize(output.tensor);
  return size;
}

/** A ModelInferResponse: outputs' name, datatype and shape, their data in raw_output_contents. */
export function encodeInferResponse(result: V2InferResult): Uint8Array {
  const writer = protobuf.Writer.create();
  writer.uint32((1 << 3) | LEN).string(result.modelName);
  writer.uint32((2 << 3) | LEN).string(result.modelVersion);
  if (result.id) writer.uint32((3 << 3) | LEN).string(result.id);
  for (const output of result.outputs) {
    writer.uint32((5 << 3) | LEN).fork();
    writer.uint32((1 << 3) | LEN).string(output.name);
    writer.uint32((2 << 3) | LEN).string(output.datatype);
    writer.uint32((3 << 3) | LEN).fork();
    for (const d of output.shape) writer.int64(d);
    writer.ldelim();
    writer.ldelim();
  }
  for (const output of result.outputs) writer.uint32((6 << 3) | LEN).bytes(tensorToRaw(output.tensor));
  return writer.finish();
}
