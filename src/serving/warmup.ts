// Model warmup, as TF Serving does it: replay the PredictionLog records of
// <version dir>/assets.extra/tf_serving_warmup_requests (a TFRecord file)
// against a freshly loaded version before it is marked AVAILABLE, so the
// first real requests do not pay for TF's lazy initialization.
import fs from 'node:fs/promises';
import path from 'node:path';

import protobuf from 'protobufjs';

import { TfServeError } from '../engine/errors';
import type { Servable } from '../engine/servable';
import { type Target, classifyOn, multiInferenceOn, predictOn, regressOn } from './inference';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from './decode-limits';
import { decodeExamplesRequest, decodeMultiInferenceRequest, decodePredictRequest, readBytesField, requestBudget } from './wire';

export const WARMUP_FILE = path.join('assets.extra', 'tf_serving_warmup_requests');
/** TF Serving's cap on warmup records. */
const MAX_WARMUP_RECORDS = 1000;

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[i] = c >>> 0;
  }
  return table;
})();

function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = CRC32C_TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotate right by 15, add a constant. */
function maskedCrc32c(bytes: Uint8Array): number {
  const crc = crc32c(bytes);
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}

/** The records of a TFRecord file: uint64 length, masked crc of it, data, masked crc of the data (little-endian). */
export function readTfRecords(bytes: Uint8Array, source: string): Uint8Array[] {
  const records: Uint8Array[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  while (pos < bytes.length) {
    const fail = (why: string) => new TfServeError('DATA_LOSS', `${source}: record ${records.length} at byte ${pos}: ${why}`);
    if (pos + 12 > bytes.length) throw fail('truncated record header');
    const length = view.getBigUint64(pos, true);
    if (view.getUint32(pos + 8, true) !== maskedCrc32c(bytes.subarray(pos, pos + 8))) throw fail('corrupt length (CRC mismatch)');
    const start = pos + 12;
    const end = start + Number(length);
    if (length > BigInt(bytes.length) || end + 4 > bytes.length) throw fail(`truncated record (${length} bytes announced)`);
    const data = bytes.subarray(start, end);
    if (view.getUint32(end, true) !== maskedCrc32c(data)) throw fail('corrupt data (CRC mismatch)');
    records.push(data);
    pos = end + 4;
  }
  return records;
}

/** Encodes records as a TFRecord file (for tests and tools that write warmup files). */
export function writeTfRecords(records: Uint8Array[]): Uint8Array {
  const parts: Buffer[] = [];
  for (const data of records) {
    const header = Buffer.alloc(12);
    header.writeBigUInt64LE(BigInt(data.length), 0);
    header.writeUInt32LE(maskedCrc32c(header.subarray(0, 8)), 8);
    const footer = Buffer.alloc(4);
    footer.writeUInt32LE(maskedCrc32c(data), 0);
    parts.push(header, Buffer.from(data), footer);
  }
  return Buffer.concat(parts);
}

/** The log_type fields of tensorflow.serving.PredictionLog; each *Log message holds its request as field 1. */
const LOG_FIELDS: Record<number, LogKind> = { 2: 'classify', 3: 'regress', 4: 'multiInference', 6: 'predict' };
type LogKind = 'classify' | 'regress' | 'multiInference' | 'predict';

/** The log type of one PredictionLog record and its request's bytes, read in place. */
function splitLog(record: Uint8Array): { kind: LogKind; request: Uint8Array } | null {
  const reader = protobuf.Reader.create(record);
  let split: { kind: LogKind; request: Uint8Array } | null = null;
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const kind = LOG_FIELDS[tag >>> 3];
    if (kind !== undefined && (tag & 7) === 2) {
      split = { kind, request: readBytesField(reader.bytes(), 1) ?? new Uint8Array(0) };
    } else {
      reader.skipType(tag & 7);
    }
  }
  return split;
}

async function replay(target: Target, record: Uint8Array, index: number, limits: Readonly<DecodeLimits>): Promise<void> {
  let split;
  try {
    split = splitLog(record);
  } catch (error) {
    throw new TfServeError('DATA_LOSS', `record ${index} is not a PredictionLog: ${(error as Error).message}`);
  }
  if (!split) throw new TfServeError('INVALID_ARGUMENT', `record ${index}: unsupported log_type (warmup replays predict_log, classify_log, regress_log and multi_inference_log)`);
  // Each record decodes under a budget from its size, as a request would.
  const budget = requestBudget(split.request.length, limits);
  switch (split.kind) {
    case 'predict': {
      const request = decodePredictRequest(split.request, budget);
      await predictOn(target, { inputs: request.inputs, outputFilter: request.outputFilter, signatureName: request.modelSpec.signatureName });
      return;
    }
    case 'classify':
    case 'regress': {
      const { modelSpec, examples, context } = decodeExamplesRequest(
        split.kind === 'classify' ? 'tensorflow.serving.ClassificationRequest' : 'tensorflow.serving.RegressionRequest',
        split.request,
        budget,
      );
      const args = { examples, context, signatureName: modelSpec.signatureName };
      await (split.kind === 'classify' ? classifyOn(target, args) : regressOn(target, args));
      return;
    }
    case 'multiInference': {
      const request = decodeMultiInferenceRequest(split.request, budget);
      // Warmup runs on the version being loaded, whatever name the log recorded.
      const tasks = request.tasks.map((task) => ({ ...task, modelSpec: { ...task.modelSpec, name: target.name } }));
      await multiInferenceOn(target, { ...request, tasks });
      return;
    }
  }
}

export interface WarmupOptions {
  /** Limits each record decodes under, as a request of its size would (default DEFAULT_DECODE_LIMITS). */
  decodeLimits?: Readonly<DecodeLimits>;
  /**
   * --enable_signature_method_name_check: TF Serving's check is process-wide,
   * so its warmup replays are held to it like requests are.
   */
  methodNameCheck?: boolean;
}

/**
 * Replays the version's warmup file, if it has one. Any failing record fails
 * the load, as in TF Serving. Returns the number of records replayed.
 */
export async function runWarmup(servable: Servable, name: string, options: WarmupOptions = {}): Promise<number> {
  const limits = options.decodeLimits ?? DEFAULT_DECODE_LIMITS;
  const file = path.join(servable.exportDir, WARMUP_FILE);
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw new TfServeError('INVALID_ARGUMENT', `cannot read warmup file ${file}: ${(error as Error).message}`);
  }
  const records = readTfRecords(bytes, file);
  if (records.length > MAX_WARMUP_RECORDS) {
    throw new TfServeError('INVALID_ARGUMENT', `${file} has ${records.length} warmup records; at most ${MAX_WARMUP_RECORDS} are allowed`);
  }
  const target: Target = { servable, name, version: servable.version, methodNameCheck: options.methodNameCheck ?? false };
  for (let i = 0; i < records.length; i++) {
    try {
      await replay(target, records[i]!, i, limits);
    } catch (error) {
      const failure = TfServeError.from(error);
      throw new TfServeError(failure.code, `warmup of '${name}' version ${servable.version} failed on ${file} record ${i}: ${failure.message}`);
    }
  }
  return records.length;
}
