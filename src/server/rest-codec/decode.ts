// The REST codec's jobs: request body bytes -> JSON -> typed tensors (or
// tf.Examples). The same code runs on the main thread for small bodies and
// in the codec pool's workers for the rest (see pool.ts), so a job carries
// everything it needs: the body, the decode limits and, for :predict, the
// input aliases and dtypes of every signature of the version the request
// runs on (the signature is named inside the body).
import { type StatusCode, TfServeError } from '../../engine/errors';
import { DecodeBudget, type DecodeLimits } from '../../serving/decode-limits';
import type { Signature } from '../../engine/signatures';
import type { Example } from '../../serving/example';
import { type AnyTensor, type PackedStrings, type TensorInput, isPackedStrings, ownedBuffers, packStrings, packedAt, packedCount } from '../../engine/tensor';
import type { V2InferRequest, V2InferResult, V2OutputTensor, V2Parameters } from '../../serving/v2/infer';
import { decodeInferBody, encodeInferAnswer } from '../v2/rest-json';
import { type InputSignature, type PredictFormat, decodeExamplesRequest, decodePredictInputs, encodePredictResponse, parseRequestBody, parseRequestBodyDetailed, signatureNameOf } from '../rest-json';
import { takesIntegers } from '../rest-tensor';

export interface PredictJob {
  kind: 'predict';
  /** The body after Content-Encoding; its length is the request's wire size. */
  body: Uint8Array;
  limits: DecodeLimits;
  /** The version the request runs on, for messages. */
  model: { name: string; version: number };
  defaultSignature: string;
  signatures: InputSignature[];
}

export interface ExamplesJob {
  kind: 'classify' | 'regress';
  body: Uint8Array;
  limits: DecodeLimits;
}

/**
 * A :predict answer to write as JSON. String tensors travel packed (one
 * buffer, offsets) so that crossing threads costs no object per element.
 */
export interface EncodeJob {
  kind: 'encode';
  outputs: Record<string, WireTensor>;
  format: PredictFormat;
  maxResponseBytes: number;
}

/** A tensor as an EncodeJob carries it: strings packed, the rest as they are. */
export type WireTensor = AnyTensor | { dtype: 'string'; shape: number[]; data: PackedStrings };

/** A v2 infer body (src/server/v2/rest-json.ts): JSON, then binary tensor data after `headerLength` bytes. */
export interface V2InferJob {
  kind: 'v2infer';
  body: Uint8Array;
  /** Inference-Header-Content-Length; null: the whole body is JSON. */
  headerLength: number | null;
  limits: DecodeLimits;
}

/** A v2 infer answer to write (src/server/v2/rest-json.ts), its tensors as an EncodeJob carries them. */
export interface V2EncodeJob {
  kind: 'v2encode';
  result: Omit<V2InferResult, 'outputs'> & { outputs: Array<Omit<V2OutputTensor, 'tensor'> & { tensor: WireTensor }> };
  /** The request's parameters (binary_data_output). */
  parameters: V2Parameters;
  maxResponseBytes: number;
}

export type CodecJob = PredictJob | ExamplesJob | EncodeJob | V2InferJob | V2EncodeJob;

export interface PredictDecoded {
  kind: 'predict';
  signatureName: string;
  format: PredictFormat;
  inputs: Record<string, TensorInput>;
}

export interface ExamplesDecoded {
  kind: 'examples';
  signatureName?: string;
  examples: Example[];
  context?: Example;
}

export interface Encoded {
  kind: 'encoded';
  text: string;
}

export interface V2InferDecoded {
  kind: 'v2infer';
  request: V2InferRequest;
}

/** A written v2 answer: the JSON, and the binary outputs that follow it. */
export interface V2Encoded {
  kind: 'v2encoded';
  json: string;
  binary: Uint8Array[];
}

export type CodecResult = PredictDecoded | ExamplesDecoded | Encoded | V2InferDecoded | V2Encoded;

/** A job's answer as it crosses threads: an error travels as its status code and message. */
export type CodecReply = { ok: true; value: CodecResult } | { ok: false; code: StatusCode; message: string };

/**
 * The parse is refused before it starts if it could take more than twice
 * the request's decode limit of heap (json-scan.ts bounds it).
 */
function parseLimit(budget: DecodeBudget): number {
  return 2 * budget.limit;
}

/** What the codec needs of a version's signatures, computed once per signature table. */
const inputSignatureCache = new WeakMap<object, InputSignature[]>();

export function inputSignatures(signatures: Readonly<Record<string, Signature>>): InputSignature[] {
  let list = inputSignatureCache.get(signatures);
  if (!list) {
    list = Object.keys(signatures).map((name) => {
      const inputs = Object.create(null) as Record<string, InputSignature['inputs'][string]>;
      for (const [alias, spec] of Object.entries(signatures[name]!.inputs)) inputs[alias] = { dtype: spec.dtype, tfDtype: spec.tfDtype };
      return { name, inputs };
    });
    inputSignatureCache.set(signatures, list);
  }
  return list;
}

/** A :predict body -> its signature, format and tensors, within the job's decode budget; throws on bad input. */
export function decodePredictJob(job: PredictJob): PredictDecoded {
  const budget = new DecodeBudget(job.body.byteLength, job.limits);
  return decodePredict(job, utf8Of(job.body), budget);
}

function utf8Of(body: Uint8Array): string {
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
}

function decodePredict(job: PredictJob, text: string, budget: DecodeBudget): PredictDecoded {
  // Integer inputs refuse `1.0` (rapidjson reads it as a double): when some
  // signature has one and the body has such a literal, integer literals are
  // parsed as bigints to keep them apart; else JSON.parse's numbers do.
  const integers = job.signatures.some((s) => Object.values(s.inputs).some((input) => input.dtype !== null && takesIntegers(input.dtype)));
  const { doc, exactIntegers } = parseRequestBodyDetailed(text, { maxParseBytes: parseLimit(budget), exactIntegers: integers ? 'whenFractions' : false });
  const signatureName = signatureNameOf(doc) || job.defaultSignature;
  // A list, not an object keyed by name: "__proto__" or "constructor" is just a name that is not there.
  const signature = job.signatures.find((s) => s.name === signatureName);
  if (!signature) {
    const known = job.signatures.map((s) => s.name).join(', ') || 'none';
    throw new TfServeError('FAILED_PRECONDITION', `Serving signature key "${signatureName}" not found in model '${job.model.name}' version ${job.model.version} (signatures: ${known})`);
  }
  const { format, inputs } = decodePredictInputs(doc, signature, budget, exactIntegers);
  return { kind: 'predict', signatureName, format, inputs };
}

function decodeExamples(job: ExamplesJob, text: string, budget: DecodeBudget): ExamplesDecoded {
  const doc = parseRequestBody(text, { exactIntegers: true, maxParseBytes: parseLimit(budget) });
  const signatureName = signatureNameOf(doc);
  return { kind: 'examples', ...(signatureName !== undefined ? { signatureName } : {}), ...decodeExamplesRequest(doc, job.kind, budget) };
}

/** Packs string outputs for an EncodeJob: offsets from views on one buffer (Model's outputs are), else a copy. */
export function toWire(outputs: Record<string, AnyTensor>): Record<string, WireTensor> {
  const wire: Record<string, WireTensor> = Object.create(null);
  for (const [alias, tensor] of Object.entries(outputs)) {
    wire[alias] = tensor.dtype === 'string' ? { dtype: 'string', shape: tensor.shape, data: packViews(tensor.data) } : tensor;
  }
  return wire;
}

function packViews(views: readonly Uint8Array[]): PackedStrings {
  const first = views[0];
  if (first === undefined) return packStrings([]);
  const offsets = new Uint32Array(views.length + 1);
  const base = first.byteOffset;
  offsets[0] = 0;
  for (let i = 0; i < views.length; i++) {
    const view = views[i]!;
    // Back to back on one buffer: each view starts where the previous one ended.
    if (view.buffer !== first.buffer || view.byteOffset - base !== offsets[i]) return packStrings(views);
    offsets[i + 1] = offsets[i]! + view.byteLength;
  }
  return { bytes: new Uint8Array(first.buffer, base, offsets[views.length]!), offsets };
}

function fromWire(outputs: Record<string, WireTensor>): Record<string, AnyTensor> {
  const tensors: Record<string, AnyTensor> = Object.create(null);
  for (const [alias, tensor] of Object.entries(outputs)) {
    if (tensor.dtype === 'string' && isPackedStrings(tensor.data)) {
      const packed = tensor.data;
      const views = new Array<Uint8Array>(packedCount(packed));
      for (let i = 0; i < views.length; i++) views[i] = packedAt(packed, i);
      tensors[alias] = { dtype: 'string', shape: tensor.shape, data: views };
    } else {
      tensors[alias] = tensor as AnyTensor;
    }
  }
  return tensors;
}

/** Runs a job; never throws. */
export function runCodecJob(job: CodecJob): CodecReply {
  try {
    if (job.kind === 'encode') return { ok: true, value: { kind: 'encoded', text: encodePredictResponse(fromWire(job.outputs), job.format, job.maxResponseBytes) } };
    if (job.kind === 'v2infer') return { ok: true, value: { kind: 'v2infer', request: decodeInferBody(job.body, job.headerLength, job.limits) } };
    if (job.kind === 'v2encode') {
      const tensors = fromWire(Object.fromEntries(job.result.outputs.map((output, i) => [String(i), output.tensor])));
      const result: V2InferResult = { ...job.result, outputs: job.result.outputs.map((output, i) => ({ ...output, tensor: tensors[String(i)]! })) };
      return { ok: true, value: { kind: 'v2encoded', ...encodeInferAnswer(result, job.parameters, job.maxResponseBytes) } };
    }
    const budget = new DecodeBudget(job.body.byteLength, job.limits);
    const text = utf8Of(job.body);
    const value = job.kind === 'predict' ? decodePredict(job, text, budget) : decodeExamples(job, text, budget);
    return { ok: true, value };
  } catch (error) {
    const wrapped = TfServeError.from(error);
    return { ok: false, code: wrapped.code, message: wrapped.message };
  }
}

/** The buffers of a reply's tensors, which the worker hands over instead of copying. */
export function transferablesOf(reply: CodecReply): ArrayBuffer[] {
  if (!reply.ok) return [];
  if (reply.value.kind === 'v2infer') return ownedBuffers(reply.value.request.inputs.map((input) => input.tensor.data));
  if (reply.value.kind === 'v2encoded') return ownedBuffers(reply.value.binary);
  if (reply.value.kind !== 'predict') return [];
  return ownedBuffers(Object.values(reply.value.inputs).map((input) => input.data));
}
