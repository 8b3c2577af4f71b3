// A TFLite model's serving signatures, as TF Serving's TfLiteSession makes
// them (servables/tensorflow/tflite_session.cc):
// - from the model's "signature_defs_metadata" (SignatureDefs TF Serving's
//   tools wrote), each TensorInfo name fixed to a tensor of the model: as
//   written, or without its ":0" suffix (older converters drop it);
// - without that metadata, one 'serving_default' predict signature over the
//   model's inputs and outputs, each keyed by its tensor name without ":N".
// Either way the tensors are those of the model's primary inputs and outputs
// (LiteRT's first signature: the model's own, or LiteRT's placeholder for a
// model that has none), which is what TF Serving's interpreter runs.
import protobuf from 'protobufjs';

import { type DType, dtypeInfo } from '../dtypes';
import { TfServeError } from '../errors';
import { protoType } from '../proto';
import { type Signature, type TensorSpec, nameMap, signatureFromDef } from '../signatures';
import type { NativeTfliteSignature, NativeTfliteTensor } from '../native';
import { readFlexStringMap } from './flexbuffer';

/** TFLite element types TF Serving maps to TF dtypes (TfLiteTypeToTfType), by number. */
const ELEMENT_TYPES: ReadonlyMap<number, DType> = new Map<number, DType>([
  [1, 'float32'],
  [2, 'int32'],
  [3, 'uint8'],
  [4, 'int64'],
  [5, 'string'],
  [6, 'bool'],
  [7, 'int16'],
  [8, 'complex64'],
  [9, 'int8'],
]);

export function dtypeOfElementType(elementType: number): DType | undefined {
  return ELEMENT_TYPES.get(elementType);
}

export function elementTypeOf(dtype: DType): number | undefined {
  for (const [elementType, name] of ELEMENT_TYPES) if (name === dtype) return elementType;
  return undefined;
}

/** Where a signature's alias lives among the primary tensors. */
export interface TfliteBinding {
  signature: Signature;
  /** Input alias -> index among the primary inputs. */
  inputs: Map<string, number>;
  /** Output alias -> index among the primary outputs. */
  outputs: Map<string, number>;
}

export interface TfliteSignatures {
  bindings: Map<string, TfliteBinding>;
  /** Serialized tensorflow.serving.SignatureDefMap, for GetModelMetadata. */
  signatureDefMap: Uint8Array;
}

const DEFAULT_KEY = 'serving_default';
const PREDICT_METHOD = 'tensorflow/serving/predict';

/** "x:0" -> "x", as TF Serving's TfToTfLiteLegacyTensorName. */
function legacyName(tensorName: string): string {
  const colon = tensorName.indexOf(':');
  return colon < 0 ? tensorName : tensorName.slice(0, colon);
}

function dtypeOf(tensor: NativeTfliteTensor, where: string): DType {
  const dtype = dtypeOfElementType(tensor.elementType);
  if (!dtype) throw new TfServeError('INVALID_ARGUMENT', `${where} tensor '${tensor.tensorName}' has TFLite type ${tensor.elementType}, which TF Serving does not map to a TF dtype`);
  return dtype;
}

function specOf(tensor: NativeTfliteTensor, where: string): TensorSpec {
  const dtype = dtypeOf(tensor, where);
  return { name: tensor.tensorName, dtype, tfDtype: dtypeInfo(dtype).protoName, shape: tensor.shape, encoding: 'dense' };
}

/** Index of the tensor a signature names: as written, or without ":N". */
function resolveTensor(tensors: NativeTfliteTensor[], name: string, what: string): number {
  let index = tensors.findIndex((t) => t.tensorName === name);
  if (index < 0) index = tensors.findIndex((t) => t.tensorName === legacyName(name));
  if (index < 0) throw new TfServeError('INVALID_ARGUMENT', `${what} references an unknown tensor: Unknown tensor '${name}'.`);
  return index;
}

function bind(signature: Signature, primary: NativeTfliteSignature): TfliteBinding {
  const binding: TfliteBinding = { signature, inputs: new Map(), outputs: new Map() };
  for (const [side, tensors, map] of [['input', primary.inputs, binding.inputs], ['output', primary.outputs, binding.outputs]] as const) {
    const specs = side === 'input' ? signature.inputs : signature.outputs;
    for (const alias of Object.keys(specs)) {
      const spec = specs[alias]!;
      const what = `Signature ${side} ${alias} of '${signature.name}'`;
      if (spec.encoding !== 'dense') throw new TfServeError('INVALID_ARGUMENT', `${what} is a ${spec.encoding} tensor; TFLite tensors are dense`);
      const index = resolveTensor(tensors, spec.name, what);
      const tensor = tensors[index]!;
      const actual = dtypeOf(tensor, side);
      if (spec.dtype !== actual) {
        throw new TfServeError('INVALID_ARGUMENT', `${what} declares ${spec.tfDtype} but tensor '${tensor.tensorName}' is ${dtypeInfo(actual).protoName}`);
      }
      spec.name = tensor.tensorName;
      map.set(alias, index);
    }
  }
  return binding;
}

function mockSignature(primary: NativeTfliteSignature): Signature {
  const inputs = nameMap<TensorSpec>();
  const outputs = nameMap<TensorSpec>();
  for (const t of primary.inputs) inputs[legacyName(t.tensorName)] = specOf(t, 'input');
  for (const t of primary.outputs) outputs[legacyName(t.tensorName)] = specOf(t, 'output');
  return { name: DEFAULT_KEY, methodName: PREDICT_METHOD, inputs, outputs };
}

function encodeSpec(spec: TensorSpec): object {
  return {
    name: spec.name,
    dtype: spec.tfDtype,
    tensorShape: spec.shape === null ? { unknownRank: true } : { dim: spec.shape.map((size) => ({ size })) },
  };
}

/** The SignatureDefMap TF Serving's GetModelMetadata returns for these signatures (tensor names fixed). */
function encodeSignatureDefMap(signatures: Signature[]): Uint8Array {
  const SignatureDef = protoType('tensorflow.SignatureDef');
  const writer = protobuf.Writer.create();
  for (const signature of signatures) {
    const def = SignatureDef.fromObject({
      methodName: signature.methodName,
      inputs: Object.fromEntries(Object.entries(signature.inputs).map(([alias, spec]) => [alias, encodeSpec(spec)])),
      outputs: Object.fromEntries(Object.entries(signature.outputs).map(([alias, spec]) => [alias, encodeSpec(spec)])),
    });
    const entry = protobuf.Writer.create();
    entry.uint32((1 << 3) | 2).string(signature.name);
    entry.uint32((2 << 3) | 2).bytes(SignatureDef.encode(def).finish());
    writer.uint32((1 << 3) | 2).bytes(entry.finish());
  }
  return writer.finish();
}

/** The serving signatures of a TFLite model from what the addon read of it. */
export function tfliteSignatures(native: NativeTfliteSignature[], metadata: Uint8Array | null): TfliteSignatures {
  const primary = native[0];
  if (!primary) throw new TfServeError('INVALID_ARGUMENT', 'the TFLite model has no subgraph signature to run');
  const signatures: Signature[] = [];
  if (metadata) {
    let defs: Map<string, Uint8Array>;
    try {
      defs = readFlexStringMap(metadata);
    } catch (error) {
      throw new TfServeError('INVALID_ARGUMENT', `Invalid SignatureDefs found in TfLite model: ${(error as Error).message}`);
    }
    for (const [key, bytes] of [...defs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      try {
        signatures.push(signatureFromDef(key, bytes));
      } catch (error) {
        throw new TfServeError('INVALID_ARGUMENT', `Invalid SignatureDefs found in TfLite model: ${key}: ${(error as Error).message}`);
      }
    }
  }
  if (signatures.length === 0) signatures.push(mockSignature(primary));
  const bindings = new Map<string, TfliteBinding>();
  for (const signature of signatures) bindings.set(signature.name, bind(signature, primary));
  return { bindings, signatureDefMap: encodeSignatureDefMap(signatures) };
}

