// The Open Inference Protocol v2 over a ModelManager, protocol-neutral: the
// REST and gRPC front doors (src/server/v2/) decode their requests into
// these shapes and encode the answers. Inference itself is inference.ts's
// predictOn, so v2 requests share TF Serving's path: leases, batching,
// deadlines and cancellation, the engine's validation.
//
// Mapping: v2 has no signatures. A request runs the model's
// `serving_default` signature, or the one its `signature_name` parameter
// names (tfserve's extension); v2 inputs and outputs are the signature's
// input and output aliases. Unlike TF Serving's Predict, shapes are held to
// the signature's known dimensions, as v2 servers check shapes against the
// model's metadata.
import { DEFAULT_SIGNATURE } from '../../engine/model';
import type { Signature, TensorSpec } from '../../engine/signatures';
import { TfServeError, invalidArgument } from '../../engine/errors';
import type { AnyTensor, TensorInput } from '../../engine/tensor';
import { type Target, predictOn } from '../inference';
import type { Lease, ModelManager } from '../model-manager';
import { type V2Datatype, datatypeOf } from './datatypes';

/** A parameter's value: v2 parameters are bool, int64, string or double (uint64 in gRPC). */
export type V2Parameter = boolean | number | bigint | string;
export type V2Parameters = Record<string, V2Parameter>;

export interface V2InputTensor {
  name: string;
  datatype: string;
  shape: number[];
  /** The decoded data, typed by the request's datatype. */
  tensor: TensorInput;
}

export interface V2RequestedOutput {
  name: string;
  parameters: V2Parameters;
}

export interface V2InferRequest {
  id?: string;
  parameters: V2Parameters;
  inputs: V2InputTensor[];
  /** Absent: every output of the signature. */
  outputs?: V2RequestedOutput[];
}

export interface V2OutputTensor {
  name: string;
  datatype: V2Datatype;
  shape: number[];
  tensor: AnyTensor;
  /** The request's parameters for this output ({} when it named none). */
  requested: V2Parameters;
}

export interface V2InferResult {
  modelName: string;
  modelVersion: string;
  id?: string;
  outputs: V2OutputTensor[];
}

export interface V2TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

export interface V2ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: V2TensorMetadata[];
  outputs: V2TensorMetadata[];
}

/** What ModelMetadata calls a TensorFlow SavedModel (Triton's name for the platform). */
export const V2_PLATFORM = 'tensorflow_savedmodel';

/** The request parameter naming the signature to run (tfserve's extension of v2). */
export const SIGNATURE_PARAMETER = 'signature_name';

/** The version a request names: "" = the latest available; else a non-negative integer. */
export function parseVersion(version: string | undefined): number | undefined {
  if (version === undefined || version === '') return undefined;
  if (!/^\d{1,15}$/.test(version)) throw invalidArgument(`model version '${version}' is not a version number`);
  return Number(version);
}

/** The version a request names, checked (a name; a version that is a number). */
export function v2ModelSpec(name: string, version: string | undefined): { name: string; version?: number } {
  if (typeof name !== 'string' || name === '') throw invalidArgument('the request names no model: set the model name');
  return { name, version: parseVersion(version) };
}

/** Leases the version a request names; NOT_FOUND for unknown models and versions, UNAVAILABLE while loading. */
export function leaseModel(manager: ModelManager, name: string, version: string | undefined): Lease {
  return manager.acquire(v2ModelSpec(name, version));
}

function signatureNameOf(parameters: V2Parameters): string {
  if (!Object.hasOwn(parameters, SIGNATURE_PARAMETER)) return DEFAULT_SIGNATURE;
  const value = parameters[SIGNATURE_PARAMETER];
  if (typeof value !== 'string' || value === '') throw invalidArgument(`parameter '${SIGNATURE_PARAMETER}' must be a non-empty string`);
  return value;
}

function signatureOf(target: Target, name: string): Signature {
  const signature = Object.hasOwn(target.servable.signatures, name) ? target.servable.signatures[name] : undefined;
  if (!signature) {
    const known = Object.keys(target.servable.signatures).join(', ') || 'none';
    throw new TfServeError(
      'FAILED_PRECONDITION',
      `Serving signature key "${name}" not found in model '${target.name}' version ${target.version} (signatures: ${known}; name one with the '${SIGNATURE_PARAMETER}' parameter)`,
    );
  }
  return signature;
}

function specDatatype(spec: TensorSpec): string | null {
  return spec.dtype === null ? null : datatypeOf(spec.dtype);
}

/** Runs a v2 inference on a leased version. */
export async function inferOn(target: Target, request: V2InferRequest, signal?: AbortSignal): Promise<V2InferResult> {
  const signature = signatureOf(target, signatureNameOf(request.parameters));
  const inputs = Object.create(null) as Record<string, TensorInput>;
  for (const input of request.inputs) {
    const what = `input '${input.name}'`;
    if (Object.hasOwn(inputs, input.name)) throw invalidArgument(`${what} is given twice`);
    if (!Object.hasOwn(signature.inputs, input.name)) {
      throw invalidArgument(`${what} is not an input of model '${target.name}' (signature '${signature.name}' takes: ${Object.keys(signature.inputs).join(', ') || 'none'})`);
    }
    const expected = specDatatype(signature.inputs[input.name]!);
    if (expected === null) throw invalidArgument(`${what} is ${signature.inputs[input.name]!.tfDtype}, which the v2 protocol has no datatype for`);
    if (input.datatype !== expected) throw invalidArgument(`${what} has datatype ${input.datatype}, but the model expects ${expected}`);
    inputs[input.name] = input.tensor;
  }
  const requested = new Map<string, V2Parameters>();
  for (const output of request.outputs ?? []) {
    if (requested.has(output.name)) throw invalidArgument(`output '${output.name}' is requested twice`);
    requested.set(output.name, output.parameters);
  }
  const names = request.outputs ? [...requested.keys()] : Object.keys(signature.outputs);
  for (const name of names) {
    const spec = Object.hasOwn(signature.outputs, name) ? signature.outputs[name]! : null;
    if (!spec) throw invalidArgument(`output '${name}' is not an output of model '${target.name}' (signature '${signature.name}' gives: ${Object.keys(signature.outputs).join(', ')})`);
    if (specDatatype(spec) === null) throw invalidArgument(`output '${name}' is ${spec.tfDtype}, which the v2 protocol has no datatype for: request the other outputs`);
  }
  const result = await predictOn(target, { inputs, signatureName: signature.name, outputFilter: names, validateShapes: true, signal });
  const outputs = names.map((name): V2OutputTensor => {
    const tensor = result.outputs[name]!;
    return { name, datatype: datatypeOf(tensor.dtype)!, shape: tensor.shape, tensor, requested: requested.get(name) ?? {} };
  });
  return { modelName: target.name, modelVersion: String(target.version), ...(request.id ? { id: request.id } : {}), outputs };
}

function tensorMetadata(specs: Record<string, TensorSpec>): V2TensorMetadata[] {
  return Object.keys(specs).map((name) => {
    const spec = specs[name]!;
    // An unknown rank has no v2 form: one unknown dimension stands for it.
    return { name, datatype: specDatatype(spec) ?? spec.tfDtype, shape: spec.shape ?? [-1] };
  });
}

/**
 * ModelMetadata: the versions available and the inputs and outputs of the
 * signature requests run by default (`serving_default`, or `signatureName`).
 * A model without that signature lists none.
 */
export function modelMetadata(manager: ModelManager, name: string, version: string | undefined, signatureName = DEFAULT_SIGNATURE): V2ModelMetadata {
  const lease = leaseModel(manager, name, version);
  try {
    const versions = manager
      .status(name)
      .filter((s) => s.state === 'AVAILABLE')
      .map((s) => String(s.version));
    const signature = Object.hasOwn(lease.servable.signatures, signatureName) ? lease.servable.signatures[signatureName]! : null;
    return {
      name: lease.name,
      versions,
      platform: V2_PLATFORM,
      inputs: signature ? tensorMetadata(signature.inputs) : [],
      outputs: signature ? tensorMetadata(signature.outputs) : [],
    };
  } finally {
    lease.release();
  }
}

/** ModelReady: whether the version (or, with none named, any version) is AVAILABLE. NOT_FOUND for models not configured. */
export function modelReady(manager: ModelManager, name: string, version: string | undefined): boolean {
  if (typeof name !== 'string' || name === '') throw invalidArgument('the request names no model: set the model name');
  const wanted = parseVersion(version);
  try {
    return manager.status(name, wanted).some((s) => s.state === 'AVAILABLE');
  } catch (error) {
    // A configured model without that version is simply not ready; an unknown model is NOT_FOUND.
    if (wanted !== undefined && manager.modelNames().includes(name)) return false;
    throw error;
  }
}

/** The protocol extensions tfserve implements (ServerMetadata's `extensions`). */
export const V2_EXTENSIONS: readonly string[] = ['binary_tensor_data', 'parameters'];

export function serverMetadata(version: string): { name: string; version: string; extensions: string[] } {
  return { name: 'tfserve', version, extensions: [...V2_EXTENSIONS] };
}
