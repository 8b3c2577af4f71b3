// Structure-aware Open Inference Protocol v2 requests: REST infer bodies
// (JSON tensors and the binary-data extension) and gRPC ModelInfer messages
// (raw_input_contents and typed contents) for the served models' signatures,
// then mutated: datatypes, shapes, counts, binary sizes, names, bytes. Answers
// are never asked for in binary form, so every REST answer stays JSON.
import { createRequire } from 'node:module';
import path from 'node:path';

import { REPO_ROOT } from '../paths.mjs';
import { mutateBytes } from './mutate.mjs';
import { evilName, evilShape } from './vocab.mjs';

const require = createRequire(import.meta.url);
const { v2Type } = require(path.join(REPO_ROOT, 'dist', 'src', 'serving', 'v2', 'grpc-wire.js'));

const INFER = '/inference.GRPCInferenceService/ModelInfer';
const SMALL = ['ServerLive', 'ServerReady', 'ModelReady', 'ServerMetadata', 'ModelMetadata'];

// dtype -> [v2 datatype, bytes per element (0: BYTES), typed contents field]
const V2 = {
  float16: ['FP16', 2, null], float32: ['FP32', 4, 'fp32Contents'], float64: ['FP64', 8, 'fp64Contents'], bfloat16: ['BF16', 2, null],
  int8: ['INT8', 1, 'intContents'], int16: ['INT16', 2, 'intContents'], int32: ['INT32', 4, 'intContents'], int64: ['INT64', 8, 'int64Contents'],
  uint8: ['UINT8', 1, 'uintContents'], uint16: ['UINT16', 2, 'uintContents'], uint32: ['UINT32', 4, 'uintContents'], uint64: ['UINT64', 8, 'uint64Contents'],
  bool: ['BOOL', 1, 'boolContents'], string: ['BYTES', 0, 'bytesContents'], complex64: ['COMPLEX64', 8, null], complex128: ['COMPLEX128', 16, null],
};
const DATATYPES = ['FP32', 'FP64', 'INT64', 'BYTES', 'BOOL', 'FP16', 'UINT8', 'fp32', '', 'FP128', '__proto__'];
const CONTENT_FIELDS = ['boolContents', 'intContents', 'int64Contents', 'uintContents', 'uint64Contents', 'fp32Contents', 'fp64Contents', 'bytesContents'];

const product = (shape) => shape.reduce((a, b) => a * b, 1);

function leafValue(rng, dtype) {
  if (dtype === 'string') return rng.pick(['abc', '', 'Hello', '\u00e9']);
  if (dtype === 'bool') return rng.chance(0.5);
  if (dtype.startsWith('float') || dtype === 'bfloat16') return rng.range(-40, 40) / 4;
  if (dtype.startsWith('uint')) return rng.int(200);
  return rng.range(-100, 100);
}

/** The raw bytes of `count` elements (BYTES: 4-byte lengths + bytes), sometimes lying. */
function rawBytes(rng, dtype, count, notes) {
  const width = V2[dtype][1];
  if (width > 0) return rng.bytes(count * width);
  const parts = [];
  for (let i = 0; i < count; i++) {
    const item = Buffer.from(rng.pick(['abc', '', 'xyz'.repeat(rng.int(5))]));
    const length = Buffer.alloc(4);
    length.writeUInt32LE(rng.chance(0.05) ? rng.pick([2 ** 32 - 1, item.length + 1, 2 ** 31]) : item.length);
    if (length.readUInt32LE() !== item.length) notes.push('BYTES length lies');
    parts.push(length, item);
  }
  return Buffer.concat(parts);
}

/** One input: { name, datatype, shape, dtype, count } with mutations noted. */
function inputSpec(rng, spec, notes) {
  let shape = spec.shape.map((d) => (d < 0 ? rng.range(1, 3) : d));
  const input = { name: spec.name, datatype: V2[spec.dtype][0], dtype: spec.dtype, shape, count: product(shape) };
  if (rng.chance(0.7)) return input;
  switch (rng.int(4)) {
    case 0:
      input.shape = evilShape(rng, shape);
      notes.push(`shape [${input.shape.length > 8 ? `rank ${input.shape.length}` : input.shape.join(',')}]`);
      break;
    case 1:
      input.datatype = rng.pick(DATATYPES);
      notes.push(`datatype '${input.datatype}'`);
      break;
    case 2:
      input.count = rng.pick([0, 1, input.count + 1, Math.max(0, input.count - 1), rng.range(100, 3000)]);
      notes.push(`count ${input.count}`);
      break;
    default:
      input.name = evilName(rng);
      notes.push(`input '${input.name.slice(0, 20)}'`);
  }
  return input;
}

function pickSignature(rng, models) {
  const modelName = rng.chance(0.95) ? rng.pick(Object.keys(models)) : evilName(rng);
  const model = Object.hasOwn(models, modelName) ? models[modelName] : models.half_plus_two;
  const predict = Object.entries(model.signatures).filter(([, s]) => s.method === 'predict');
  const [sigName, sig] = rng.pick(predict.length ? predict : Object.entries(model.signatures));
  return { modelName, sigName, sig };
}

/** One v2 REST request: an infer body (JSON or binary extension), or a metadata/health GET. */
export function v2RestCase(rng, models) {
  const notes = [];
  const { modelName, sigName, sig } = pickSignature(rng, models);
  const base = `/v2/models/${encodeURIComponent(modelName.replace(/[\ud800-\udfff]/g, '\ufffd').slice(0, 2000))}${rng.chance(0.1) ? `/versions/${rng.pick(['1', '123', '0', 'x', '99999999999999999999'])}` : ''}`;
  if (rng.chance(0.15)) {
    const p = rng.pick(['/v2', '/v2/health/live', '/v2/health/ready', base, `${base}/ready`, `${base}?signature_name=${encodeURIComponent(sigName)}`, '/v2/models', '/v2/models//infer']);
    return { door: 'rest', httpMethod: rng.chance(0.9) ? 'GET' : 'POST', path: p, headers: {}, body: undefined, what: `v2 GET ${p.slice(0, 60)}` };
  }
  const inputs = sig.inputs.map((spec) => inputSpec(rng, spec, notes));
  const binary = [];
  const entries = inputs.map((input) => {
    const tensor = { name: input.name, datatype: input.datatype, shape: input.shape };
    if (rng.chance(0.3)) {
      const bytes = rawBytes(rng, input.dtype, input.count, notes);
      const size = rng.chance(0.9) ? bytes.length : rng.pick([0, bytes.length + 1, 2 ** 40, -1]);
      if (size !== bytes.length) notes.push(`binary_data_size ${size}`);
      binary.push(bytes);
      return { ...tensor, parameters: { binary_data_size: size } };
    }
    const data = Array.from({ length: Math.min(input.count, 5000) }, () => leafValue(rng, input.dtype));
    return { ...tensor, data };
  });
  const doc = { inputs: entries, parameters: { signature_name: sigName } };
  if (rng.chance(0.2)) doc.outputs = [{ name: rng.chance(0.7) ? 'y' : evilName(rng), parameters: { binary_data: false } }];
  let json = Buffer.from(JSON.stringify(doc));
  if (rng.chance(0.15)) {
    const [mutated, how] = mutateBytes(rng, json);
    json = mutated;
    notes.push(how);
  }
  const headers = { 'content-type': 'application/json' };
  let body = json;
  if (binary.length) {
    body = Buffer.concat([json, ...binary]);
    headers['inference-header-content-length'] = String(rng.chance(0.9) ? json.length : rng.pick([0, json.length + 7, body.length + 1, 'x']));
    notes.unshift('binary');
  }
  return { door: 'rest', httpMethod: 'POST', path: `${base}/infer`, headers, body, what: `v2 infer ${modelName}/${sigName} ${notes.join('; ')}`.slice(0, 300) };
}

/** One v2 gRPC request: ModelInfer (raw or typed contents), or one of the small methods. */
export function v2GrpcCase(rng, models) {
  const notes = [];
  const { modelName, sigName, sig } = pickSignature(rng, models);
  if (rng.chance(0.1)) {
    const method = rng.pick(SMALL);
    const type = v2Type(`${method}Request`);
    const body = Buffer.from(type.encode(type.fromObject(method.startsWith('Model') ? { name: modelName, version: rng.pick(['', '1', 'x']) } : {})).finish());
    return { door: 'grpc', method: `/inference.GRPCInferenceService/${method}`, body, what: `v2 ${method} ${modelName}` };
  }
  const raw = rng.chance(0.6);
  const inputs = [];
  const rawContents = [];
  for (const spec of sig.inputs) {
    const input = inputSpec(rng, spec, notes);
    const tensor = { name: input.name, datatype: input.datatype, shape: input.shape };
    if (raw) rawContents.push(rawBytes(rng, input.dtype, input.count, notes));
    else {
      const field = rng.chance(0.9) ? V2[input.dtype][2] ?? 'fp32Contents' : rng.pick(CONTENT_FIELDS);
      const n = Math.min(input.count, 5000);
      tensor.contents = { [field]: Array.from({ length: n }, () => (field === 'bytesContents' ? Buffer.from(String(leafValue(rng, 'string'))) : field === 'boolContents' ? rng.chance(0.5) : leafValue(rng, input.dtype === 'string' ? 'int32' : input.dtype))) };
      if (field !== V2[input.dtype][2]) notes.push(`contents ${field}`);
    }
    inputs.push(tensor);
  }
  if (raw && rng.chance(0.05)) {
    rawContents.push(Buffer.from([1, 2, 3]));
    notes.push('extra raw');
  }
  const message = { modelName, inputs, parameters: { signature_name: { stringParam: sigName } }, ...(raw ? { rawInputContents: rawContents } : {}) };
  if (rng.chance(0.2)) message.outputs = [{ name: rng.chance(0.7) ? 'y' : evilName(rng) }];
  const type = v2Type('ModelInferRequest');
  let body = Buffer.from(type.encode(type.fromObject(message)).finish());
  if (rng.chance(0.2)) {
    const [mutated, how] = mutateBytes(rng, body);
    body = mutated;
    notes.push(how);
  }
  return { door: 'grpc', method: INFER, body, what: `v2 ModelInfer ${modelName}/${sigName} ${raw ? 'raw' : 'contents'} ${notes.join('; ')}`.slice(0, 300) };
}
