// TF Serving's request and response messages <-> the inference.ts shapes.
// Predict is decoded and encoded by hand (tensors go straight between bytes
// and typed arrays); the rest goes through protobufjs.
import protobuf from 'protobufjs';

import { invalidArgument } from '../errors';
import type { AnyTensor, TensorInput } from '../tensor';
import { type Example, exampleFromObject } from './example';
import type { ClassifyResult, ExamplesRequest, ModelSpecInput, MultiInferenceRequest, MultiInferenceResult, PredictResult, RegressResult, ResolvedSpec } from './inference';
import { servingType } from './protos';
import { decodeTensorProto, writeTensorProto } from './tensor-proto';

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

function decodeModelSpec(bytes: Uint8Array): ModelSpecInput {
  const type = servingType('tensorflow.serving.ModelSpec');
  return modelSpecFromObject(type.toObject(type.decode(bytes), { longs: String }) as DecodedModelSpec);
}

export interface DecodedPredictRequest {
  modelSpec: ModelSpecInput;
  inputs: Record<string, TensorInput>;
  outputFilter: string[];
}

/** A serialized map<string, message or bytes> entry: key (field 1) and value bytes (field 2). */
export function readMapEntry(entry: Uint8Array): { key: string; value: Uint8Array } {
  const reader = protobuf.Reader.create(entry);
  let key = '';
  let value: Uint8Array = new Uint8Array(0);
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag === ((1 << 3) | 2)) key = reader.string();
    else if (tag === ((2 << 3) | 2)) value = reader.bytes();
    else reader.skipType(tag & 7);
  }
  return { key, value };
}

/** The bytes of a length-delimited field of a serialized message (its last occurrence), or null. */
export function readBytesField(message: Uint8Array, field: number): Uint8Array | null {
  const reader = protobuf.Reader.create(message);
  let found: Uint8Array | null = null;
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag === ((field << 3) | 2)) found = reader.bytes();
    else reader.skipType(tag & 7);
  }
  return found;
}

/** Decodes a serialized tensorflow.serving.PredictRequest; tensors land in typed arrays. */
export function decodePredictRequest(bytes: Uint8Array): DecodedPredictRequest {
  const reader = protobuf.Reader.create(bytes);
  let modelSpec: ModelSpecInput = { name: '' };
  const inputs: Record<string, TensorInput> = {};
  const outputFilter: string[] = [];
  const entries: Array<{ key: string; value: Uint8Array }> = [];
  try {
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      const field = tag >>> 3;
      const wire = tag & 7;
      if (field === 1 && wire === 2) {
        modelSpec = decodeModelSpec(reader.bytes());
      } else if (field === 2 && wire === 2) {
        entries.push(readMapEntry(reader.bytes()));
      } else if (field === 3 && wire === 2) {
        outputFilter.push(reader.string());
      } else {
        reader.skipType(wire);
      }
    }
  } catch (error) {
    throw invalidArgument(`malformed PredictRequest: ${(error as Error).message}`);
  }
  for (const { key, value } of entries) inputs[key] = decodeTensorProto(value, `input '${key}'`);
  return { modelSpec, inputs, outputFilter };
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
    writeTensorProto(writer, tensor as AnyTensor);
    writer.ldelim();
    writer.ldelim();
  }
  writeModelSpec(writer, 2, result.modelSpec);
  return writer.finish();
}

interface DecodedInput {
  exampleList?: { examples?: unknown[] };
  exampleListWithContext?: { examples?: unknown[]; context?: unknown };
}

/** A tensorflow.serving.Input (object form) -> examples and context. */
function examplesFromInput(input: DecodedInput | undefined | null): { examples: Example[]; context?: Example } {
  type ExampleObject = Parameters<typeof exampleFromObject>[0];
  if (input?.exampleList) {
    return { examples: (input.exampleList.examples ?? []).map((e, i) => exampleFromObject(e as ExampleObject, `input.example_list.examples[${i}]`)) };
  }
  if (input?.exampleListWithContext) {
    const list = input.exampleListWithContext;
    return {
      examples: (list.examples ?? []).map((e, i) => exampleFromObject(e as ExampleObject, `input.example_list_with_context.examples[${i}]`)),
      context: list.context ? exampleFromObject(list.context as ExampleObject, 'input.example_list_with_context.context') : undefined,
    };
  }
  return { examples: [] };
}

/** Decodes a message with protobufjs into object form (longs as strings, bytes as Buffers). */
export function decodeMessage<T>(typeName: string, bytes: Uint8Array): T {
  const type = servingType(typeName);
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
  input?: DecodedInput;
}

interface DecodedMultiInferenceRequest {
  tasks?: Array<{ modelSpec?: DecodedModelSpec; methodName?: string }>;
  input?: DecodedInput;
}

/** Decodes a serialized ClassificationRequest or RegressionRequest (`typeName`). */
export function decodeExamplesRequest(typeName: string, bytes: Uint8Array): Omit<ExamplesRequest, 'signal'> {
  const request = decodeMessage<DecodedExamplesRequest>(typeName, bytes);
  return { modelSpec: modelSpecFromObject(request.modelSpec), ...examplesFromInput(request.input) };
}

/** Decodes a serialized MultiInferenceRequest. */
export function decodeMultiInferenceRequest(bytes: Uint8Array): Omit<MultiInferenceRequest, 'signal'> {
  const request = decodeMessage<DecodedMultiInferenceRequest>('tensorflow.serving.MultiInferenceRequest', bytes);
  const tasks = (request.tasks ?? []).map((task) => ({ modelSpec: modelSpecFromObject(task.modelSpec), methodName: task.methodName ?? '' }));
  return { tasks, ...examplesFromInput(request.input) };
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
