import { type DType, dtypeFromProtoName } from './dtypes';
import protobuf from 'protobufjs';

import { protoType } from './proto';

/** One input or output of a signature. */
export interface TensorSpec {
  /** Graph tensor name, e.g. "x:0" (empty for sparse and composite tensors). */
  name: string;
  /** Element type, or null where tfserve cannot marshal it (see tfDtype). */
  dtype: DType | null;
  /** TensorFlow's name for the type, e.g. DT_FLOAT. */
  tfDtype: string;
  /** Dimensions with -1 where unknown; null when even the rank is unknown. */
  shape: number[] | null;
  /** How the tensor is carried; tfserve feeds and fetches dense tensors. */
  encoding: 'dense' | 'coo_sparse' | 'composite';
}

export interface Signature {
  name: string;
  /** e.g. tensorflow/serving/predict, tensorflow/serving/classify, tensorflow/serving/regress. */
  methodName: string;
  /** By alias; a null-prototype object (see nameMap), so any key lookup is safe. */
  inputs: Record<string, TensorSpec>;
  outputs: Record<string, TensorSpec>;
  /**
   * SignatureDef.defaults: a serialized tensorflow.TensorProto by input
   * alias, fed when a Predict leaves that input out (TF Serving's
   * predict_util). Null-prototype; absent when the signature has none.
   */
  defaults?: Record<string, Uint8Array>;
}

export interface MetaGraphInfo {
  tags: string[];
  /** TF version that exported the model, when recorded. */
  tensorflowVersion: string;
  /** By key; a null-prototype object (see nameMap). */
  signatures: Record<string, Signature>;
}

interface DecodedTensorInfo {
  name?: string;
  cooSparse?: object;
  compositeTensor?: object;
  dtype: string;
  tensorShape?: { dim: Array<{ size: number }>; unknownRank: boolean };
}

/** The defaults of a decoded (not toObject'ed) SignatureDef message, re-encoded per alias. */
function defaultsOf(def: protobuf.Message | undefined): Record<string, Uint8Array> | undefined {
  const defaults = (def as unknown as { defaults?: Record<string, protobuf.Message> } | undefined)?.defaults;
  const aliases = defaults ? Object.keys(defaults) : [];
  if (aliases.length === 0) return undefined;
  const TensorProto = protoType('tensorflow.TensorProto');
  const result = nameMap<Uint8Array>();
  for (const alias of aliases.sort()) result[alias] = TensorProto.encode(defaults![alias]!).finish();
  return result;
}

/** A Signature, with `defaults` only when there are some. */
function makeSignature(key: string, def: { methodName: string; inputs: Record<string, DecodedTensorInfo>; outputs: Record<string, DecodedTensorInfo> }, message: protobuf.Message | undefined): Signature {
  const signature: Signature = { name: key, methodName: def.methodName, inputs: toSpecs(def.inputs), outputs: toSpecs(def.outputs) };
  const defaults = defaultsOf(message);
  if (defaults) signature.defaults = defaults;
  return signature;
}

interface DecodedMetaGraph {
  metaInfoDef?: { tags: string[]; tensorflowVersion: string };
  signatureDef: Record<string, { inputs: Record<string, DecodedTensorInfo>; outputs: Record<string, DecodedTensorInfo>; methodName: string }>;
}

/** Signature keys TF uses for its own bookkeeping, not for serving. */
function isInternalSignature(key: string): boolean {
  return key.startsWith('__saved_model_');
}

function toSpec(info: DecodedTensorInfo): TensorSpec {
  const shape = info.tensorShape;
  return {
    name: info.name ?? '',
    dtype: dtypeFromProtoName(info.dtype)?.name ?? null,
    tfDtype: info.dtype,
    shape: !shape || shape.unknownRank ? null : shape.dim.map((d) => d.size),
    encoding: info.cooSparse ? 'coo_sparse' : info.compositeTensor ? 'composite' : 'dense',
  };
}

/**
 * An empty object with no prototype. Signatures, inputs and outputs are keyed
 * by names clients choose: looked up in a plain object, '__proto__',
 * 'constructor' or 'toString' would find Object.prototype's members.
 */
export function nameMap<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

function toSpecs(map: Record<string, DecodedTensorInfo>): Record<string, TensorSpec> {
  const specs = nameMap<TensorSpec>();
  for (const alias of Object.keys(map).sort()) specs[alias] = toSpec(map[alias]!);
  return specs;
}

/** A decoded tensorflow.SignatureDef as a Signature (TFLite models carry them in their metadata). */
export function signatureFromDef(key: string, bytes: Uint8Array): Signature {
  const SignatureDef = protoType('tensorflow.SignatureDef');
  const message = SignatureDef.decode(bytes);
  const def = SignatureDef.toObject(message, { enums: String, longs: Number, defaults: true, oneofs: false }) as DecodedMetaGraph['signatureDef'][string];
  return makeSignature(key, def, message);
}

/** Reads tags and serving signatures out of a serialized MetaGraphDef. */
export function parseMetaGraph(bytes: Uint8Array): MetaGraphInfo {
  const MetaGraphDef = protoType('tensorflow.MetaGraphDef');
  const message = MetaGraphDef.decode(bytes);
  const messages = (message as unknown as { signatureDef: Record<string, protobuf.Message> }).signatureDef;
  const decoded = MetaGraphDef.toObject(message, {
    enums: String,
    longs: Number,
    defaults: true,
    oneofs: false,
  }) as DecodedMetaGraph;
  const signatures = nameMap<Signature>();
  for (const key of Object.keys(decoded.signatureDef).sort()) {
    if (isInternalSignature(key)) continue;
    const def = decoded.signatureDef[key]!;
    signatures[key] = makeSignature(key, def, messages[key]);
  }
  return {
    tags: decoded.metaInfoDef?.tags ?? [],
    tensorflowVersion: decoded.metaInfoDef?.tensorflowVersion ?? '',
    signatures,
  };
}

/**
 * The MetaGraphDef's signature_def entries, byte for byte, re-framed as a
 * serialized tensorflow.serving.SignatureDefMap (whose map is field 1): what
 * TF Serving's GetModelMetadata returns, with nothing lost to our proto subset.
 */
export function extractSignatureDefMap(metaGraphDef: Uint8Array): Uint8Array {
  const SIGNATURE_DEF_FIELD = 5;
  const reader = protobuf.Reader.create(metaGraphDef);
  const writer = protobuf.Writer.create();
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === SIGNATURE_DEF_FIELD && (tag & 7) === 2) {
      writer.uint32((1 << 3) | 2).bytes(reader.bytes());
    } else {
      reader.skipType(tag & 7);
    }
  }
  return writer.finish();
}
