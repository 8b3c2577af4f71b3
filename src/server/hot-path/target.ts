// What a front-door job is told about the version the main thread leased.
import type { DecodeLimits } from '../../serving/decode-limits';
import type { Target } from '../../serving/inference';

/** What a gRPC job (grpcPredict, v2GrpcInfer) is given. */
export interface GrpcJobPayload {
  /** The serialized request as it arrived. */
  bytes: Uint8Array;
  limits: DecodeLimits;
  /** The largest response grpc-js will send. */
  maxResponseBytes: number;
  target: JobTarget;
}

/** A Target without its servable: the job gets the servable of the thread it runs on. */
export type JobTarget = Omit<Target, 'servable'>;

export function jobTarget(target: Target): JobTarget {
  return { name: target.name, version: target.version, methodNameCheck: target.methodNameCheck ?? false };
}

/**
 * `bytes` on an ArrayBuffer of their own, which can move to another thread:
 * encoders may hand out a view on a shared pool (Node's Buffer pool), whose
 * transfer would take the whole pool with it.
 */
export function ownedBytes(bytes: Uint8Array): Uint8Array {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) return bytes;
  const own = new Uint8Array(bytes.byteLength);
  own.set(bytes);
  return own;
}

/** A string as UTF-8 on an ArrayBuffer of its own. */
export function ownedUtf8(text: string): Uint8Array {
  const own = Buffer.from(new ArrayBuffer(Buffer.byteLength(text, 'utf8')));
  own.write(text, 'utf8');
  return own;
}
