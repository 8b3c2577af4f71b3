// Model status and metadata answers of the REST API, in the JSON that TF
// Serving's protobuf printer writes: proto field names (snake_case), every
// scalar field even at its default, int64 as strings, enums by name.

import protobuf from 'protobufjs';

import type { ResolvedSpec } from '../serving/inference';
import type { VersionStatus } from '../serving/model-manager';
import { readMapEntry } from '../serving/wire';
import { lazyProtoRoot } from '../engine/proto';
import { jsonString } from './json-write';

/** A JSON document whose int64 values are already strings; written in key order. */
type JsonOut = string | number | boolean | null | JsonOut[] | { [key: string]: JsonOut };

function stringifyCompact(value: JsonOut): string {
  if (typeof value === 'string') return jsonString(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : jsonString(String(value));
  if (typeof value === 'boolean' || value === null) return String(value);
  if (Array.isArray(value)) return `[${value.map(stringifyCompact).join(', ')}]`;
  return `{${Object.keys(value)
    .map((key) => `${jsonString(key)}: ${stringifyCompact(value[key]!)}`)
    .join(', ')}}`;
}

/** meta_graph.proto with the .proto field names kept (the generic printer needs them). */
const metaGraphRoot = lazyProtoRoot(['tensorflow/core/protobuf/meta_graph.proto'], { keepCase: true });

const LONG_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

function scalarToJson(field: protobuf.Field, value: unknown): JsonOut {
  if (field.resolvedType instanceof protobuf.Enum) {
    return field.resolvedType.valuesById[value as number] ?? (value as number);
  }
  if (field.resolvedType instanceof protobuf.Type) return messageToJson(field.resolvedType, value as protobuf.Message);
  if (LONG_TYPES.has(field.type)) return String(value);
  if (field.type === 'bytes') return Buffer.from(value as Uint8Array).toString('base64');
  if (field.type === 'float' || field.type === 'double') {
    const n = value as number;
    return Number.isFinite(n) ? n : String(n);
  }
  return value as JsonOut;
}

/**
 * Fields in number order, members of a oneof after the rest (as TF Serving's
 * answers list them); unset messages and oneof members are left out.
 */
function messageToJson(type: protobuf.Type, message: protobuf.Message): JsonOut {
  const fields = [...type.fieldsArray].sort((a, b) => (a.partOf ? 1 : 0) - (b.partOf ? 1 : 0) || a.id - b.id);
  const record = message as unknown as Record<string, unknown>;
  const out: Record<string, JsonOut> = {};
  for (const field of fields) {
    field.resolve();
    const value = record[field.name];
    if (field.map) {
      const map = (value ?? {}) as Record<string, unknown>;
      // No prototype: a map key such as "__proto__" is just a key.
      const entries = Object.create(null) as Record<string, JsonOut>;
      for (const key of Object.keys(map)) entries[key] = scalarToJson(field, map[key]);
      out[field.name] = entries;
    } else if (field.repeated) {
      out[field.name] = ((value ?? []) as unknown[]).map((item) => scalarToJson(field, item));
    } else if (field.partOf || field.resolvedType instanceof protobuf.Type) {
      if (Object.hasOwn(record, field.name) && value !== null && value !== undefined) out[field.name] = scalarToJson(field, value);
    } else {
      out[field.name] = scalarToJson(field, value);
    }
  }
  return out;
}

/** A serialized tensorflow.serving.SignatureDefMap as TF Serving's JSON, entries in their serialized order. */
function signatureDefMapToJson(bytes: Uint8Array): JsonOut {
  const SignatureDef = metaGraphRoot().lookupType('tensorflow.SignatureDef');
  // No prototype: a signature named "__proto__" is just a signature.
  const entries = Object.create(null) as Record<string, JsonOut>;
  const reader = protobuf.Reader.create(bytes);
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 !== 1 || (tag & 7) !== 2) {
      reader.skipType(tag & 7);
      continue;
    }
    const { key, value } = readMapEntry(reader.bytes());
    entries[key] = messageToJson(SignatureDef, SignatureDef.decode(value));
  }
  return { signature_def: entries };
}

/** GET /v1/models/{name}[/versions/{v}]/metadata */
export function encodeMetadataResponse(spec: ResolvedSpec, signatureDefMap: Uint8Array): string {
  return stringifyCompact({
    model_spec: { name: spec.name, signature_name: spec.signatureName, version: String(spec.version) },
    metadata: { signature_def: signatureDefMapToJson(signatureDefMap) },
  });
}

/** GET /v1/models/{name}[/versions/{v}|/labels/{l}] */
export function encodeStatusResponse(statuses: readonly VersionStatus[]): string {
  return stringifyCompact({
    model_version_status: statuses.map((s) => ({
      version: String(s.version),
      state: s.state,
      status: { error_code: s.error.code, error_message: s.error.message },
    })),
  });
}
